import { describe, expect, it } from 'vitest';
import { nextDelaySeconds, retryDelaySeconds } from './sender.ts';

describe('sender retry delays', () => {
  it('doubles from the base, capped at 6 h', () => {
    expect([1, 2, 3, 4].map((n) => retryDelaySeconds(n, 60))).toEqual([60, 120, 240, 480]);
    expect(retryDelaySeconds(20, 60)).toBe(6 * 3600);
  });

  it('waits at least as long as the platform asked (Google: click too recent, retry in 6 h)', () => {
    expect(nextDelaySeconds(1, 60, 6 * 3600)).toBe(6 * 3600);
    expect(nextDelaySeconds(1, 1, 2.2)).toBe(3);
  });

  it('keeps the backoff when it is longer than the hint, or when there is none', () => {
    expect(nextDelaySeconds(5, 60, 30)).toBe(960);
    expect(nextDelaySeconds(2, 60)).toBe(120);
  });

  it('never asks SQS for more than its 12-hour visibility limit', () => {
    expect(nextDelaySeconds(1, 60, 24 * 3600)).toBeLessThan(12 * 3600);
  });
});
