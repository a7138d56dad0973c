import type { Conversion } from '#core/conversion.ts';
import type { Destination, PlatformError, PlatformRequest, PlatformResponse, ResponseVerdict } from './types.ts';

/** What became of one conversion in one delivery attempt. */
export type DeliveryResult =
  | { status: 'delivered'; signals: string[] }
  | { status: 'dry_run'; signals: string[]; request: PlatformRequest }
  | { status: 'skipped'; reason: string }
  | { status: 'retry'; error: PlatformError }
  | { status: 'failed'; error: PlatformError };

/** Sends one request; throws on network failure or timeout. */
export type Transport = (request: PlatformRequest) => Promise<PlatformResponse>;

export interface DeliveryStats {
  requests: number;
}

/**
 * Delivers a batch of conversions to one platform in as few requests as its batch limit allows.
 * Conversions the platform would refuse (too old, consent) are skipped with the reason before sending. When the
 * platform rejects a whole request for bad data (Meta does, for one invalid event), the batch is split in halves
 * and retried until the bad events stand alone, so one bad conversion never holds back or dead-letters the rest.
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
  const sendable: number[] = [];
  conversions.forEach((c, i) => {
    const reason = skipReason(dest, c, now);
    if (reason) results[i] = { status: 'skipped', reason };
    else sendable.push(i);
  });

  if (config === undefined) {
    for (const i of sendable) {
      const c = conversions[i];
      results[i] = { status: 'dry_run', signals: dest.signals(c), request: dest.buildRequest([c], undefined, now) };
    }
    return results;
  }

  const send = async (indexes: number[]): Promise<void> => {
    const request = dest.buildRequest(indexes.map((i) => conversions[i]), config, now);
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
    for (const i of indexes) results[i] = resultOf(verdict, dest, conversions[i]);
  };

  const chunks: number[][] = [];
  for (let k = 0; k < sendable.length; k += dest.maxBatchSize) chunks.push(sendable.slice(k, k + dest.maxBatchSize));
  await Promise.all(chunks.map(send));
  return results;
}

function skipReason(dest: Destination<unknown>, c: Conversion, now: Date): string | undefined {
  const age = now.getTime() - Date.parse(c.occurredAt);
  if (age > dest.maxEventAgeMs) {
    return `too old for ${dest.name}: occurred ${Math.floor(age / 3600_000)} h ago, the platform accepts at most ${Math.floor(dest.maxEventAgeMs / 3600_000)} h`;
  }
  return dest.consentBlocks?.(c);
}

function resultOf(verdict: ResponseVerdict, dest: Destination<unknown>, c: Conversion): DeliveryResult {
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
