import type { Conversion } from '#core/conversion.ts';
import { decimalString, eventTimeMs, isIpv4 } from '#destinations/event-fields.ts';

/**
 * X Conversion API conversion (`POST /12/measurement/conversions/{pixel_id}`; xdevplatform/docs
 * x-ads-api/measurement/web-conversions.mdx = docs.x.com; platforms-more.md §6):
 * - `conversion_time`: ISO 8601 with milliseconds and `Z` (X answers "Expected Time in yyyy-MM-ddTHH:mm:ss.SSSZ" to
 *   anything else);
 * - `event_id`: the base-36 ID of the event made in Events Manager (one per conversion type: X_EVENT_IDS), not the
 *   per-occurrence key; that is `conversion_id` = the Conversion's event ID, the one the X Pixel sends as
 *   `conversion_id` (dedup within 48 h, same event);
 * - `identifiers`: one object per identifier, as X's example: `{twclid}` (in clear: a hashed twclid never matches,
 *   rudderlabs/rudder-transformer#2605), `{hashed_email}` (SHA-256 of trim + lowercase: our `email`),
 *   `{hashed_phone_number}` (SHA-256 of E.164 with '+': our `phoneE164`), and IP + user agent together in one
 *   object (apart, they draw "At least one user identifier must be provided": rudder-transformer#3909). IP only in
 *   dotted-decimal IPv4, the one form X documents;
 * - `value` a decimal string ("49.99", X's examples), `price_currency` ISO 4217, `number_items` > 0, `contents`.
 */
export interface XConversion {
  conversion_time: string;
  event_id: string;
  identifiers: Record<string, string>[];
  conversion_id: string;
  value?: string;
  price_currency?: string;
  number_items?: number;
  contents?: { content_id: string; content_name?: string; content_price?: number; num_items: number }[];
}

/** The identifiers X matches on by themselves; IP and user agent count only alongside one of them. */
function matchIdentifiers(c: Conversion): Record<string, string>[] {
  const ids: Record<string, string>[] = [];
  if (c.clicks.twclid) ids.push({ twclid: c.clicks.twclid.value });
  if (c.user.email) ids.push({ hashed_email: c.user.email });
  if (c.user.phoneE164) ids.push({ hashed_phone_number: c.user.phoneE164 });
  return ids;
}

export function xIdentifiers(c: Conversion): Record<string, string>[] {
  const ids = matchIdentifiers(c);
  if (ids.length === 0) return ids;
  const device: Record<string, string> = {};
  if (c.user.ip && isIpv4(c.user.ip)) device.ip_address = c.user.ip;
  if (c.user.userAgent) device.user_agent = c.user.userAgent;
  if (Object.keys(device).length) ids.push(device);
  return ids;
}

/**
 * X needs a twclid, a hashed e-mail or a hashed phone: its troubleshooting table names "hashed email or X click ID"
 * for the missing-identifier error, and its GTM guide says IP or user agent alone is not enough.
 */
export function xCanMatch(c: Conversion): boolean {
  return matchIdentifiers(c).length > 0;
}

export function toXConversion(c: Conversion, eventId: string, now: Date): XConversion {
  const conversion: XConversion = {
    conversion_time: new Date(eventTimeMs(c, now)).toISOString(),
    event_id: eventId,
    identifiers: xIdentifiers(c),
    conversion_id: String(c.eventId),
  };
  if (c.value !== undefined) conversion.value = decimalString(c.value);
  if (c.currency) conversion.price_currency = c.currency;
  if (c.contents?.length) {
    conversion.number_items = c.contents.reduce((n, item) => n + (item.quantity ?? 1), 0);
    conversion.contents = c.contents.map((item) => {
      const content: NonNullable<XConversion['contents']>[number] = { content_id: item.id, num_items: item.quantity ?? 1 };
      if (item.name) content.content_name = item.name;
      if (item.price !== undefined) content.content_price = item.price;
      return content;
    });
  }
  return conversion;
}
