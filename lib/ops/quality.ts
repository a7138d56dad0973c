import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { META_IDENTIFIER_KEYS, WEAK_REASONS, calibrateMetaWeights, metaScore, type MatchRecord } from '../../functions/core/match-quality.ts';
import type { PlatformReason, PlatformStatus } from '../../functions/destinations/types.ts';
import type { MetaDatasetQuality } from './meta-dataset-quality.ts';
import type { PinterestEqs } from './pinterest-eqs.ts';
import { BATCH_PREFIX, batchRows, isBatchRecord } from '../../functions/store/batch-records.ts';
import { CONVERSION_SK, routesOf, type LedgerItem } from '../../functions/store/ledger-items.ts';
import { OperatorError, requireLedger, type Target } from './target.ts';

/**
 * The match-quality report: the ledger's match records (`m`, written by the senders for every delivered and dry-run
 * event) aggregated per destination and event name, with the reasons events were skipped or weak.
 */
export interface QualityRow {
  eventName: string;
  /** Delivered + dry-run events with a match record. */
  events: number;
  /** Share (0–100) of events that carried each key. */
  keys: Record<string, number>;
  /** Share (0–100) of events with a click ID attached. */
  clickRate: number;
  /** Median age of the attached click at the conversion, in hours (undefined: no click). */
  medianClickAgeHours?: number;
  /** Mean score, 0–10, and its 10th percentile (the weak tail). */
  score: number;
  p10Score: number;
  /**
   * Meta only, when its Dataset Quality API answered: the mean score with the weights calibrated to the uplift
   * figures Meta reports for this event name (`calibrateMetaWeights`; keys it gives none for keep the default).
   */
  calibratedScore?: number;
}

/** Requests (distinct platform request IDs) by the platform's verdict, and the events they carried. */
export interface RequestTally {
  eventName: string;
  requests: number;
  events: number;
  pending: number;
  succeeded: number;
  partial: number;
  failed: number;
  unconfirmed: number;
}

/** The platform's own verdict on its requests, read back by the follow-up (Google's Data Manager requestStatus). */
export interface RequestVerdicts {
  total: RequestTally;
  byEvent: RequestTally[];
  /** Records the platform refused, per reason, over the distinct requests, most first. */
  failureReasons: PlatformReason[];
}

/** The platform's own verdict where it has an API: Meta's Dataset Quality, Pinterest's Event Quality Score. */
export type RemoteVerdict =
  | { platform: string; ok: false; message: string }
  | { platform: string; ok: true; events: MetaDatasetQuality[] }
  | { platform: string; ok: true; scores: PinterestEqs[] };

export interface DestinationQuality {
  destination: string;
  delivered: number;
  dryRun: number;
  skipped: number;
  failed: number;
  /** Delivered / dry-run rows without a match record (written before the relay kept them). */
  unscored: number;
  total: QualityRow;
  byEvent: QualityRow[];
  /** Why events were not sent (ledger reasons, by category), most frequent first. */
  skipReasons: { reason: string; count: number }[];
  /** Why sent events were weak (`WEAK_REASONS`), most frequent first; `share` of the scored events. */
  weakReasons: { code: string; reason: string; count: number; share: number }[];
  /** Where the platform reports later on each request (Google Ads' Data Manager API): what it said, from the ledger. */
  requests?: RequestVerdicts;
  /** The platform's own verdict, where it has an API and credentials were found. */
  remote?: RemoteVerdict;
}

export interface QualityReport {
  since: string;
  generatedAt: string;
  target: string;
  destinations: DestinationQuality[];
}

/** Display order of the keys; others follow alphabetically. */
export const KEY_ORDER = ['em', 'ph', 'fn', 'ln', 'street', 'ct', 'st', 'zp', 'country', 'xid', 'ip', 'ua', 'fbc', 'fbp', 'gclid', 'gbraid', 'wbraid', 'ttclid', 'ttp', 'cid', 'cid~'];
export const orderKeys = (keys: Iterable<string>) =>
  [...new Set(keys)].sort((a, b) => (KEY_ORDER.indexOf(a) + 1 || 999) - (KEY_ORDER.indexOf(b) + 1 || 999) || a.localeCompare(b));

