import { unmatchableSkipReason } from '#destinations/skip-rules.ts';
import type { DestinationRoute } from '#destinations/types.ts';
import type { LinkedInConfig } from './index.ts';
import { linkedInUserIds } from './payload.ts';

const linkedInSkipReason = unmatchableSkipReason('LinkedIn', (c) => linkedInUserIds(c).length > 0 || Boolean(c.user.externalId), 'a hashed e-mail, li_fat_id, an IPv4 address or an external ID');

/** LinkedIn's name and routing rules (what ingest reads; the full definition is index.ts). */
export const linkedinRoute: DestinationRoute<LinkedInConfig> = {
  name: 'linkedin',
  // "Send an event within 90 days of when it happened; older ones are rejected" (Salesforce connector doc).
  maxEventAgeMs: 90 * 24 * 3600_000 - 3600_000,

  skipReason(c, config) {
    const base = linkedInSkipReason(c);
    if (base) return base;
    if (config && !config.rules[c.eventName]) return `LinkedIn: no conversion rule configured for ${c.eventName} in LINKEDIN_CONVERSION_RULES`;
    return undefined;
  },
};
