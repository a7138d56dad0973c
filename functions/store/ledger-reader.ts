import { BatchGetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { batchPk, batchRows } from './batch-records.ts';
import { CONVERSION_SK, conversionPk, deliverySk, routesOf, type LedgerItem } from './ledger-items.ts';

/**
 * Reading a conversion's ledger state, shared by the senders (a refund's original, a status check's conversions) and
 * the operator CLI (`status`, `replay`): its conversion item, its `D#` rows, and its rows in the batch records of the
 * hour it occurred (batch-records.ts), found from the conversion item's occurredAt. Rows written by older versions
 * (one `D#` per conversion and destination) are among the `D#` rows and read the same.
 */

/** Clock skew allowed between a source's or an ingest's clock and a sender's. */
const SKEW_MS = 5 * 60_000;
/** BatchGetItem takes 100 keys. */
const BATCH_GET_KEYS = 100;

export interface ReadOptions {
  /** Only these destinations (a BatchGetItem of the conversion item and their `D#` rows); else every destination routed (a Query). */
  destinations?: string[];
  /** Strongly consistent, so an outcome recorded a moment ago is seen. */
  consistent?: boolean;
}

/**
 * Each conversion's items (event ID → its conversion item, `D#` rows and rows decoded from batch records), ready for
 * destinationRows; an event ID the ledger does not know maps to an empty list.
 */
export async function readConversions(ddb: DynamoDBDocumentClient, table: string, eventIds: string[], opts: ReadOptions = {}): Promise<Map<string, LedgerItem[]>> {
  const unique = [...new Set(eventIds)];
  const found = new Map<string, LedgerItem[]>(unique.map((id) => [id, []]));
  const add = (item: LedgerItem) => found.get(item.pk.slice(2))?.push(item);
  if (opts.destinations) {
    const keys = unique.flatMap((id) => [{ pk: conversionPk(id), sk: CONVERSION_SK }, ...opts.destinations!.map((d) => ({ pk: conversionPk(id), sk: deliverySk(d) }))]);
    (await batchGetAll(ddb, table, keys, opts.consistent)).forEach(add);
  } else {
    for (const id of unique) (await queryAll(ddb, { TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': conversionPk(id) }, ConsistentRead: opts.consistent })).forEach(add);
  }

  // The batch partitions to read: one per destination and hour, from the earliest of its conversions' acceptance on.
  const partitions = new Map<string, { ids: Set<string>; from?: string }>();
  for (const [id, items] of found) {
    const head = items.find((i) => i.sk === CONVERSION_SK);
    if (typeof head?.occurredAt !== 'string') continue;
    // Recorded after both the event and (but for an ingest that crashed after publishing) its acceptance.
    const earliest = Math.min(...[head.occurredAt, head.createdAt].map((t) => Date.parse(String(t))).filter((t) => !Number.isNaN(t)));
    const from = Number.isFinite(earliest) ? new Date(earliest - SKEW_MS).toISOString() : undefined;
    for (const destination of opts.destinations ?? [...new Set(routesOf(head).map((r) => r.destination))]) {
      const pk = batchPk(destination, head.occurredAt);
      const p = partitions.get(pk) ?? { ids: new Set<string>(), from };
      p.ids.add(id);
      if (p.from !== undefined && (from === undefined || from < p.from)) p.from = from;
      partitions.set(pk, p);
    }
  }
  for (const [pk, { ids, from }] of partitions) {
    const records = await queryAll(ddb, {
      TableName: table,
      KeyConditionExpression: from ? 'pk = :pk AND sk >= :from' : 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk, ...(from && { ':from': from }) },
      ConsistentRead: opts.consistent,
    });
    for (const record of records) for (const row of batchRows(record)) if (ids.has(row.pk.slice(2))) add(row);
  }
  return found;
}

async function queryAll(ddb: DynamoDBDocumentClient, input: ConstructorParameters<typeof QueryCommand>[0]): Promise<LedgerItem[]> {
  const items: LedgerItem[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const res = await ddb.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
    items.push(...((res.Items ?? []) as LedgerItem[]));
    start = res.LastEvaluatedKey;
  } while (start);
  return items;
}

/** BatchGetItem in chunks of 100 keys, retrying what DynamoDB leaves unprocessed. */
async function batchGetAll(ddb: DynamoDBDocumentClient, table: string, allKeys: Record<string, unknown>[], consistent?: boolean): Promise<LedgerItem[]> {
  const items: LedgerItem[] = [];
  for (let i = 0; i < allKeys.length; i += BATCH_GET_KEYS) {
    let keys = allKeys.slice(i, i + BATCH_GET_KEYS);
    for (let attempt = 0; keys.length > 0; attempt++) {
      if (attempt === 5) throw new Error(`ledger: ${keys.length} keys left unprocessed after 5 attempts`);
      if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      const res = await ddb.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: keys, ConsistentRead: consistent } } }));
      items.push(...((res.Responses?.[table] ?? []) as LedgerItem[]));
      keys = (res.UnprocessedKeys?.[table]?.Keys ?? []) as Record<string, unknown>[];
    }
  }
  return items;
}