/** A click age for people: minutes under an hour, hours under two days, else days. */
export const clickAge = (hours: number | undefined) =>
  hours === undefined ? '' : hours < 1 ? `${Math.round(hours * 60)} min` : hours < 48 ? `${Math.round(hours * 10) / 10} h` : `${Math.round(hours / 2.4) / 10} d`;

/** `7d`, `24h`, `90m` or an ISO date → the instant it means. */
export function parseSince(value: string | undefined, now = new Date()): Date {
  const v = (value ?? '7d').trim();
  const rel = /^(\d+)\s*([dhm])$/i.exec(v);
  if (rel) return new Date(now.getTime() - Number(rel[1]) * { d: 86400_000, h: 3600_000, m: 60_000 }[rel[2].toLowerCase() as 'd' | 'h' | 'm']);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new OperatorError(`--since takes a duration (7d, 24h, 90m) or a date (2026-12-01), not "${value}".`);
  return new Date(t);
}

/** A skip reason grouped by its head (the part before the first colon; the rest names one event's details). */
const reasonHead = (reason: string) => (reason.split(':')[0].trim() || reason).slice(0, 100);

const pct = (n: number, of: number) => (of === 0 ? 0 : Math.round((n / of) * 1000) / 10);
const round1 = (n: number) => Math.round(n * 10) / 10;

function quantile(sorted: number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  return sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (pos - lo);
}

export function summarize(eventName: string, matches: MatchRecord[], metaWeightsOf?: (m: MatchRecord) => Record<string, number>): QualityRow {
  const counts = new Map<string, number>();
  for (const m of matches) for (const k of m.k.split(' ').filter(Boolean)) counts.set(k, (counts.get(k) ?? 0) + 1);
  const keys: Record<string, number> = {};
  for (const k of orderKeys(counts.keys())) keys[k] = pct(counts.get(k)!, matches.length);
  const ages = matches.flatMap((m) => (m.c && m.a !== undefined ? [m.a] : [])).sort((a, b) => a - b);
  const scores = matches.map((m) => m.s).sort((a, b) => a - b);
  const median = quantile(ages, 0.5);
  return {
    eventName,
    events: matches.length,
    keys,
    clickRate: pct(matches.filter((m) => m.c).length, matches.length),
    medianClickAgeHours: median === undefined ? undefined : Math.round((median / 3600) * 100) / 100,
    score: scores.length ? round1(scores.reduce((a, b) => a + b, 0) / scores.length) : 0,
    p10Score: round1(quantile(scores, 0.1) ?? 0),
    ...(metaWeightsOf && matches.length ? { calibratedScore: round1(matches.reduce((sum, m) => sum + metaScore(m, metaWeightsOf(m)), 0) / matches.length) } : {}),
  };
}

const emptyTally = (eventName: string): RequestTally => ({ eventName, requests: 0, events: 0, pending: 0, succeeded: 0, partial: 0, failed: 0, unconfirmed: 0 });
const PLATFORM_STATUSES: readonly PlatformStatus[] = ['pending', 'succeeded', 'partial', 'failed', 'unconfirmed'];

/** Tallies ledger rows carrying a platform verdict by distinct request: one request, one verdict (the same on each of its rows). */
export function tallyRequests(rows: { eventName: string; requestId: string; status: PlatformStatus; reasons?: PlatformReason[] }[]): RequestVerdicts | undefined {
  if (rows.length === 0) return undefined;
  const requests = new Map<string, { eventName: string; status: PlatformStatus; reasons?: PlatformReason[]; events: number }>();
  for (const r of rows) {
    const key = `${r.eventName}\u0000${r.requestId}`;
    const seen = requests.get(key);
    requests.set(key, { eventName: r.eventName, status: r.status, reasons: r.reasons, events: (seen?.events ?? 0) + 1 });
  }
  const total = emptyTally('all');
  const byEvent = new Map<string, RequestTally>();
  const reasons = new Map<string, number>();
  for (const q of requests.values()) {
    const t = byEvent.get(q.eventName) ?? emptyTally(q.eventName);
    for (const x of [t, total]) {
      x.requests++;
      x.events += q.events;
      x[q.status]++;
    }
    byEvent.set(q.eventName, t);
    // A refusal without reasons still counts its records; a partial success without them says nothing countable.
    const refused = q.reasons?.length ? q.reasons : q.status === 'failed' ? [{ reason: 'no reason given', count: q.events }] : [];
    if (q.status === 'failed' || q.status === 'partial') for (const r of refused) reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + r.count);
  }
  return {
    total,
    byEvent: [...byEvent.values()].sort((a, b) => b.requests - a.requests || a.eventName.localeCompare(b.eventName)),
    failureReasons: [...reasons.entries()].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
  };
}

