import { BatchGetCommand, GetCommand, QueryCommand, ScanCommand, UpdateCommand, type ScanCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Conversion } from '../../functions/core/conversion.ts';
import { BATCH_PREFIX, batchRows, isBatchRecord } from '../../functions/store/batch-records.ts';
import { conversionOf } from '../../functions/store/conversion-item.ts';
import { CONVERSION_SK, destinationRows, pendingClaim, routesOf, type LedgerItem } from '../../functions/store/ledger-items.ts';
import { readConversions } from '../../functions/store/ledger-reader.ts';
import { publishTo } from '../../functions/store/queues.ts';
import { OperatorError, requireLedger, type Target } from './target.ts';

export type { LedgerItem };

/** Every item of the ledger matching a filter, page by page. */
async function* scan(target: Target, input: Omit<ScanCommandInput, 'TableName' | 'ExclusiveStartKey'>): AsyncGenerator<LedgerItem[]> {
  let start: Record<string, any> | undefined;
  do {
    const res = await target.ddb.send(new ScanCommand({ ...input, TableName: requireLedger(target), ExclusiveStartKey: start }));
    yield (res.Items ?? []) as LedgerItem[];
    start = res.LastEvaluatedKey;
  } while (start);
}

export interface StatusReport {
  /**
   * Conversions found, each with one row per destination (the sender's row, else the route ingest recorded); a
   * conversion whose ingest has not finished (claimed only) has a single row with status `claimed`.
   */
  conversions: { eventId: string; rows: LedgerItem[] }[];
  /** Source events that were verified but not conversions (skipped with a reason). */
  sourceSkips: LedgerItem[];
}

/** All items of one conversion: its conversion item, its senders' rows and its rows in their batch records. */
async function conversionItems(target: Target, table: string, eventId: string): Promise<LedgerItem[]> {
  return (await readConversions(target.ddb, table, [eventId])).get(eventId) ?? [];
}

/** What the operator sees per destination; a claim that never finished shows as such. */
function statusRows(items: LedgerItem[]): LedgerItem[] {
  const rows = destinationRows(items);
  const claim = pendingClaim(items);
  return (rows.length ? rows : claim ? [{ ...claim, sk: 'D#(ingest)', reason: `claimed by ${claim.inv}; not enqueued yet` }] : []).sort((a, b) => a.sk.localeCompare(b.sk));
}

/**
 * What happened to an event, found by its conversion event ID (one query), else by order ID or source event ID (a
 * scan for the conversion items that match, then one query each: fine for an operator's question, not for a hot path).
 */
export async function lookupStatus(target: Target, id: string, sources: readonly string[]): Promise<StatusReport> {
  const table = requireLedger(target);
  const conversions: StatusReport['conversions'] = [];
  const direct = await conversionItems(target, table, id);
  if (direct.length) conversions.push({ eventId: id, rows: statusRows(direct) });
  else {
    const pks = new Set<string>();
    for await (const page of scan(target, {
      // The conversion item carries the description; rows of older ledgers (one per destination) carried it too.
      FilterExpression: 'begins_with(pk, :c) AND (orderId = :id OR sourceEventId = :id)',
      ProjectionExpression: 'pk',
      ExpressionAttributeValues: { ':c': 'C#', ':id': id },
    })) {
      for (const row of page) pks.add(row.pk);
    }
    for (const pk of pks) conversions.push({ eventId: pk.slice(2), rows: statusRows(await conversionItems(target, table, pk.slice(2))) });
  }
  const sourceSkips: LedgerItem[] = [];
  for (const s of sources) {
    const res = await target.ddb.send(new GetCommand({ TableName: table, Key: { pk: `S#${s}#${id}`, sk: 'source' } }));
    if (res.Item) sourceSkips.push(res.Item as LedgerItem);
  }
  return { conversions, sourceSkips };
}

export interface ReplayOptions {
  destinations: string[];
  statuses: string[];
  /** Only rows whose reason or error contains this text. */
  reasonContains?: string;
  /** List what would be replayed; send nothing. */
  dryRun?: boolean;
  progress?: (done: number, found: number) => void;
}

export interface ReplayResult {
  found: number;
  replayed: number;
  /** Rows that matched but hold no readable Conversion (written before replay existed, or delivered since). */
  notReplayable: number;
  byDestination: Record<string, number>;
  rows: LedgerItem[];
}

export const REPLAYABLE_STATUSES = ['skipped', 'dry_run', 'dead_lettered'] as const;

/**
 * Puts conversions the ledger shows as skipped, dry-run or dead-lettered back on their destination's queue, after
 * the cause (credentials, a platform setting, a code fix) has been dealt with. The sender checks again and the
 * platforms de-duplicate on the event ID, so replaying a conversion twice still counts it once.
 */
