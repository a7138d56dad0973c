import type { Conversion } from '#core/conversion.ts';
import { tooOldReason } from './skip-rules.ts';
import { ConfigurationError } from './types.ts';
import type {
  DependencyDecision,
  Destination,
  PlatformError,
  PlatformRequest,
  PriorDelivery,
  PriorDeliveryLookup,
  ResponseVerdict,
  Transport,
} from './types.ts';

export type { Transport } from './types.ts';

/** What became of one conversion in one delivery attempt. */
export type DeliveryResult =
  /** `requestId`: the platform's ID of the request that carried it (asynchronous processing); `note`: see `deliveryNote`. */
  | { status: 'delivered'; signals: string[]; requestId?: string; note?: string; awaitingStatus?: boolean }
  /** Built but not sent: no credentials (dry-run), or a source's test event (`reason` says which). */
  | { status: 'dry_run'; signals: string[]; request: PlatformRequest; reason: string }
  | { status: 'skipped'; reason: string }
  /** `retryAfterSeconds`: the platform said how long to wait at least. */
  | { status: 'retry'; error: PlatformError; retryAfterSeconds?: number }
  | { status: 'failed'; error: PlatformError };

export interface DeliveryStats {
  requests: number;
}

export interface DeliveryPorts {
  /** The ledger, for destinations whose conversions depend on earlier ones (`Destination.dependsOn`). */
  priorDeliveries?: PriorDeliveryLookup;
}

/**
 * Delivers a batch of conversions to one platform in as few requests as its batch limit allows.
 * Conversions the platform would refuse (too old, consent, an adjustment it cannot take) are skipped with the
 * reason before sending. When the platform rejects a whole request for bad data (Meta does, for one invalid event),
 * the batch is split in halves and retried until the bad events stand alone, so one bad conversion never holds back
 * or dead-letters the rest. Per-event answers (`partial`) fail only the events named. A conversion that depends on an
 * earlier one (a refund on an upload) waits until the ledger says the earlier one was delivered.
 */
export async function deliver<C>(
  dest: Destination<C>,
  config: C | undefined,
  conversions: readonly Conversion[],
  transport: Transport,
  now: Date,
  stats: DeliveryStats = { requests: 0 },
  ports: DeliveryPorts = {},
): Promise<DeliveryResult[]> {
  const results: DeliveryResult[] = new Array(conversions.length);
  const groups = new Map<string, number[]>();
  conversions = await settleDependencies(dest, config, conversions, results, now, ports);
  conversions.forEach((c, i) => {
    if (results[i]) return;
    const reason = skipReason(dest, c, now, config);
    const rejected = reason ? undefined : dest.rejectReason?.(c, now);
    if (reason) {
      results[i] = { status: 'skipped', reason };
    } else if (rejected) {
      results[i] = { status: 'failed', error: rejected };
    } else if (config === undefined || c.test) {
      const why = c.test ? 'test event: recorded with its exact payload, never sent' : `dry-run: ${dest.name} has no credentials`;
      // Built without credentials (placeholders in their place): the record is logged and kept in the ledger, and a
      // source's test event arrives while the destination is live, so the real config would put its token there.
      results[i] = { status: 'dry_run', signals: dest.signals(c), request: dest.buildRequest([c], undefined, now), reason: why };
    } else {
      const key = dest.groupKey?.(c) ?? '';
      groups.set(key, [...(groups.get(key) ?? []), i]);
    }
  });
  if (groups.size === 0 || config === undefined) return results;

  let ready: C;
  try {
    ready = dest.prepare ? await dest.prepare(config, transport, now) : config;
  } catch (err) {
    // No token, no request: everything waiting is retried later, unless the destination says only a fix of its
    // configuration can help (then the DLQ at once, with the reason).
    if (err instanceof ConfigurationError) {
      for (const idx of groups.values()) for (const i of idx) results[i] = { status: 'failed', error: { code: err.code, message: err.message } };
      return results;
    }
    const error = { code: 'prepare_failed', message: errorMessage(err) };
    for (const idx of groups.values()) for (const i of idx) results[i] = { status: 'retry', error };
    return results;
  }

  const send = async (indexes: number[]): Promise<void> => {
    const request = dest.buildRequest(indexes.map((i) => conversions[i]), ready, now);
    stats.requests++;
    let verdict: ResponseVerdict;
    try {
      verdict = dest.classify(await transport(request), ready);
    } catch (err) {
      verdict = { kind: 'transient', error: { code: 'network', message: errorMessage(err) } };
    }
    if (verdict.kind === 'rejected-data' && indexes.length > 1) {
      const mid = Math.ceil(indexes.length / 2);
      await Promise.all([send(indexes.slice(0, mid)), send(indexes.slice(mid))]);
      return;
    }
    if (verdict.kind === 'partial') {
      const failed = new Set<number>();
      for (const f of verdict.failures) {
        const i = indexes[f.index];
        if (i === undefined) continue;
        failed.add(i);
        results[i] = f.transient ? retry(f.error, f.retryAfterSeconds) : { status: 'failed', error: f.error };
      }
      const others = indexes.filter((i) => !failed.has(i));
      // Fast-fail platforms processed none of the others: they go again, without the events named.
      if (verdict.resendOthers && failed.size > 0) {
        if (others.length) await send(others);
      } else if (verdict.resendOthers) {
        // An index outside the request: nothing to isolate by index, so halve the batch instead (as rejected-data).
        const error = verdict.failures[0]?.error ?? { code: 'unknown', message: 'rejected without naming an event' };
        if (indexes.length === 1) results[indexes[0]] = { status: 'failed', error };
        else await Promise.all([send(indexes.slice(0, Math.ceil(indexes.length / 2))), send(indexes.slice(Math.ceil(indexes.length / 2)))]);
      } else {
        for (const i of others) results[i] = delivered(dest, conversions[i], ready);
      }
      return;
    }
    for (const i of indexes) results[i] = verdict.kind === 'ok' ? delivered(dest, conversions[i], ready, verdict.requestId) : resultOf(verdict, dest, conversions[i]);
  };

  const chunks: number[][] = [];
  for (const indexes of groups.values()) {
    for (let k = 0; k < indexes.length; k += dest.maxBatchSize) chunks.push(indexes.slice(k, k + dest.maxBatchSize));
  }
  await Promise.all(chunks.map(send));
  return results;
}

