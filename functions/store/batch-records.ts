import { gunzipSync, gzipSync } from 'node:zlib';
import { conversionPk, deliverySk, type LedgerItem } from './ledger-items.ts';

/**
 * Batch delivery records (no AWS SDK here): the delivered and dry-run outcomes of one sender batch as a few ledger
 * items instead of one per conversion — a batch of 1000 is a handful of write units, not 1000.
 *
 * `pk = B#<destination>#<yyyy-mm-ddThh>` (the UTC hour of the conversions' occurredAt: a reader that knows the
 * conversion finds the partition), `sk = <recorded at, ISO>#<batch ID>#<part>`, `d` = gzip of a JSON array of the
 * rows the sender would have written as `D#<destination>` items (eventId, status, eventName, attempts, reason,
 * signals, requestId, note, platformStatus, platformReasons, dry-run request, match record `m`), split in parts that
 * keep every item under DynamoDB's 400 KB. Exceptions (retrying, dead-lettered, skipped at the sender) stay `D#` rows.
 * Between a `D#` row and a batch record of the same conversion and destination, the newest (`updatedAt`) says where it is.
 */
export const BATCH_PREFIX = 'B#';
/** Room under DynamoDB's 400 KB item limit for the keys, `updatedAt`, `n` and `ttl` beside `d`. */
export const MAX_RECORD_BYTES = 390 * 1024;

/** The UTC hour of an instant (`2026-12-03T07`); an unparsable value is kept as written, so writer and reader agree. */
export function batchHour(occurredAt: string): string {
  const t = Date.parse(occurredAt);
  return Number.isNaN(t) ? occurredAt.slice(0, 13) : new Date(t).toISOString().slice(0, 13);
}

export const batchPk = (destination: string, occurredAt: string) => `${BATCH_PREFIX}${destination}#${batchHour(occurredAt)}`;
export const isBatchRecord = (item: { pk: string }) => item.pk.startsWith(BATCH_PREFIX);

/** One conversion's outcome as a batch record holds it: its `D#` row's attributes without keys, timestamps or TTL. */
export interface BatchEntry {
  eventId: string;
  status: string;
  [k: string]: unknown;
}

/**
 * The items recording some outcomes of one destination: one partition per hour of occurredAt (a batch can span hours),
 * as few parts as the size limit allows.
 */
export function batchRecordItems(
  destination: string,
  outcomes: { occurredAt: string; entry: BatchEntry }[],
  recordedAt: Date,
  batchId: string,
  ttl: number,
): Record<string, unknown>[] {
  const byHour = new Map<string, BatchEntry[]>();
  for (const { occurredAt, entry } of outcomes) {
    const pk = batchPk(destination, occurredAt);
    byHour.set(pk, [...(byHour.get(pk) ?? []), entry]);
  }
  const at = recordedAt.toISOString();
  return [...byHour].flatMap(([pk, entries]) =>
    compressedParts(entries).map(({ d, n }, part) => ({ pk, sk: `${at}#${batchId}#${part}`, d, n, updatedAt: at, ttl })),
  );
}

/** Halves the entries until each compressed part fits (JSON of similar rows compresses about tenfold). */
function compressedParts(entries: BatchEntry[]): { d: Buffer; n: number }[] {
  const d = gzipSync(JSON.stringify(entries));
  if (d.length <= MAX_RECORD_BYTES || entries.length === 1) return [{ d, n: entries.length }];
  const half = Math.ceil(entries.length / 2);
  return [...compressedParts(entries.slice(0, half)), ...compressedParts(entries.slice(half))];
}

/** The entries of a batch record, as stored (an unreadable record reads as none). */
export function batchEntries(item: LedgerItem): BatchEntry[] {
  if (!isBatchRecord(item) || !(item.d instanceof Uint8Array)) return [];
  try {
    const entries = JSON.parse(gunzipSync(item.d).toString('utf8'));
    return Array.isArray(entries) ? entries.filter((e) => typeof e?.eventId === 'string') : [];
  } catch {
    return [];
  }
}

/** The destination a batch record's partition belongs to (`B#<destination>#<hour>`). */
export const batchDestination = (pk: string) => pk.slice(BATCH_PREFIX.length, pk.lastIndexOf('#'));

/**
 * A batch record's entries as the `D#` rows they stand for (`C#<eventId>` / `D#<destination>`), so every reader merges
 * them with the conversion's own items (ledger-items.ts destinationRows: the newest row of a destination wins).
 * `batch` names the record that holds the row.
 */
export function batchRows(item: LedgerItem): LedgerItem[] {
  const destination = batchDestination(item.pk);
  return batchEntries(item).map(({ eventId, ...row }) => ({
    ...row,
    pk: conversionPk(eventId),
    sk: deliverySk(destination),
    updatedAt: item.updatedAt,
    ttl: item.ttl,
    batch: { pk: item.pk, sk: item.sk },
  }));
}

/**
 * A scan of the ledger grouped by conversion (`C#<eventId>` → its items and the rows decoded from batch records),
 * ready for destinationRows. Other items (source skips `S#…`) are left out.
 */
export function itemsByConversion(items: LedgerItem[]): Map<string, LedgerItem[]> {
  const byPk = new Map<string, LedgerItem[]>();
  const add = (item: LedgerItem) => byPk.set(item.pk, [...(byPk.get(item.pk) ?? []), item]);
  for (const item of items) {
    if (isBatchRecord(item)) batchRows(item).forEach(add);
    else if (item.pk.startsWith('C#')) add(item);
  }
  return byPk;
}
