import { describe, expect, it } from 'vitest';
import { fromMajorUnits, fromMinorUnits, minorUnitDigits } from './money.ts';

// Expected values follow Stripe's currency docs (https://docs.stripe.com/currencies, sources.md §2.6):
// amounts are integer minor units; zero-decimal currencies are whole units; three-decimal ones are ×1000;
// ISK is charged in two-decimal form in the API ("an ISK amount of 100 represents 1 króna").

describe('fromMinorUnits', () => {
  it('divides a two-decimal currency by 100 (USD 1999 → 19.99)', () => {
    expect(fromMinorUnits(1999, 'USD')).toBe(19.99);
  });

  it('keeps a zero-decimal currency as whole units (JPY 500 → 500)', () => {
    expect(fromMinorUnits(500, 'JPY')).toBe(500);
    expect(fromMinorUnits(15000, 'KRW')).toBe(15000);
  });

  it('divides a three-decimal currency by 1000 (KWD 5120 → 5.12)', () => {
    expect(fromMinorUnits(5120, 'KWD')).toBe(5.12);
    expect(fromMinorUnits(1, 'BHD')).toBe(0.001);
  });

  it('treats ISK as two-decimal, as Stripe’s API does (ISK 10000 → 100)', () => {
    expect(fromMinorUnits(10000, 'ISK')).toBe(100);
  });

  it('accepts the lower-case codes Stripe sends', () => {
    expect(fromMinorUnits(1999, 'usd')).toBe(19.99);
    expect(fromMinorUnits(500, 'jpy')).toBe(500);
    expect(fromMinorUnits(5120, 'kwd')).toBe(5.12);
  });

  it('returns a number equal to the decimal literal a user would write', () => {
    expect(fromMinorUnits(1005, 'EUR')).toBe(10.05);
    expect(fromMinorUnits(29, 'USD')).toBe(0.29);
  });

  it('handles zero', () => {
    expect(fromMinorUnits(0, 'USD')).toBe(0);
  });

  it.each([19.99, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])('throws on a non-integer (or unsafe) amount %s', (amount) => {
    expect(() => fromMinorUnits(amount, 'USD')).toThrow(RangeError);
  });
});

describe('minorUnitDigits', () => {
  it.each([
    ['USD', 2],
    ['eur', 2],
    ['JPY', 0],
    ['VND', 0],
    ['XOF', 0],
    ['KWD', 3],
    ['TND', 3],
    ['ISK', 2],
  ])('%s has %i minor-unit digits in Stripe amounts', (currency, digits) => {
    expect(minorUnitDigits(currency)).toBe(digits);
  });
});

describe('fromMajorUnits', () => {
  it('keeps a decimal amount in major units, rounded to the currency’s digits', () => {
    expect(fromMajorUnits(47, 'USD')).toBe(47);
    expect(fromMajorUnits(19.999, 'USD')).toBe(20);
    expect(fromMajorUnits(500.4, 'JPY')).toBe(500);
    expect(fromMajorUnits(5.1234, 'KWD')).toBe(5.123);
  });

  it('reads plain decimal strings, as postbacks send them', () => {
    expect(fromMajorUnits('12.50', 'USD')).toBe(12.5);
    expect(fromMajorUnits(' 3 ', 'EUR')).toBe(3);
  });

  it('refuses what is not a decimal number', () => {
    for (const bad of ['', 'abc', '1e3', '12,50', '0x10', Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => fromMajorUnits(bad, 'USD'), String(bad)).toThrow(RangeError);
    }
  });
});