export async function replay(target: Target, opts: ReplayOptions): Promise<ReplayResult> {
  for (const s of opts.statuses) {
    if (!(REPLAYABLE_STATUSES as readonly string[]).includes(s)) {
      throw new OperatorError(`Cannot replay status "${s}": choose from ${REPLAYABLE_STATUSES.join(', ')} (queued and retrying ones are still on their way).`);
    }
  }
  // Candidates: senders' rows in one of the statuses, conversion items with a route skipped at ingest (their
  // `skipped` count; older items: in the routes' JSON text) and, for dry-run, the destinations' batch records. Then
  // each candidate's state is read whole, as `status` shows it: the destination's newest row decides, else its route.
  const values: Record<string, unknown> = { ':c': 'C#', ':conv': CONVERSION_SK, ':skipped': '"status":"skipped"' };
  const statusKeys = opts.statuses.map((s, i) => ((values[`:s${i}`] = s), `:s${i}`));
  const destKeys = opts.destinations.map((d, i) => ((values[`:d${i}`] = `D#${d}`), `:d${i}`));
  // Batch records hold delivered and dry-run outcomes only.
  const batchKeys = opts.statuses.includes('dry_run') ? opts.destinations.map((d, i) => ((values[`:b${i}`] = `${BATCH_PREFIX}${d}#`), `:b${i}`)) : [];
  const candidates = new Set<string>();
  for await (const page of scan(target, {
    FilterExpression: [
      `(begins_with(pk, :c) AND ((#status IN (${statusKeys.join(', ')}) AND sk IN (${destKeys.join(', ')})) OR (sk = :conv AND (attribute_exists(skipped) OR contains(routes, :skipped)))))`,
      ...batchKeys.map((k) => `begins_with(pk, ${k})`),
    ].join(' OR '),
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: values,
  })) {
    for (const item of page) {
      if (isBatchRecord(item)) for (const row of batchRows(item)) opts.statuses.includes(row.status) && candidates.add(row.pk.slice(2));
      else if (item.sk !== CONVERSION_SK || routesNeedRows(item, opts.destinations)) candidates.add(item.pk.slice(2));
    }
  }
  const table = requireLedger(target);
  const matches: LedgerItem[] = [];
  for (const items of (await readConversions(target.ddb, table, [...candidates], { destinations: opts.destinations })).values()) {
    for (const row of destinationRows(items)) {
      if (!opts.statuses.includes(row.status) || !opts.destinations.includes(row.sk.slice(2))) continue;
      const why = `${row.reason ?? ''} ${row.errorCode ?? ''} ${row.errorMessage ?? ''}`;
      if (opts.reasonContains && !why.toLowerCase().includes(opts.reasonContains.toLowerCase())) continue;
      matches.push(row);
    }
  }
  return resend(target, matches, opts);
}

/**
 * The fan-out's work done again for conversions whose stream records ended on the fan-out's failure queue (its
 * retries ran out, e.g. a queue gone for longer than that): each destination still `queued` on the conversion item
 * with no sender row yet is put on its queue from the item. A message that did reach the queue meanwhile is sent
 * twice; the platforms keep one (the event ID).
 */
export async function replayFanOut(target: Target, eventIds: string[], opts: Pick<ReplayOptions, 'destinations' | 'dryRun' | 'progress'>): Promise<ReplayResult> {
  const table = requireLedger(target);
  const matches: LedgerItem[] = [];
  // Read whole, batch records included: a destination whose sender recorded an outcome in one is not queued again.
  const found = await readConversions(target.ddb, table, eventIds, { destinations: opts.destinations, consistent: true });
  for (const id of eventIds) {
    const items = found.get(id) ?? [];
    if (!items.some((i) => i.sk === CONVERSION_SK)) throw new OperatorError(`No conversion ${id} in the ledger (was it accepted? \`status ${id}\` says what is known).`);
    for (const row of destinationRows(items)) if (row.fromRoute && row.status === 'queued' && opts.destinations.includes(row.sk.slice(2))) matches.push(row);
  }
  return resend(target, matches, opts);
}

/** Puts each matched row's Conversion on its destination's queue and marks the row queued (unless it moved on). */
async function resend(target: Target, matches: LedgerItem[], opts: Pick<ReplayOptions, 'dryRun' | 'progress'>): Promise<ReplayResult> {
  const result: ReplayResult = { found: matches.length, replayed: 0, notReplayable: 0, byDestination: {}, rows: matches };
  let done = 0;
  for (const row of matches) {
    const destination = row.sk.slice(2);
    const conversion = replayable(row);
    if (!conversion) {
      result.notReplayable++;
    } else if (!opts.dryRun) {
      // Stamped before the publish: the sender's answer to the replayed message is newer, so it wins over this mark.
      const queuedAt = new Date().toISOString();
      await publishTo(target.sqs, target.queues[destination].url, destination, conversion);
      // Only a row still in the state we read is marked queued: the sender may already have answered. A destination
      // skipped at ingest, or whose state is a batch record, has no row of its own (or an older one): the update
      // writes it, newer than what it replaces.
      const own = !row.fromRoute && !row.batch;
      await target.ddb
        .send(
          new UpdateCommand({
            TableName: requireLedger(target),
            Key: { pk: row.pk, sk: row.sk },
            UpdateExpression: 'SET #status = :queued, replayedAt = :now, updatedAt = :now',
            ConditionExpression: own ? '#status = :was' : row.fromRoute ? 'attribute_not_exists(#status)' : 'attribute_not_exists(#status) OR updatedAt < :seen',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':queued': 'queued', ':now': queuedAt, ...(own ? { ':was': row.status } : row.fromRoute ? {} : { ':seen': row.updatedAt }) },
          }),
        )
        .catch((err) => {
          if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
        });
      result.replayed++;
      result.byDestination[destination] = (result.byDestination[destination] ?? 0) + 1;
    }
    opts.progress?.(++done, matches.length);
  }
  return result;
}

/** Whether a conversion item has a route skipped at ingest for one of these destinations. */
function routesNeedRows(head: LedgerItem, destinations: string[]): boolean {
  return routesOf(head).some((r) => r.status === 'skipped' && destinations.includes(r.destination));
}

/** The Conversion a row keeps, if any; one that does not read as a Conversion is not replayable either (counted as such). */
function replayable(row: LedgerItem): Conversion | undefined {
  try {
    return conversionOf(row);
  } catch {
    return undefined;
  }
}
