import { consentSkipReason } from '#core/consent.ts';
import type { DestinationRoute } from '#destinations/types.ts';
import type { Ga4Config } from './index.ts';
import { ga4ClientId } from './client-id.ts';

/** GA4's name and routing rules (what ingest reads; the full definition is index.ts). */
export const ga4Route: DestinationRoute<Ga4Config> = {
  name: 'ga4',
  // timestamp_micros may be back-dated up to 72 hours; an hour of margin for queueing and clock skew.
  maxEventAgeMs: 72 * 3600_000 - 3600_000,

  skipReason(c) {
    // Analytics consent is enough for GA4; ad identifiers (user_data) additionally need ad_user_data (payload.ts).
    const consent = consentSkipReason(c.consent, { name: 'GA4', acceptsWithoutIdentifiers: true });
    if (consent) return consent;
    if (!ga4ClientId(c)) return 'GA4 needs a client ID: no _ga cookie, visitor ID or customer ID is known for this conversion';
    return undefined;
  },
};
