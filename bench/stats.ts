/** Small statistics helpers for the bench (unit tested in stats.test.ts). */

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  if (p <= 0) return sorted[0];
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, rank) - 1];
}

/** Ours over the reference, both as costs above a common baseline (e.g. cold starts over `node -e 0`). */
export function ratioOverBaseline(ours: number, reference: number, baseline: number): number {
  return (ours - baseline) / (reference - baseline);
}

/**
 * The first load step whose p99 is more than twice the previous step's and above `floorMs`, or whose accepted rate fell
 * below 95 % of the offered rate: where latency "bends". Undefined when no step bends.
 */
export function bendPoint(steps: readonly { rate: number; p99: number; acceptedPerSecond: number }[], floorMs = 250): number | undefined {
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    if (s.acceptedPerSecond < 0.95 * s.rate) return s.rate;
    if (i > 0 && s.p99 > 2 * steps[i - 1].p99 && s.p99 > floorMs) return s.rate;
  }
  return undefined;
}

export const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;
export const ms = (v: number, digits = 0) => `${v.toFixed(digits)} ms`;
