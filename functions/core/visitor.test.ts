import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compactVisitorId, MAX_CLICK_HISTORY, mergeClicks, readVisitorId } from './visitor.ts';

describe('readVisitorId', () => {
  const id = 'b6f1c1d2-9a4e-4c1e-8f3a-2d7e5c9b0a11';

  it('returns a /collect visitor ID unchanged', () => {
    expect(readVisitorId(id)).toBe(id);
  });

  it('restores a UUID that lost its hyphens and was upper-cased on the way (ClickBank tracking IDs)', () => {
    expect(readVisitorId('B6F1C1D29A4E4C1E8F3A2D7E5C9B0A11')).toBe(id);
    expect(readVisitorId('b6f1c1d29a4e4c1e8f3a2d7e5c9b0a11')).toBe(id);
    expect(readVisitorId(id.toUpperCase())).toBe(id);
  });

  it('round-trips through compactVisitorId for any UUID', () => {
    for (let i = 0; i < 20; i++) {
      const v = randomUUID();
      expect(compactVisitorId(v)).toMatch(/^[0-9a-f]{32}$/);
      expect(readVisitorId(compactVisitorId(v).toUpperCase())).toBe(v);
    }
  });

  it('keeps other safe IDs as they are, and refuses unsafe or absent ones', () => {
    expect(readVisitorId('vis_0123456789')).toBe('vis_0123456789');
    for (const bad of [undefined, null, 42, '', 'short', 'has space in it', 'a/b/c/d/e/f', 'x'.repeat(129)]) {
      expect(readVisitorId(bad), String(bad)).toBeUndefined();
    }
  });
});

const T0 = Date.parse('2026-03-01T10:00:00Z');
const browserA = { ip: '203.0.113.7', userAgent: 'UA-A' };
const browserB = { ip: '198.51.100.9', userAgent: 'UA-B' };

describe('mergeClicks', () => {
  it('keeps every click with its capture time and the browser it came from; the newest per platform wins', () => {
    const first = mergeClicks({ clicks: {} }, { gclid: { value: 'G1', capturedAt: T0 }, fbp: { value: 'fb.1.1.2', capturedAt: T0 } }, browserA);
    const second = mergeClicks(first, { gclid: { value: 'G2', capturedAt: T0 + 1000 }, ttclid: { value: 'T1', capturedAt: T0 + 1000 } }, browserB);

    expect(second.clicks.gclid).toEqual({ value: 'G2', capturedAt: T0 + 1000 });
    expect(second.clicks.ttclid?.value).toBe('T1');
    expect(second.clicks.fbp?.value).toBe('fb.1.1.2');
    expect(second.clickHistory).toEqual([
      { key: 'gclid', value: 'G1', capturedAt: T0, ...browserA },
      { key: 'gclid', value: 'G2', capturedAt: T0 + 1000, ...browserB },
      { key: 'ttclid', value: 'T1', capturedAt: T0 + 1000, ...browserB },
    ]);
  });

  it('keeps the first capture time when the same value comes back, and adds no duplicate to the history', () => {
    const first = mergeClicks({ clicks: {} }, { msclkid: { value: 'M1', capturedAt: T0 } }, browserA);
    const again = mergeClicks(first, { msclkid: { value: 'M1', capturedAt: T0 + 60_000 } }, browserB);
    expect(again.clicks.msclkid).toEqual({ value: 'M1', capturedAt: T0 });
    expect(again.clickHistory).toHaveLength(1);
  });

  it('does not let an older value (a stale cookie) replace a newer click', () => {
    const stored = mergeClicks({ clicks: {} }, { gclid: { value: 'NEW', capturedAt: T0 } }, browserA);
    const merged = mergeClicks(stored, { gclid: { value: 'OLD', capturedAt: T0 - 86_400_000 } }, browserA);
    expect(merged.clicks.gclid?.value).toBe('NEW');
    expect(merged.clickHistory.map((h) => h.value)).toEqual(['OLD', 'NEW']);
  });

  it('bounds the history to the newest MAX_CLICK_HISTORY clicks', () => {
    let state = { clicks: {}, clickHistory: [] as any[] };
    for (let i = 0; i < MAX_CLICK_HISTORY + 5; i++) state = mergeClicks(state, { gclid: { value: `G${i}`, capturedAt: T0 + i } }, browserA);
    expect(state.clickHistory).toHaveLength(MAX_CLICK_HISTORY);
    expect(state.clickHistory.at(-1)?.value).toBe(`G${MAX_CLICK_HISTORY + 4}`);
    expect(state.clickHistory[0].value).toBe('G5');
  });
});
