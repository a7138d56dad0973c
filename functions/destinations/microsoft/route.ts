import { consentSkipReason } from '#core/consent.ts';
import type { DestinationRoute } from '#destinations/types.ts';
import type { MicrosoftConfig } from './index.ts';
import { offlineCanMatch } from './offline/payload.ts';
import { uetCanMatch } from './payload.ts';

/**
 * Which Microsoft API receives conversions: the UET Conversions API (`capi`, default: server-side UET events, rolling
 * out per account — "Not everyone has this feature yet") or the offline-conversion upload of the Campaign Management
 * API (`offline`: developer token + OAuth, offline conversion goals; the only path that can retract a conversion).
 */
export const UPLOAD_API_SETTING = 'MICROSOFT_UPLOAD_API';

const HOUR = 3600_000;
/** CAPI: "eventTime must be within the last 7 days"; offline: "ConversionTime … within the last 90 days". An hour of margin each. */
export const CAPI_MAX_AGE_MS = 7 * 24 * HOUR - HOUR;
export const OFFLINE_MAX_AGE_MS = 90 * 24 * HOUR - HOUR;

/** Microsoft Advertising's name and routing rules (what ingest reads; the full definition is index.ts). */
export const microsoftRoute: DestinationRoute<MicrosoftConfig> = {
  name: 'microsoft',
  maxEventAgeMs: CAPI_MAX_AGE_MS,

  skipReason(c, config) {
    const mode = config?.uploadApi;
    if (c.adjustment) {
      if (mode === 'capi') {
        return `the UET Conversions API has no way to retract a conversion: the ${c.adjustment.kind} is recorded, not sent (${UPLOAD_API_SETTING}=offline retracts through offline conversion adjustments)`;
      }
      if (!c.adjustment.full && c.adjustment.remainingValue === undefined) return `a partial ${c.adjustment.kind} without the remaining value cannot restate the Microsoft conversion`;
      const name = c.adjustment.originalEventName ?? 'Purchase';
      if (config?.offline && !config.offline.goals[name]) return `no Microsoft offline conversion goal for "${name}" in MICROSOFT_CONVERSION_GOALS (the original was not uploaded)`;
      if (!offlineCanMatch(c)) return `Microsoft finds the conversion to adjust by msclkid or hashed e-mail / phone, and this ${c.adjustment.kind} carries none`;
      return undefined;
    }
    const consent = consentSkipReason(c.consent, { name: 'Microsoft Advertising', acceptsWithoutIdentifiers: false });
    if (consent) return consent;
    if (mode === 'offline') {
      if (!offlineCanMatch(c)) return 'Microsoft offline conversions need an msclkid or a hashed e-mail or phone; this conversion has none';
      if (!config!.offline!.goals[c.eventName]) return `no Microsoft offline conversion goal for "${c.eventName}" (add ${c.eventName}=<goal name> to MICROSOFT_CONVERSION_GOALS to send it)`;
      return undefined;
    }
    // CAPI, or not known yet (ingest): the looser of the two rules.
    return uetCanMatch(c) || offlineCanMatch(c) ? undefined : 'Microsoft needs an msclkid, a hashed e-mail or phone, the UET visitor ID or an external ID; this conversion has none';
  },
};
