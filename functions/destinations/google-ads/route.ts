import { consentSkipReason, consentTier } from '#core/consent.ts';
import type { DestinationRoute } from '#destinations/types.ts';
import type { GoogleAdsConfig } from './index.ts';
import { clickIdOf, googleUserIdentifiers } from './payload.ts';

/** Google Ads' name and routing rules (what ingest reads; the full definition is index.ts). */
export const googleAdsRoute: DestinationRoute<GoogleAdsConfig> = {
  name: 'google-ads',
  // Google keeps clicks for at most 90 days (the longest click-through window); keep an hour of margin.
  maxEventAgeMs: 90 * 24 * 3600_000 - 3600_000,

  skipReason(c, config) {
    if (c.adjustment) {
      if (!c.adjustment.full && c.adjustment.remainingValue === undefined) {
        return `a partial ${c.adjustment.kind} without the remaining value cannot restate the Google Ads conversion`;
      }
      const name = c.adjustment.originalEventName;
      if (config && name && !config.conversionActions[name]) return `no Google Ads conversion action for "${name}" (the original conversion was not uploaded)`;
      // The Data Manager API takes an adjustment only with "all fields required for an event, including at least one
      // identifier" (events/google-ads/conversion-adjustments).
      if (config?.uploadApi !== 'google-ads-api' && !clickIdOf(c) && googleUserIdentifiers(c).length === 0) {
        return `the Data Manager API adjusts a conversion only with at least one identifier, and this ${c.adjustment.kind} carries no Google click ID, hashed e-mail or phone (with ad_user_data consent)`;
      }
      return undefined;
    }
    // A retraction (above) concerns an upload already made; a new conversion needs the visitor's consent.
    const consent = consentSkipReason(c.consent, { name: 'Google Ads', acceptsWithoutIdentifiers: false });
    if (consent) return consent;
    if (!clickIdOf(c) && googleUserIdentifiers(c).length === 0) {
      return consentTier(c.consent).google.adUserData === 'DENIED'
        ? 'no Google click ID (gclid / gbraid / wbraid), and ad_user_data consent denied: nothing Google Ads may match'
        : 'no Google click ID (gclid / gbraid / wbraid) and no hashed e-mail or phone: nothing Google Ads could match';
    }
    if (config && !config.conversionActions[c.eventName]) {
      return `no Google Ads conversion action for "${c.eventName}" (add ${c.eventName}=<action ID> to GOOGLE_ADS_CONVERSION_ACTIONS to send it)`;
    }
    return undefined;
  },
};
