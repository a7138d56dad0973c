/**
 * Pacing for the backfill's reads of a source API: at most `ratePerSecond` requests per endpoint (Stripe's default
 * limit is 25 per second per endpoint), and exponential backoff with jitter after a rate-limit answer.
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
