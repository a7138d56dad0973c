import type { Conversion } from '#core/conversion.ts';
import { sha256Hex } from '#core/normalize.ts';

/**
 * GA4 Measurement Protocol client_id (platforms.md §4, GA-ref / GA-send / GA-uid), apart from the payload builders
 * because ingest's routing rule (route.ts) needs it. GA4 requires one per request and attributes the event to that
 * browser. In order of preference:
 * 1. the visitor's own GA client ID, from the `_ga` cookie /collect captured — the event joins the visitor's
 *    GA history;
 * 2. a pseudo client ID derived from our visitor ID (we saw the browser, but GA was blocked or absent), stable, so a
 *    visitor's later conversions land on the same GA user;
 * 3. a pseudo client ID derived from the hashed customer ID (a conversion reported without any visit, e.g. a CRM
 *    sale), stable per customer.
 * Peers do the same (Segment and RudderStack fall back to their anonymous ID). Derived IDs keep GA's
 * `<number>.<number>` shape and are one-way hashes, so they carry no personal data. With none of the three the
 * conversion is skipped with the reason: GA4 cannot take an event without a client.
 */
export function ga4ClientId(c: Conversion): { clientId: string; derivedFrom?: 'visitor' | 'customer' } | undefined {
  if (c.clicks.gaClientId) return { clientId: c.clicks.gaClientId.value };
  if (c.visitorId) return { clientId: pseudoClientId(`visitor:${c.visitorId}`), derivedFrom: 'visitor' };
  if (c.user.externalId) return { clientId: pseudoClientId(`customer:${c.user.externalId}`), derivedFrom: 'customer' };
  return undefined;
}

/** `<10 digits>.<10 digits>`, like GA's own `<random>.<timestamp>`, from a one-way hash of the seed. */
function pseudoClientId(seed: string): string {
  const h = sha256Hex(seed);
  return `${parseInt(h.slice(0, 8), 16)}.${parseInt(h.slice(8, 16), 16)}`;
}
