import type { Conversion } from '#core/conversion.ts';
import { eventTimeMs } from '#destinations/event-fields.ts';
import { microsoftEmail, msclkidOf } from '../payload.ts';

/**
 * Microsoft Advertising offline conversions (Campaign Management API v13, REST; MicrosoftDocs/Advertising@a21125d
 * `campaign-management-service/{applyofflineconversions, offlineconversion, applyofflineconversionadjustments,
 * offlineconversionadjustment}.md`; platforms-more.md §5):
 * - `POST /CampaignManagement/v13/OfflineConversions/Apply` `{"OfflineConversions":[≤ 1,000]}`: `ConversionName` (the
 *   offline conversion goal's name), `ConversionTime` (UTC dateTime, within 90 days, after the click),
 *   `ConversionValue` (number), `ConversionCurrencyCode`, `MicrosoftClickId` (optional when a hashed e-mail or phone is
 *   given), `HashedEmailAddress` (SHA-256, Microsoft's e-mail form — the Enhanced conversions formatting rules),
 *   `HashedPhoneNumber` (SHA-256 of E.164 with '+');
 * - `POST /CampaignManagement/v13/OfflineConversionAdjustments/Apply` `{"OfflineConversionAdjustments":[…]}`:
 *   `AdjustmentType` `Retract` (a full refund or chargeback) or `Restate` (with `AdjustmentValue` and the required
 *   `AdjustmentCurrencyCode`), `AdjustmentTime` (not before the original), and the original's `ConversionName`,
 *   `ConversionTime` and click ID / hashes, which is how Microsoft finds the conversion to adjust.
 */
export interface OfflineIdentifiers {
  MicrosoftClickId?: string;
  HashedEmailAddress?: string;
  HashedPhoneNumber?: string;
}

export interface OfflineConversion extends OfflineIdentifiers {
  ConversionName: string;
  ConversionTime: string;
  ConversionValue?: number;
  ConversionCurrencyCode?: string;
}

export interface OfflineConversionAdjustment extends OfflineIdentifiers {
  AdjustmentType: 'Retract' | 'Restate';
  AdjustmentTime: string;
  AdjustmentValue?: number;
  AdjustmentCurrencyCode?: string;
  ConversionName: string;
  ConversionTime: string;
}

/** Microsoft's limit per request for both operations (above it: 5601 OfflineConversionsLimitExceeded). */
export const MAX_OFFLINE_CONVERSIONS = 1000;

export function offlineIdentifiers(c: Conversion): OfflineIdentifiers {
  const ids: OfflineIdentifiers = {};
  const msclkid = msclkidOf(c);
  if (msclkid) ids.MicrosoftClickId = msclkid;
  const email = microsoftEmail(c);
  if (email) ids.HashedEmailAddress = email;
  if (c.user.phoneE164) ids.HashedPhoneNumber = c.user.phoneE164;
  return ids;
}

export function offlineCanMatch(c: Conversion): boolean {
  return Object.keys(offlineIdentifiers(c)).length > 0;
}

/** UTC, as the API requires (the web UI's upload takes a time zone; the API does not). */
const utc = (ms: number) => new Date(ms).toISOString();

export function toOfflineConversion(c: Conversion, goalName: string, now: Date): OfflineConversion {
  const out: OfflineConversion = { ConversionName: goalName, ConversionTime: utc(eventTimeMs(c, now)), ...offlineIdentifiers(c) };
  if (c.value !== undefined) out.ConversionValue = c.value;
  if (c.currency) out.ConversionCurrencyCode = c.currency;
  return out;
}

/**
 * A refund or chargeback: a full one retracts the original, a partial one restates it to the remaining value. The
 * original's conversion time comes from the ledger (`adjustment.originalOccurredAt`, set before sending).
 */
export function toOfflineAdjustment(c: Conversion, goalName: string, now: Date): OfflineConversionAdjustment {
  const adj = c.adjustment!;
  const out: OfflineConversionAdjustment = {
    AdjustmentType: adj.full ? 'Retract' : 'Restate',
    AdjustmentTime: utc(eventTimeMs(c, now)),
    ConversionName: goalName,
    ConversionTime: adj.originalOccurredAt ?? '<original conversion time, from the ledger>',
    ...offlineIdentifiers(c),
  };
  if (!adj.full) {
    out.AdjustmentValue = adj.remainingValue ?? 0;
    if (c.currency) out.AdjustmentCurrencyCode = c.currency;
  }
  return out;
}
