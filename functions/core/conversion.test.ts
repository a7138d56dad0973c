import { describe, expect, it } from 'vitest';
import { conversionFactory } from '../../test/support/factories.ts';
import { ConversionSchema } from './conversion.ts';

describe('ConversionSchema', () => {
  it('accepts a Conversion and names every bad field of one it refuses, with zod’s English messages', () => {
    const valid = { ...conversionFactory(), contents: [{ id: 'sku_1', quantity: 2, price: 9.99 }] };
    expect(ConversionSchema.safeParse(valid)).toEqual({ success: true, data: valid });
    const rejected = ConversionSchema.safeParse({ ...valid, currency: 'usd', value: -1, user: { email: 'not-a-hash' }, contents: [{ id: '' }] });
    expect(rejected.success).toBe(false);
    expect(rejected.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).sort()).toEqual([
      'contents.0.id: Too small: expected string to have >=1 characters',
      'currency: Invalid string: must match pattern /^[A-Z]{3}$/',
      'user.email: must be a lowercase SHA-256 hex digest',
      'value: Too small: expected number to be >=0',
    ]);
  });
});
