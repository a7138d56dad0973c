import type { Conversion } from '#core/conversion.ts';
import type { Destination, PlatformError, PlatformRequest, ResponseVerdict, Transport } from './types.ts';

export type { Transport } from './types.ts';

/** What became of one conversion in one delivery attempt. */
export type DeliveryResult =
  | { status: 'delivered'; signals: string[] }
  /** Built but not sent: no credentials (dry-run), or a source's test event (`reason` says which). */
  | { status: 'dry_run'; signals: string[]; request: PlatformRequest; reason: string }
  | { status: 'skipped'; reason: string }
  | { status: 'retry'; error: PlatformError }
  | { status: 'failed'; error: PlatformError };

export interface DeliveryStats {
  requests: number;
}

/**
 * Delivers a batch of conversions to one platform in as few requests as its batch limit allows.
 * Conversions the platform would refuse (too old, consent, an adjustment it cannot take) are skipped with the
 * reason before sending. When the platform rejects a whole request for bad data (Meta does, for one invalid event),
 * the batch is split in halves and retried until the bad events stand alone, so one bad conversion never holds back
 * or dead-letters the rest. Per-event answers (`partial`) fail only the events named.
 */
export async function deliver<C>(
  dest: Destination<C>,
  config: C | undefined,
  conversions: readonly Conversion[],
  transport: Transport,
  now: Date,
  stats: DeliveryStats = { requests: 0 },
): Promise<DeliveryResult[]> {
  const results: DeliveryResult[] = new Array(conversions.length);
  const groups = new Map<string, number[]>();
  conversions.forEach((c, i) => {
    const reason = skipReason(dest, c, now);
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
    // No token, no request: everything waiting is retried later (a bad refresh token shows up as a DLQ reason
    // once the attempts run out).
    const error = { code: 'prepare_failed', message: errorMessage(err) };
    for (const idx of groups.values()) for (const i of idx) results[i] = { status: 'retry', error };
    return results;
  }

  const send = async (indexes: number[]): Promise<void> => {
    const request = dest.buildRequest(indexes.map((i) => conversions[i]), ready, now);
    stats.requests++;
    let verdict: ResponseVerdict;
    try {
      verdict = dest.classify(await transport(request));
    } catch (err) {
      verdict = { kind: 'transient', error: { code: 'network', message: errorMessage(err) } };
    }
    if (verdict.kind === 'rejected-data' && indexes.length > 1) {
      const mid = Math.ceil(indexes.length / 2);
      await Promise.all([send(indexes.slice(0, mid)), send(indexes.slice(mid))]);
      return;
    }
    if (verdict.kind === 'partial') {
      for (const i of indexes) results[i] = { status: 'delivered', signals: dest.signals(conversions[i]) };
      for (const f of verdict.failures) {
        const i = indexes[f.index];
        if (i !== undefined) results[i] = f.transient ? { status: 'retry', error: f.error } : { status: 'failed', error: f.error };
      }
      return;
    }
    for (const i of indexes) results[i] = resultOf(verdict, dest, conversions[i]);
  };

  const chunks: number[][] = [];
  for (const indexes of groups.values()) {
    for (let k = 0; k < indexes.length; k += dest.maxBatchSize) chunks.push(indexes.slice(k, k + dest.maxBatchSize));
  }
  await Promise.all(chunks.map(send));
  return results;
}

function skipReason(dest: Destination<unknown>, c: Conversion, now: Date): string | undefined {
  const age = now.getTime() - Date.parse(c.occurredAt);
  if (age > dest.maxEventAgeMs) {
    return `too old for ${dest.name}: occurred ${Math.floor(age / 3600_000)} h ago, the platform accepts at most ${Math.floor(dest.maxEventAgeMs / 3600_000)} h`;
  }
  return dest.skipReason?.(c);
}

function resultOf(verdict: Exclude<ResponseVerdict, { kind: 'partial' }>, dest: Destination<unknown>, c: Conversion): DeliveryResult {
  switch (verdict.kind) {
    case 'ok':
      return { status: 'delivered', signals: dest.signals(c) };
    case 'transient':
      return { status: 'retry', error: verdict.error };
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
