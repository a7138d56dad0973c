import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import kat from '../../../test/fixtures/clickbank/ins-kat.json' with { type: 'json' };
import { clickbankEncrypt, clickbankNotification } from '../../../test/support/clickbank.ts';
import { NOW } from '../../../test/support/factories.ts';
import { incomingRequest } from '../../../test/support/requests.ts';
import { readOutcome } from '../../../test/support/source-results.ts';
import { clickbankSource } from './index.ts';

/**
 * Whatever arrives, the source either reads it or refuses it with a 4xx RequestError — never a crash that would
 * answer 500 and make ClickBank retry a request that can never succeed.
 */
const SETTINGS = { CLICKBANK_SECRET_KEY: kat.secretKey };
const outcome = (body: string | Buffer, settings: Record<string, string> = SETTINGS) =>
  readOutcome(() => clickbankSource.read(incomingRequest({ path: '/webhooks/clickbank', contentType: 'application/json', body }), settings, NOW));

/** Arbitrary JSON, weighted towards what breaks amounts and strings: negatives, huge numbers, long and odd strings. */
const anyValue = fc.oneof(
  fc.jsonValue(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
  fc.string({ maxLength: 300 }),
  fc.constantFrom(null, '', '********', 'USD', '-1.00', '1e3', []),
  fc.array(fc.dictionary(fc.constantFrom('itemNo', 'quantity', 'productPrice', 'productTitle', 'recurring', 'paymentsProcessed'), fc.oneof(fc.integer({ min: -5, max: 5 }), fc.string({ maxLength: 250 }), fc.boolean())), { maxLength: 3 }),
);

describe('clickbank source: arbitrary input', () => {
  it('refuses arbitrary bytes with a 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (bytes) => {
        expect(await outcome(Buffer.from(bytes))).toBe(400);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses the real ciphertext under arbitrary 16-byte IVs and arbitrary secrets with a 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.string({ minLength: 1, maxLength: 20 }), async (iv, secret) => {
        fc.pre(secret.trim() !== '' && secret.trim() !== kat.secretKey && !secret.includes(',')); // blank = not configured (a 500 by design)
        const body = JSON.stringify({ ...kat.body, iv: Buffer.from(iv).toString('base64') });
        expect(await outcome(body)).toBe(400);
        expect(await outcome(JSON.stringify(kat.body), { CLICKBANK_SECRET_KEY: secret })).toBe(400);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses (4xx) arbitrary JSON that decrypts correctly', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        const result = await outcome(JSON.stringify(clickbankEncrypt(value, kat.secretKey)));
        expect(result).toBe(400);
      }),
      { numRuns: 200 },
    );
  });

  it('reads or refuses (4xx) a real-shaped notification with any field replaced by arbitrary JSON', async () => {
    const base = clickbankNotification();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...Object.keys(base)), anyValue, fc.constantFrom('SALE', 'BILL', 'RFND', 'TEST', 'ABANDONED_ORDER', 'X'), async (key, value, type) => {
        const notification = { ...base, transactionType: type, [key]: value };
        const result = await outcome(JSON.stringify(clickbankEncrypt(notification, kat.secretKey)), { ...SETTINGS, CLICKBANK_ABANDONED_ORDER_EVENT: 'Lead' } as Record<string, string>);
        expect(['read', 400]).toContain(result);
      }),
      { numRuns: 1000 },
    );
  });
});