export interface QualityOptions {
  destinations: string[];
  since: Date;
  /** Rows scanned so far (for a progress line). */
  progress?: (scanned: number) => void;
  /** The platforms' own verdicts, by destination, fetched beforehand: shown beside ours, and Meta's calibrates its score. */
  remote?: Record<string, RemoteVerdict>;
}

const isPlatformStatus = (v: unknown): v is PlatformStatus => PLATFORM_STATUSES.includes(v as PlatformStatus);
const platformReasons = (v: unknown): PlatformReason[] | undefined =>
  Array.isArray(v) ? v.flatMap((r) => (typeof r?.reason === 'string' ? [{ reason: r.reason, count: Number(r.count) || 0 }] : [])) : undefined;

/** Reads the ledger's conversion rows updated since `since` (a scan: an operator's question, paged) and aggregates them. */
export async function qualityReport(target: Target, opts: QualityOptions, now = new Date()): Promise<QualityReport> {
  const values: Record<string, unknown> = { ':c': 'C#', ':since': opts.since.toISOString(), ':conv': CONVERSION_SK };
  const destKeys = opts.destinations.map((d, i) => ((values[`:d${i}`] = `D#${d}`), `:d${i}`));
  type Acc = { dest: DestinationQuality; matches: Map<string, MatchRecord[]>; skips: Map<string, number>; verdicts: Parameters<typeof tallyRequests>[0] };
  const acc = new Map<string, Acc>();
  for (const d of opts.destinations) {
    const empty = summarize('all', []);
    acc.set(d, { dest: { destination: d, delivered: 0, dryRun: 0, skipped: 0, failed: 0, unscored: 0, total: empty, byEvent: [], skipReasons: [], weakReasons: [] }, matches: new Map(), skips: new Map(), verdicts: [] });
  }
  // Skips recorded only as routes on conversion items (`pk|destination` → reason), and each destination's newest row
  // per conversion (`pk|destination`): its sender's `D#` row or its entry in a batch record, whichever is newer.
  const routeSkips = new Map<string, string>();
  const latest = new Map<string, LedgerItem>();
  const keep = (row: LedgerItem) => {
    const key = `${row.pk}|${row.sk.slice(2)}`;
    const seen = latest.get(key);
    if (!seen || String(seen.updatedAt ?? '') <= String(row.updatedAt ?? '')) latest.set(key, row);
  };
  const batchKeys = opts.destinations.map((d, i) => ((values[`:b${i}`] = `${BATCH_PREFIX}${d}#`), `:b${i}`));
  let scanned = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const res = await target.ddb.send(
      new ScanCommand({
        TableName: requireLedger(target),
        // The senders' rows, the conversion items (a destination skipped at ingest has only its route there) and the
        // destinations' batch records (their delivered and dry-run outcomes).
        FilterExpression: `updatedAt >= :since AND ((begins_with(pk, :c) AND (sk IN (${destKeys.join(', ')}) OR sk = :conv))${batchKeys.map((k) => ` OR begins_with(pk, ${k})`).join('')})`,
        // Only what the report reads: a scan's network cost stays small even on a large ledger.
        ProjectionExpression: 'pk, sk, #status, eventName, reason, m, routes, r, requestId, platformStatus, platformReasons, updatedAt, d',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: values,
        ExclusiveStartKey: start,
      }),
    );
    for (const row of (res.Items ?? []) as LedgerItem[]) {
      if (isBatchRecord(row)) batchRows(row).forEach(keep);
      else if (row.sk !== CONVERSION_SK) keep(row);
      else for (const r of routesOf(row)) if (r.status === 'skipped' && acc.has(r.destination)) routeSkips.set(`${row.pk}|${r.destination}`, r.reason);
    }
    scanned += res.ScannedCount ?? 0;
    opts.progress?.(scanned);
    start = res.LastEvaluatedKey;
  } while (start);
  for (const row of latest.values()) {
    const a = acc.get(row.sk.slice(2));
    if (!a) continue;
    const status = String(row.status);
    if (isPlatformStatus(row.platformStatus) && typeof row.requestId === 'string') {
      a.verdicts.push({ eventName: String(row.eventName ?? '?'), requestId: row.requestId, status: row.platformStatus, reasons: platformReasons(row.platformReasons) });
    }
    if (status === 'skipped') {
      a.dest.skipped++;
      const why = reasonHead(String(row.reason ?? 'unspecified'));
      a.skips.set(why, (a.skips.get(why) ?? 0) + 1);
    } else if (status === 'dead_lettered') a.dest.failed++;
    else if (status === 'delivered' || status === 'dry_run') {
      if (status === 'delivered') a.dest.delivered++;
      else a.dest.dryRun++;
      const m = row.m as MatchRecord | undefined;
      if (!m || typeof m.k !== 'string') a.dest.unscored++;
      else {
        const name = String(row.eventName ?? '?');
        a.matches.set(name, [...(a.matches.get(name) ?? []), m]);
      }
    }
  }
  for (const [key, reason] of routeSkips) {
    if (latest.has(key)) continue;
    const a = acc.get(key.slice(key.lastIndexOf('|') + 1))!;
    a.dest.skipped++;
    const why = reasonHead(reason ?? 'unspecified');
    a.skips.set(why, (a.skips.get(why) ?? 0) + 1);
  }

  const destinations = [...acc.values()].map(({ dest, matches, skips, verdicts }): DestinationQuality => {
    const all = [...matches.values()].flat();
    const weak = new Map<string, number>();
    for (const m of all) for (const w of m.w ?? []) weak.set(w, (weak.get(w) ?? 0) + 1);
    const remote = opts.remote?.[dest.destination];
    // Calibrated only when Meta gave the figures to calibrate with (e-mail's uplift is the anchor).
    const calibrates = dest.destination === 'meta' && remote?.ok && 'events' in remote && remote.events.some((e) => e.matchKeys.some((k) => META_IDENTIFIER_KEYS[k.identifier] === 'em' && (k.upliftPercent ?? 0) > 0));
    const weightsOf = calibrates && 'events' in remote ? metaWeightsByEvent(remote.events, matches) : undefined;
    const requests = tallyRequests(verdicts);
    return {
      ...dest,
      total: summarize('all', all, weightsOf),
      byEvent: [...matches.entries()].map(([name, ms]) => summarize(name, ms, weightsOf)).sort((a, b) => b.events - a.events || a.eventName.localeCompare(b.eventName)),
      skipReasons: [...skips.entries()].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count),
      weakReasons: [...weak.entries()].map(([code, count]) => ({ code, reason: WEAK_REASONS[code] ?? code, count, share: pct(count, all.length) })).sort((a, b) => b.count - a.count),
      ...(requests && { requests }),
      ...(remote && { remote }),
    };
  });
  return { since: opts.since.toISOString(), generatedAt: now.toISOString(), target: target.description, destinations };
}

/**
 * Each stored Meta match record → the weights calibrated to the uplift figures Meta reports for its event name (an
 * event name Meta reports nothing for keeps the default weights, so its calibrated score equals ours).
 */
function metaWeightsByEvent(remote: MetaDatasetQuality[], matches: Map<string, MatchRecord[]>): (m: MatchRecord) => Record<string, number> {
  const byName = new Map(remote.map((e) => [e.eventName, calibrateMetaWeights(e.matchKeys)]));
  const defaults = calibrateMetaWeights([]);
  const weightsOf = new Map<MatchRecord, Record<string, number>>();
  for (const [name, ms] of matches) for (const m of ms) weightsOf.set(m, byName.get(name) ?? defaults);
  return (m) => weightsOf.get(m) ?? defaults;
}
