import { CONVERSION_ATTRIBUTES, carriesConversion, routesOf } from './conversion-item.ts';

export { routesOf };

/**
 * The ledger's item shapes, shared by the ingest adapter, the senders, the operator CLI and the tests (no AWS SDK here).
 *
 * Per conversion, one item written by ingest in one conditional put (the commit), `C#<eventId>` / `conversion`,
 * `status: 'accepted'`: `inv` (the committing invocation), its routes (each destination queued, or skipped with the
 * reason), what the conversion is (eventName, orderId, source, …) and the Conversion itself (hashes, IP and user
 * agent only, as on the queues), in the compact form of conversion-item.ts (one write unit; older items: `routes`
 * and `conversion` JSON, read alike). The ledger's stream carries its INSERT to the fan-out, which queues it for each
 * queued route; `conversion-relay replay` reads it too. (Ledgers written before the outbox may still hold
 * `status: 'claimed'` items of an ingest that never finished.)
 * Per conversion × destination, the sender's outcome: delivered and dry-run ones in batch records (batch-records.ts,
 * `B#<destination>#<hour>`, many conversions per item), the rest (retrying, dead-lettered, skipped at the sender) one
 * item `C#<eventId>` / `D#<destination>`: status, attempts, last error, signals, match record. A destination's state
 * is its newest such row (batch records read as `D#` rows), else its route on the conversion item (queued, or skipped
 * at ingest).
 */
export const CONVERSION_SK = 'conversion';
/** The status of a committed conversion item (the ledger stream's event filter selects on it). */
export const ACCEPTED_STATUS = 'accepted';
/** How long the ledger keeps what happened (TTL): long enough to answer for a year of conversions, and their refunds. */
export const LEDGER_RETENTION_DAYS = 400;
export const conversionPk = (eventId: string) => `C#${eventId}`;
export const deliverySk = (destination: string) => `D#${destination}`;

export type LedgerItem = Record<string, any> & { pk: string; sk: string; status: string };

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
      // Written once, at acceptance (older items kept a createdAt equal to it).
      createdAt: head!.createdAt ?? head!.updatedAt,
      updatedAt: head!.updatedAt,
      ...conversionAttributes(head),
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
    rows.set(item.sk, carriesConversion(item) ? item : { ...item, ...conversionAttributes(head) });
  }
  return [...rows.values()].map((row) => {
    const described: LedgerItem = { ...row };
    for (const k of DESCRIPTION) described[k] ??= head?.[k];
    return described;
  });
}

/** The attributes carrying an item's Conversion (read with conversionOf), to copy onto a row made from it. */
function conversionAttributes(item: LedgerItem | undefined): Partial<LedgerItem> {
  return Object.fromEntries(CONVERSION_ATTRIBUTES.filter((k) => item?.[k] !== undefined).map((k) => [k, item![k]]));
}

/** The ingest's own state of a conversion when no destination has one yet (a claim whose ingest did not finish). */
export function pendingClaim(items: LedgerItem[]): LedgerItem | undefined {
  const head = items.find((i) => i.sk === CONVERSION_SK);
  return head?.status === 'claimed' ? head : undefined;
}
