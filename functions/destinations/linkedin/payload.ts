import type { Conversion } from '#core/conversion.ts';
import { decimalString, eventTimeMs, isIpv4 } from '#destinations/event-fields.ts';

/**
 * LinkedIn Conversions API element (`POST /rest/conversionEvents`; learn.microsoft.com/en-us/linkedin/marketing/
 * integrations/ads-reporting/conversions-api; platforms-more.md §1):
 * - `conversion` = `urn:lla:llaPartnerConversion:{rule id}`: the rule fixes the event type, so each event name maps
 *   to its own rule (LINKEDIN_CONVERSION_RULES);
 * - `conversionHappenedAt` in Unix **milliseconds**; `conversionValue.amount` a decimal **string**;
 * - `eventId` = the Conversion's event ID, the one the Insight Tag sends (LinkedIn keeps the tag's copy);
 * - `user.userIds`: `SHA256_EMAIL` (our trim + lowercase hash), `LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID` (the
 *   `li_fat_id` parameter / cookie, in clear), `PLAINTEXT_IP_ADDRESS` (IPv4 only). Always present, `[]` when empty
 *   (omitting it draws 422). LinkedIn takes no phone; `userInfo` wants names in clear, which the relay never keeps,
 *   so it is not sent; `externalIds` (202410+) takes the hashed external ID.
 */
export interface LinkedInElement {
  conversion: string;
  conversionHappenedAt: number;
  conversionValue?: { currencyCode: string; amount: string };
  eventId: string;
  user: { userIds: { idType: string; idValue: string }[]; externalIds?: string[] };
}

export function linkedInUserIds(c: Conversion): { idType: string; idValue: string }[] {
  const ids: { idType: string; idValue: string }[] = [];
  if (c.user.email) ids.push({ idType: 'SHA256_EMAIL', idValue: c.user.email });
  if (c.clicks.liFatId) ids.push({ idType: 'LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID', idValue: c.clicks.liFatId.value });
  if (c.user.ip && isIpv4(c.user.ip)) ids.push({ idType: 'PLAINTEXT_IP_ADDRESS', idValue: c.user.ip });
  return ids;
}

export function toLinkedInElement(c: Conversion, ruleId: string, now: Date): LinkedInElement {
  const element: LinkedInElement = {
    conversion: `urn:lla:llaPartnerConversion:${ruleId}`,
    conversionHappenedAt: eventTimeMs(c, now),
    eventId: String(c.eventId),
    user: { userIds: linkedInUserIds(c) },
  };
  // Both fields are required once conversionValue is present.
  if (c.value !== undefined && c.currency) element.conversionValue = { currencyCode: c.currency, amount: decimalString(c.value) };
  // "Only one external ID is used" (LinkedIn custom matching identifiers).
  if (c.user.externalId) element.user.externalIds = [c.user.externalId];
  return element;
}
