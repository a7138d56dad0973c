import type { Route } from '#core/ingest.ts';

/**
 * The ledger's item shapes, shared by the ingest adapter, the senders, the operator CLI and the tests (no AWS SDK here).
 *
 * Per conversion, one item written by ingest, `C#<eventId>` / `conversion`:
 * - `status: 'claimed'` with `inv` (the claiming invocation) and `leaseUntil` (ms) while an ingest holds it; a
 *   duplicate delivery meanwhile is told to retry, and a claim whose lease ran out (its invocation died) is taken over;
 * - `status: 'accepted'` once every message is published: `routes` (JSON: each destination queued, or skipped with
 *   the reason), what the conversion is (eventName, orderId, source, …) and the Conversion itself (`conversion`, JSON:
 *   hashes, IP and user agent only, as on the queues) for `conversion-relay replay`.
 * Per conversion × destination, the sender's outcome: delivered and dry-run ones in batch records (batch-records.ts,
 * `B#<destination>#<hour>`, many conversions per item), the rest (retrying, dead-lettered, skipped at the sender) one
 * item `C#<eventId>` / `D#<destination>`: status, attempts, last error, signals, match record. A destination's state
 * is its newest such row (batch records read as `D#` rows), else its route on the conversion item (queued, or skipped
 * at ingest).
 */
export const CONVERSION_SK = 'conversion';
/** How long the ledger keeps what happened (TTL): long enough to answer for a year of conversions, and their refunds. */
export const LEDGER_RETENTION_DAYS = 400;
export const conversionPk = (eventId: string) => `C#${eventId}`;
export const deliverySk = (destination: string) => `D#${destination}`;

export type LedgerItem = Record<string, any> & { pk: string; sk: string; status: string };

/** The routes stored on an accepted conversion item (an unreadable or missing value reads as none). */
export function routesOf(item: Record<string, unknown> | undefined): Route[] {
  if (typeof item?.routes !== 'string') return [];
  try {
    const routes = JSON.parse(item.routes);
    return Array.isArray(routes) ? routes : [];
  } catch {
    return [];
  }
}

/** What a conversion is, copied onto every destination row synthesized from its conversion item. */
const DESCRIPTION = ['eventName', 'orderId', 'occurredAt', 'source', 'sourceEventId', 'adjustment', 'originalOrderId', 'originalEventId'] as const;

/**
 * Each destination's state of one conversion, from the items under its `C#<eventId>` key (any order): the sender's
 * `D#` row where there is one, else a row made from the route on the conversion item (with the conversion's
 * description and its replayable Conversion). Rows of ledgers written before the conversion item existed pass as they are.
 */
export function destinationRows(items: LedgerItem[]): LedgerItem[] {
  const head = items.find((i) => i.sk === CONVERSION_SK);
  const rows = new Map<string, LedgerItem>();
  for (const r of routesOf(head)) {
    rows.set(deliverySk(r.destination), {
      pk: head!.pk,
      sk: deliverySk(r.destination),
      status: r.status,
      reason: r.status === 'skipped' ? r.reason : undefined,
      attempts: 0,
      createdAt: head!.createdAt,
      updatedAt: head!.updatedAt,
      conversion: head!.conversion,
      // Made from the route: no item of its own in the table (yet).
      fromRoute: true,
    });
  }
  for (const item of items) {
    if (!item.sk.startsWith('D#')) continue;
    // A sender's row and batch records (batch-records.ts) of one destination: the newest says where it is now.
    const seen = rows.get(item.sk);
    if (seen && !seen.fromRoute && String(seen.updatedAt ?? '') > String(item.updatedAt ?? '')) continue;
    // The sender's row says where the conversion is now; the conversion item still holds what it was.
    rows.set(item.sk, { ...item, conversion: item.conversion ?? head?.conversion });
  }
  return [...rows.values()].map((row) => {
    const described: LedgerItem = { ...row };
    for (const k of DESCRIPTION) described[k] ??= head?.[k];
    return described;
  });
}

/** The ingest's own state of a conversion when no destination has one yet (a claim whose ingest did not finish). */
export function pendingClaim(items: LedgerItem[]): LedgerItem | undefined {
  const head = items.find((i) => i.sk === CONVERSION_SK);
  return head?.status === 'claimed' ? head : undefined;
}
