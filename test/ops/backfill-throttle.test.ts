import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stripeForBackfill, throttledHttpClient } from '../../lib/ops/stripe-history.ts';
import { Throttle, backoffMs, type Clock } from '../../lib/ops/throttle.ts';
import { startStripeApiFake, type StripeApiFake } from '../fakes/stripe-api-server.ts';

/** A clock that only moves when someone sleeps: the throttle's waits are read off it, no test waits for real. */
function fakeClock(): Clock & { sleeps: number[] } {
  let t = 1_000_000;
  const sleeps: number[] = [];
  return { sleeps, now: () => t, sleep: async (ms) => { sleeps.push(ms); t += ms; } };
}

describe('Throttle', () => {
  it('lets one request per endpoint through per 1/rate seconds, endpoints independently', async () => {
    const clock = fakeClock();
    const throttle = new Throttle(25, clock);
    const started = clock.now();
    const at: number[] = [];
    for (let i = 0; i < 50; i++) {
      await throttle.wait('GET /v1/invoices');
      at.push(clock.now() - started);
    }
    // 50 requests at 25/s: the last one 49 intervals of 40 ms after the first, never two closer than 40 ms.
    expect(at.at(-1)).toBe(49 * 40);
    expect(at.slice(1).every((t, i) => t - at[i] >= 40)).toBe(true);
    const before = clock.now();
    await throttle.wait('GET /v1/refunds');
    expect(clock.now()).toBe(before);
  });

  it('reserves slots in call order, so concurrent callers queue instead of bursting', async () => {
    const waits: number[] = [];
    // Time stands still while the three calls reserve their slots.
    const clock: Clock = { now: () => 0, sleep: async (ms) => { waits.push(ms); } };
    const concurrent = new Throttle(10, clock);
    await Promise.all([concurrent.wait('e'), concurrent.wait('e'), concurrent.wait('e')]);
    expect(waits).toEqual([100, 200]);
    expect(() => new Throttle(0)).toThrow(/positive/);
  });

  it('backs off exponentially with jitter, capped', () => {
    expect([0, 1, 2, 3].map((a) => backoffMs(a, { baseMs: 1000, random: () => 0 }))).toEqual([500, 1000, 2000, 4000]);
    expect([0, 1, 2, 3].map((a) => backoffMs(a, { baseMs: 1000, random: () => 1 }))).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffMs(20, { baseMs: 1000, maxMs: 30_000, random: () => 1 })).toBe(30_000);
  });
});

describe('the backfill\'s Stripe client', () => {
  const KEY = 'rk_test_throttle';
  let fake: StripeApiFake;
  beforeAll(async () => {
    fake = await startStripeApiFake({ apiKey: KEY });
  });
  afterAll(async () => fake.close());
  beforeEach(() => {
    fake.reset();
    fake.add(...Array.from({ length: 5 }, (_, i) => ({ id: `in_${i}`, object: 'invoice', created: 1_790_000_000 + i, status: 'paid' })));
  });

  it('retries a 429 after a growing backoff (stripe-node alone does not) and reads every page', async () => {
    const clock = fakeClock();
    const retries: number[] = [];
    const stripe = stripeForBackfill({ settings: { STRIPE_API_KEY: KEY, STRIPE_API_BASE_URL: fake.baseUrl }, clock, onRateLimited: (_e, attempt) => retries.push(attempt) });
    fake.rateLimit('/v1/invoices', 3);
    const all = await stripe.invoices.list({ limit: 2 }).autoPagingToArray({ limit: 100 });
    expect(all.map((i) => i.id)).toEqual(['in_4', 'in_3', 'in_2', 'in_1', 'in_0']);
    expect(fake.requests.map((r) => r.status)).toEqual([429, 429, 429, 200, 200, 200]);
    expect(retries).toEqual([1, 2, 3]);
    const backoffs = clock.sleeps.filter((ms) => ms >= 500);
    expect(backoffs.length).toBe(3);
    expect(backoffs[1]).toBeGreaterThanOrEqual(1000);
    expect(backoffs[2]).toBeGreaterThanOrEqual(2000);
  });

  it('gives up after its retries with Stripe\'s rate-limit error', async () => {
    const clock = fakeClock();
    const inner = Stripe.createNodeHttpClient();
    const url = new URL(fake.baseUrl);
    const stripe = new Stripe(KEY, { host: url.hostname, port: Number(url.port), protocol: 'http', maxNetworkRetries: 0, httpClient: throttledHttpClient(inner, new Throttle(1000, clock), { clock, maxRateLimitRetries: 2 }) });
    fake.rateLimit('/v1/invoices', 5);
    await expect(stripe.invoices.list()).rejects.toMatchObject({ statusCode: 429, type: 'StripeRateLimitError' });
    expect(fake.requests.length).toBe(3);
  });

  it('paces requests to one endpoint at the configured rate', async () => {
    const clock = fakeClock();
    const stripe = stripeForBackfill({ settings: { STRIPE_API_KEY: KEY, STRIPE_API_BASE_URL: fake.baseUrl, STRIPE_BACKFILL_RATE: '5' }, clock });
    await stripe.invoices.list({ limit: 1 }).autoPagingToArray({ limit: 100 });
    expect(fake.requests.length).toBe(5);
    // Five pages at 5/s: four waits of 200 ms on the throttle's clock.
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBe(800);
  });

  it('refuses to start without a key, or with something that is not a Stripe key', () => {
    expect(() => stripeForBackfill({ settings: {} })).toThrow(/STRIPE_API_KEY.*restricted/);
    expect(() => stripeForBackfill({ settings: { STRIPE_API_KEY: 'whsec_nope' } })).toThrow(/does not look like a Stripe API key/);
    expect(() => stripeForBackfill({ settings: { STRIPE_API_KEY: KEY, STRIPE_BACKFILL_RATE: '0' } })).toThrow(/positive number/);
  });
});
