import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compactVisitorId, readVisitorId } from './visitor.ts';

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
