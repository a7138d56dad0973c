/**
 * Amounts from payment processors arrive in minor units. Platforms want decimal major units.
 * Source: https://docs.stripe.com/currencies (zero-decimal and three-decimal lists). ISK, HUF and TWD stay
 * two-decimal in Stripe's API ("an ISK amount of 100 represents 1 króna"), so they need no special case here.
 */
const ZERO_DECIMAL = new Set(['BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG', 'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF']);
const THREE_DECIMAL = new Set(['BHD', 'JOD', 'KWD', 'OMR', 'TND']);

export function minorUnitDigits(currency: string): number {
  const c = currency.toUpperCase();
  if (ZERO_DECIMAL.has(c)) return 0;
  if (THREE_DECIMAL.has(c)) return 3;
  return 2;
}

/** 1999 USD → 19.99; 500 JPY → 500; 5120 KWD → 5.12. Rounded to the currency's digits to avoid float noise. */
export function fromMinorUnits(amount: number, currency: string): number {
  if (!Number.isSafeInteger(amount)) throw new RangeError(`amount must be an integer number of minor units, got ${amount}`);
  const digits = minorUnitDigits(currency);
  return Number((amount / 10 ** digits).toFixed(digits));
}

/**
 * A decimal amount already in major units (ClickBank's `47.00`, a network's `payout=12.5`), as a number rounded to
 * the currency's digits. Accepts a number or a plain decimal string; throws RangeError for anything else.
 */
export function fromMajorUnits(amount: number | string, currency: string): number {
  const n = typeof amount === 'number' ? amount : /^\s*-?\d+(\.\d+)?\s*$/.test(amount) ? Number(amount) : Number.NaN;
  if (!Number.isFinite(n)) throw new RangeError(`amount must be a decimal number, got ${JSON.stringify(amount)}`);
  const digits = minorUnitDigits(currency);
  // toFixed rounds the binary float; +0 turns -0 into 0.
  return Number(n.toFixed(digits)) + 0;
}
