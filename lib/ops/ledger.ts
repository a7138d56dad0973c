import { GetCommand, QueryCommand, ScanCommand, UpdateCommand, type ScanCommandInput } from '@aws-sdk/lib-dynamodb';
import { ConversionSchema } from '../../functions/core/conversion.ts';
import { publishTo } from '../../functions/store/queues.ts';
import { OperatorError, requireLedger, type Target } from './target.ts';

export type LedgerItem = Record<string, any> & { pk: string; sk: string; status: string };

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
  /** Conversions found, each with its rows (one per destination). */
  conversions: { eventId: string; rows: LedgerItem[] }[];
  /** Source events that were verified but not conversions (skipped with a reason). */
  sourceSkips: LedgerItem[];
}

/**
 * What happened to an event, found by its conversion event ID (one query), else by order ID or source event ID (a
 * scan: fine for an operator's question, not for a hot path).
 */
export async function lookupStatus(target: Target, id: string, sources: readonly string[]): Promise<StatusReport> {
  const table = requireLedger(target);
  const direct = await target.ddb.send(
    new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `C#${id}` } }),
  );
  const byEvent = new Map<string, LedgerItem[]>();
  const add = (row: LedgerItem) => {
    const eventId = row.pk.slice(2);
    byEvent.set(eventId, [...(byEvent.get(eventId) ?? []).filter((r) => r.sk !== row.sk), row]);
  };
  for (const row of (direct.Items ?? []) as LedgerItem[]) add(row);
  if (byEvent.size === 0) {
    for await (const page of scan(target, {
      FilterExpression: 'begins_with(pk, :c) AND (orderId = :id OR sourceEventId = :id)',
      ExpressionAttributeValues: { ':c': 'C#', ':id': id },
    })) {
      for (const row of page) add(row);
    }
  }
  const sourceSkips: LedgerItem[] = [];
  for (const s of sources) {
    const res = await target.ddb.send(new GetCommand({ TableName: table, Key: { pk: `S#${s}#${id}`, sk: 'source' } }));
    if (res.Item) sourceSkips.push(res.Item as LedgerItem);
  }
  return {
    conversions: [...byEvent.entries()].map(([eventId, rows]) => ({ eventId, rows: rows.sort((a, b) => a.sk.localeCompare(b.sk)) })),
    sourceSkips,
  };
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
  /** Rows that matched but hold no Conversion (written before replay existed, or delivered since). */
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
  const values: Record<string, unknown> = { ':c': 'C#' };
  const statusKeys = opts.statuses.map((s, i) => ((values[`:s${i}`] = s), `:s${i}`));
  const destKeys = opts.destinations.map((d, i) => ((values[`:d${i}`] = `D#${d}`), `:d${i}`));
  const matches: LedgerItem[] = [];
  for await (const page of scan(target, {
    FilterExpression: `begins_with(pk, :c) AND #status IN (${statusKeys.join(', ')}) AND sk IN (${destKeys.join(', ')})`,
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: values,
  })) {
    for (const row of page) {
      const why = `${row.reason ?? ''} ${row.errorCode ?? ''} ${row.errorMessage ?? ''}`;
      if (opts.reasonContains && !why.toLowerCase().includes(opts.reasonContains.toLowerCase())) continue;
      matches.push(row);
    }
  }
  const result: ReplayResult = { found: matches.length, replayed: 0, notReplayable: 0, byDestination: {}, rows: matches };
  let done = 0;
  for (const row of matches) {
    const destination = row.sk.slice(2);
    const parsed = typeof row.conversion === 'string' ? ConversionSchema.safeParse(JSON.parse(row.conversion)) : undefined;
    if (!parsed?.success) {
      result.notReplayable++;
    } else if (!opts.dryRun) {
      await publishTo(target.sqs, target.queues[destination].url, destination, parsed.data);
      // Only a row still in the state we read is marked queued: the sender may already have answered.
      await target.ddb
        .send(
          new UpdateCommand({
            TableName: requireLedger(target),
            Key: { pk: row.pk, sk: row.sk },
            UpdateExpression: 'SET #status = :queued, replayedAt = :now, updatedAt = :now',
            ConditionExpression: '#status = :was',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':queued': 'queued', ':now': new Date().toISOString(), ':was': row.status },
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
