import { describe, expect, it } from 'vitest';
import { bendPoint, median, percentile, ratioOverBaseline } from './stats.ts';

describe('bench statistics', () => {
  it('takes nearest-rank percentiles of unsorted values', () => {
    const v = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(v, 50)).toBe(5);
    expect(percentile(v, 90)).toBe(9);
    expect(percentile(v, 99)).toBe(10);
    expect(percentile(v, 0)).toBe(1);
    expect(median([3, 1, 2])).toBe(2);
    expect(percentile([], 50)).toBeNaN();
  });

  it('compares costs above a baseline', () => {
    // 60 ms over a 20 ms baseline against 220 ms over it: 40/200.
    expect(ratioOverBaseline(60, 220, 20)).toBeCloseTo(0.2);
  });

  it('finds where latency bends: p99 doubling above the floor, or throughput falling behind the offered rate', () => {
    expect(bendPoint([{ rate: 50, p99: 300, acceptedPerSecond: 50 }, { rate: 200, p99: 400, acceptedPerSecond: 199 }])).toBeUndefined();
    expect(bendPoint([{ rate: 50, p99: 300, acceptedPerSecond: 50 }, { rate: 200, p99: 700, acceptedPerSecond: 199 }])).toBe(200);
    expect(bendPoint([{ rate: 50, p99: 300, acceptedPerSecond: 50 }, { rate: 500, p99: 320, acceptedPerSecond: 300 }])).toBe(500);
    // Doubling well under the floor is noise, not a bend.
    expect(bendPoint([{ rate: 50, p99: 20, acceptedPerSecond: 50 }, { rate: 200, p99: 60, acceptedPerSecond: 200 }])).toBeUndefined();
  });
});
