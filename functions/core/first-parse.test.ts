import { describe, expect, it, vi } from 'vitest';
import { conversionFactory } from '../../test/support/factories.ts';
import { ConversionSchema } from './conversion.ts';
import { compiledAfterFirstParse } from './first-parse.ts';

describe('compiledAfterFirstParse', () => {
  it('parses interpreted only the first time, then on the compiled path', () => {
    const spy = vi.spyOn(ConversionSchema, 'safeParse');
    const parse = compiledAfterFirstParse(ConversionSchema);
    parse(conversionFactory());
    parse(conversionFactory());
    parse(conversionFactory());
    expect(spy.mock.calls.map((call) => call[1])).toEqual([{ jitless: true }, undefined, undefined]);
    spy.mockRestore();
  });

  it('accepts and rejects the same values, with the same issues, on both paths', () => {
    const valid = { ...conversionFactory(), contents: [{ id: 'sku_1', quantity: 2, price: 9.99 }] };
    const invalid = { ...conversionFactory(), currency: 'usd', value: -1, user: { email: 'not-a-hash' }, contents: [{ id: '' }] };
    for (const first of [valid, invalid]) {
      const parse = compiledAfterFirstParse(ConversionSchema);
      const interpreted = parse(first);
      const compiled = parse(first);
      expect(compiled).toEqual(interpreted);
      expect(compiled).toEqual(ConversionSchema.safeParse(first));
    }
    const parse = compiledAfterFirstParse(ConversionSchema);
    expect(parse(valid).success).toBe(true);
    const rejected = parse(invalid);
    expect(rejected.success).toBe(false);
    expect(rejected.error!.issues.map((i) => i.path.join('.')).sort()).toEqual(['contents.0.id', 'currency', 'user.email', 'value']);
  });
});
