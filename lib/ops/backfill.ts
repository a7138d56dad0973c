import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { RequestError } from '../../functions/core/errors.ts';
import { ingest, type IngestOptions, type IngestPorts } from '../../functions/core/ingest.ts';
import type { SourceResult } from '../../functions/sources/types.ts';
import { parseSince } from './quality.ts';
import { OperatorError, requireLedger, type Target } from './target.ts';

/**
 * A backfill feeds a source's history through the ingest pipeline, one source event at a time, exactly as the
 * webhooks do (same mapping, same event IDs, same ports): a payment the platforms already have, by webhook or by an
 * earlier backfill, is left alone, and rerunning adds nothing.
 */

/** One item of history: a source event to read (it may turn out not to be a conversion), or an object not to feed. */
export type HistoryItem = { kind: string; read: () => SourceResult } | { kind: string; skip: string };

export interface DestinationPlan {
  queued: number;
  /** Reason category → count, with one full reason as an example. */
  skipped: Record<string, { count: number; example: string }>;
}

export interface BackfillSummary {
  dryRun: boolean;
  /** Objects / events read from the source, by kind. */
  read: Record<string, number>;
  /** Distinct conversions found. */
  found: number;
  /** Conversions the ledger already had: sent by webhook or by an earlier backfill. */
  alreadySent: number;
  /** Conversions queued (or, in a dry run, that would be) for at least one destination. */
  queued: number;
  /** Conversions no destination takes (every route skipped). */
  skippedEverywhere: number;
  /** Source objects that are no conversion (reason category → count). */
  notConversions: Record<string, number>;
  /** Source events the pipeline refused (reason → count): invalid values, events from the future. */
  refused: Record<string, number>;
  destinations: Record<string, DestinationPlan>;
}

export interface BackfillDeps {
  source: string;
  /** The pipeline's ports: createIngestPorts(), or planOnlyPorts() of them for a dry run. */
  ports: IngestPorts;
  /** The routing options at a given time (ingestOptions with the age check at that time). */
  options: (now: Date) => IngestOptions;
  /** Whether the ledger already has this conversion (any destination row). */
  known: (eventId: string) => Promise<boolean>;
  dryRun: boolean;
  /** Called after each item with the running summary. */
  progress?: (summary: BackfillSummary, kind: string) => void;
  now?: () => Date;
  runId?: string;
}

export async function backfill(history: AsyncIterable<HistoryItem>, deps: BackfillDeps): Promise<BackfillSummary> {
  const summary: BackfillSummary = { dryRun: deps.dryRun, read: {}, found: 0, alreadySent: 0, queued: 0, skippedEverywhere: 0, notConversions: {}, refused: {}, destinations: {} };
  // One payment is often several objects (a Checkout Session, its PaymentIntent; a subscription's session and its
  // first invoice): they map to one event ID, counted once. A dry run writes nothing, so this is also its memory.
  const seen = new Set<string>();
  const runId = deps.runId ?? `backfill-${Date.now().toString(36)}`;
  let n = 0;
  for await (const item of history) {
    summary.read[item.kind] = (summary.read[item.kind] ?? 0) + 1;
    if ('skip' in item) {
      bump(summary.notConversions, reasonHead(item.skip));
    } else {
      await feed(item.read, summary, seen, deps, `${runId}-${++n}`);
    }
    deps.progress?.(summary, item.kind);
  }
  return summary;
}

async function feed(read: () => SourceResult, summary: BackfillSummary, seen: Set<string>, deps: BackfillDeps, invocationId: string): Promise<void> {
  let result: SourceResult;
  try {
    result = read();
  } catch (err) {
    if (err instanceof RequestError) return bump(summary.refused, err.message.slice(0, 120));
    throw err;
  }
  if (result.kind === 'skipped') return bump(summary.notConversions, reasonHead(result.reason));
  // Conversions this run or an earlier one (or a webhook) already handled are not fed again: the idempotency record
  // lasts 7 days, the ledger 400, and platforms dedup for 48 h at most (Meta, TikTok) — the ledger is the guard.
  const fresh: typeof result.conversions = [];
  for (const draft of result.conversions) {
    if (seen.has(draft.eventId)) continue;
    seen.add(draft.eventId);
    summary.found++;
    if (await deps.known(draft.eventId)) summary.alreadySent++;
    else fresh.push(draft);
  }
  if (fresh.length === 0) return;
  const now = deps.now?.() ?? new Date();
  let outcome;
  try {
    outcome = await ingest(deps.source, { ...result, conversions: fresh }, deps.ports, deps.options(now), invocationId);
  } catch (err) {
    if (err instanceof RequestError) return bump(summary.refused, `${err.code}: ${err.message}`.slice(0, 120));
    throw err;
  }
  if (outcome.kind !== 'accepted') return;
  for (const receipt of outcome.receipts) {
    // A webhook got there first, between the ledger check and now.
    if (receipt.duplicate) {
      summary.alreadySent++;
      continue;
    }
    let anyQueued = false;
    for (const route of receipt.routes) {
      const plan = (summary.destinations[route.destination] ??= { queued: 0, skipped: {} });
      if (route.status === 'queued') {
        plan.queued++;
        anyQueued = true;
      } else {
        const category = reasonHead(route.reason);
        const entry = (plan.skipped[category] ??= { count: 0, example: route.reason });
        entry.count++;
      }
    }
    if (anyQueued) summary.queued++;
    else summary.skippedEverywhere++;
  }
}

/** A reason grouped by its head (before the first colon; the rest names one event's details, e.g. its age). */
const reasonHead = (reason: string) => (reason.split(':')[0].trim() || reason).slice(0, 100);

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** Whether the target's ledger has any row for the conversion `eventId`. */
export function ledgerKnows(target: Target): (eventId: string) => Promise<boolean> {
  const table = requireLedger(target);
  return async (eventId) => {
    const res = await target.ddb.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `C#${eventId}` }, Limit: 1, ConsistentRead: true }));
    return (res.Items?.length ?? 0) > 0;
  };
}

/**
 * The window of a backfill from the CLI's `--since` / `--until` (each a duration back from now, `7d`, `12h`, `90m`, or a
 * date, as `quality --since` takes them), in Unix seconds as Stripe's `created` filters take them.
 */
export function parseWindow(since: string | undefined, until: string | undefined, now: Date, defaultSince = '7d'): { gte: number; lte: number } {
  const gte = parseSince(since ?? defaultSince, now).getTime();
  const lte = until === undefined ? now.getTime() : parseSince(until, now).getTime();
  if (gte > lte) throw new OperatorError(`--since (${new Date(gte).toISOString()}) is after --until (${new Date(lte).toISOString()}).`);
  return { gte: Math.floor(gte / 1000), lte: Math.ceil(Math.min(lte, now.getTime()) / 1000) };
}