function delivered<C>(dest: Destination<C>, c: Conversion, config: C, requestId?: string): DeliveryResult {
  const note = dest.deliveryNote?.(c, config);
  return { status: 'delivered', signals: dest.signals(c, config), ...(requestId && { requestId }), ...(note && { note }) };
}

function retry(error: PlatformError, retryAfterSeconds: number | undefined): DeliveryResult {
  return retryAfterSeconds === undefined ? { status: 'retry', error } : { status: 'retry', error, retryAfterSeconds };
}

/**
 * Looks up, for each live conversion that depends on earlier ones, what the ledger knows of them, and lets the
 * destination decide: send (maybe a copy enriched from the original), wait (retried later), or skip. Without a
 * ledger lookup (older callers) dependencies are not checked.
 */
async function settleDependencies<C>(
  dest: Destination<C>,
  config: C | undefined,
  conversions: readonly Conversion[],
  results: DeliveryResult[],
  now: Date,
  ports: DeliveryPorts,
): Promise<readonly Conversion[]> {
  if (!dest.dependsOn || !ports.priorDeliveries || config === undefined) return conversions;
  const out = [...conversions];
  const pending = conversions.flatMap((c, i) => {
    if (c.test || skipReason(dest, c, now, config)) return [];
    const ids = dest.dependsOn!(c, config);
    return ids?.length ? [{ i, ids }] : [];
  });
  if (pending.length === 0) return conversions;
  const allIds = [...new Set(pending.flatMap((p) => p.ids))];
  let found: Map<string, PriorDelivery | undefined>;
  try {
    const rows = await ports.priorDeliveries(dest.name, allIds);
    found = new Map(allIds.map((id, k) => [id, rows[k]]));
  } catch (err) {
    const error = { code: 'ledger_unavailable', message: `could not read the ledger for earlier conversions: ${errorMessage(err)}` };
    for (const p of pending) results[p.i] = { status: 'retry', error };
    return conversions;
  }
  for (const { i, ids } of pending) {
    const originals = ids.map((id) => found.get(id));
    const decision = dest.afterDependencies ? dest.afterDependencies(conversions[i], originals) : defaultDecision(conversions[i], originals);
    if ('send' in decision) out[i] = decision.send;
    else if ('wait' in decision) results[i] = { status: 'retry', error: { code: 'awaiting_original', message: decision.wait } };
    else results[i] = { status: 'skipped', reason: decision.skip };
  }
  return out;
}

function defaultDecision(c: Conversion, originals: (PriorDelivery | undefined)[]): DependencyDecision {
  const known = originals.filter((o): o is PriorDelivery => o !== undefined);
  if (known.some((o) => o.status === 'delivered')) return { send: c };
  if (known.some((o) => o.status === 'queued' || o.status === 'retrying' || o.status === 'dead_lettered')) {
    return { wait: `the original conversion (${known.map((o) => `${o.eventId}: ${o.status}`).join(', ')}) is not delivered yet` };
  }
  return { skip: known.length ? `the original conversion was never delivered here (${known.map((o) => `${o.eventId}: ${o.status}`).join(', ')})` : 'the original conversion is not in the ledger' };
}

function skipReason<C>(dest: Destination<C>, c: Conversion, now: Date, config?: C): string | undefined {
  return tooOldReason(dest, c, now, config) ?? dest.skipReason?.(c, config);
}

function resultOf(verdict: Exclude<ResponseVerdict, { kind: 'partial' }>, dest: Destination<unknown>, c: Conversion): DeliveryResult {
  switch (verdict.kind) {
    case 'ok':
      return { status: 'delivered', signals: dest.signals(c) };
    case 'transient':
      return retry(verdict.error, verdict.retryAfterSeconds);
    default:
      return { status: 'failed', error: verdict.error };
  }
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ? `${err.message} (${cause.code})` : err.message;
  }
  return String(err);
}
