/**
 * Pacing for the backfill's reads of a source API: at most `ratePerSecond` requests per endpoint (Stripe's default
 * limit is 25 per second per endpoint; ClickBank's 10 per second per IP address), and exponential backoff with jitter
 * after a rate-limit answer.
 */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

export class Throttle {
  private readonly nextSlot = new Map<string, number>();
  private readonly intervalMs: number;

  constructor(ratePerSecond: number, private readonly clock: Clock = realClock) {
    if (!(ratePerSecond > 0)) throw new Error(`the request rate must be a positive number, got ${ratePerSecond}`);
    this.intervalMs = 1000 / ratePerSecond;
  }

  /** Waits until `key` (an endpoint) may be called again; slots are reserved in call order, so concurrent callers queue. */
  async wait(key: string): Promise<void> {
    const now = this.clock.now();
    const at = Math.max(now, this.nextSlot.get(key) ?? 0);
    this.nextSlot.set(key, at + this.intervalMs);
    if (at > now) await this.clock.sleep(at - now);
  }
}

/** The wait before retry number `attempt` (0-based): base·2^attempt, capped, with "equal jitter" (half fixed, half random). */
export function backoffMs(attempt: number, opts: { baseMs?: number; maxMs?: number; random?: () => number } = {}): number {
  const ceiling = Math.min(opts.maxMs ?? 30_000, (opts.baseMs ?? 500) * 2 ** attempt);
  return Math.round(ceiling / 2 + (opts.random ?? Math.random)() * (ceiling / 2));
}

export interface RateLimitedRetries {
  throttle: Throttle;
  clock?: Clock;
  /** How many times one request is retried after a rate-limit answer before that answer is returned. */
  maxRetries?: number;
  /** Told each time a rate-limited request is retried (for the progress line). */
  onRateLimited?: (endpoint: string, attempt: number, waitMs: number) => void;
}

/**
 * One request to a source API at the throttle's pace: `send` waits for the endpoint's slot; while the answer is a
 * rate limit (`rateLimited` says so, with the Retry-After header if any) and retries are left, it waits that long —
 * or an exponential backoff from 1 s — and asks again. The last answer is returned as it is, limited or not.
 */
export async function sendWithRateLimitRetries<T>(endpoint: string, send: () => Promise<T>, rateLimited: (answer: T) => Promise<{ retryAfter?: string } | undefined>, opts: RateLimitedRetries): Promise<T> {
  const clock = opts.clock ?? realClock;
  const maxRetries = opts.maxRetries ?? 8;
  for (let attempt = 0; ; attempt++) {
    await opts.throttle.wait(endpoint);
    const answer = await send();
    const limit = attempt < maxRetries ? await rateLimited(answer) : undefined;
    if (!limit) return answer;
    const retryAfter = Number(limit.retryAfter);
    const wait = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : backoffMs(attempt, { baseMs: 1000 });
    opts.onRateLimited?.(endpoint, attempt + 1, wait);
    await clock.sleep(wait);
  }
}
