import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { ConversionSchema, type Conversion } from '#core/conversion.ts';
import type { Route } from '#core/ingest.ts';
import { decode, decodeRoutes, encode, encodeRoutes } from './conversion-codec.ts';

/**
 * What an accepted conversion item holds about the conversion, in the form that keeps the item within one write unit
 * (≤ 1 KB for a Stripe purchase with ten destinations; ledger-items.ts has the whole item):
 * - `c` (binary): the Conversion (conversion-codec.ts), for `conversion-relay replay` and the senders' follow-ups;
 * - `r` (binary): its routes, in order (conversion-codec.ts);
 * - `skipped` (number, only when some route is skipped): how many destinations were skipped at ingest, so a scan
 *   (replay) finds those items without decoding every `r` (a count, not their names: it stays a few bytes);
 * - the description the operator's `status` shows and searches by, in clear: eventName, occurredAt, source,
 *   sourceEventId, orderId, and a refund's or chargeback's adjustment, originalOrderId, originalEventId.
 * Items written before this form hold `conversion` (the Conversion as JSON) and `routes` (JSON) instead: every
 * reader goes through `conversionOf` and `routesOf`, which read both.
 */
type Item = Record<string, AttributeValue>;
const S = (s: string): AttributeValue => ({ S: s });

/** The conversion item's attributes for `conversion` and its `routes` (the item's key, status and times are the caller's). */
export function conversionItemAttributes(conversion: Conversion, routes: Route[]): Item {
  const skipped = routes.filter((r) => r.status === 'skipped').length;
  return {
    ...describe(conversion),
    r: { B: encodeRoutes(routes) },
    ...(skipped ? { skipped: { N: String(skipped) } } : {}),
    c: { B: encode(conversion) },
  };
}

/** What a conversion is (for `status` by order ID or source event ID, and for the operator's tables). */
function describe(c: Conversion): Item {
  const item: Item = { eventName: S(c.eventName), occurredAt: S(c.occurredAt), source: S(c.source.name), sourceEventId: S(c.source.eventId) };
  if (c.orderId) item.orderId = S(c.orderId);
  // A refund or chargeback points at the conversion it corrects.
  if (c.adjustment) {
    item.adjustment = S(c.adjustment.kind);
    if (c.adjustment.originalOrderId) item.originalOrderId = S(c.adjustment.originalOrderId);
    if (c.adjustment.originalEventId) item.originalEventId = S(c.adjustment.originalEventId);
  }
  return item;
}

/** The attributes that carry a Conversion (either form): copied onto the rows made from a conversion item. */
export const CONVERSION_ATTRIBUTES = ['c', 'conversion'] as const;

/**
 * The Conversion an item (as the document client returns it) carries — the binary `c`, or the JSON `conversion` of
 * older items and rows — or undefined when it carries none. Throws when what it carries is not a valid Conversion.
 */
export function conversionOf(item: Record<string, unknown> | undefined): Conversion | undefined {
  if (item?.c instanceof Uint8Array) return decode(item.c);
  if (typeof item?.conversion === 'string') return ConversionSchema.parse(JSON.parse(item.conversion));
  return undefined;
}

/** Whether an item carries a Conversion (without decoding it). */
export const carriesConversion = (item: Record<string, unknown> | undefined) => item?.c instanceof Uint8Array || typeof item?.conversion === 'string';

/**
 * The routes stored on an accepted conversion item: the binary `r` (throws when it is corrupt), or the JSON `routes`
 * of older items (an unreadable or missing value reads as none, as it always did).
 */
export function routesOf(item: Record<string, unknown> | undefined): Route[] {
  if (item?.r instanceof Uint8Array) return decodeRoutes(item.r);
  if (typeof item?.routes !== 'string') return [];
  try {
    const routes = JSON.parse(item.routes);
    return Array.isArray(routes) ? routes : [];
  } catch {
    return [];
  }
}
