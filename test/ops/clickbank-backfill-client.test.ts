import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clickbankForBackfill, clickbankHistory } from '../../lib/ops/clickbank-history.ts';
import type { Clock } from '../../lib/ops/throttle.ts';
import { startClickbankOrdersFake, type ClickbankOrdersFake } from '../fakes/clickbank-orders-server.ts';
import { clickbankOrder } from '../support/clickbank.ts';

/** A clock that only moves when someone sleeps: the throttle's and backoff's waits are read off it. */
function fakeClock(): Clock & { sleeps: number[] } {
  let t = 1_000_000;
  const sleeps: number[] = [];
  return { sleeps, now: () => t, sleep: async (ms) => { sleeps.push(ms); t += ms; } };
}

const KEY = 'API-BACKFILLCLIENT42';
const NOW = new Date('2026-11-20T18:00:00Z');
const S = Math.floor(NOW.getTime() / 1000);
const WEEK = { gte: S - 7 * 86400, lte: S };

describe('the backfill\'s ClickBank Orders API client', () => {
  let fake: ClickbankOrdersFake;
  const client = (settings: Record<string, string> = {}, clock = fakeClock(), retried: number[] = []) =>
    clickbankForBackfill({ settings: { CLICKBANK_API_KEY: KEY, CLICKBANK_API_BASE_URL: fake.baseUrl, ...settings }, clock, onRateLimited: (_e, attempt) => retried.push(attempt) });
  const all = async (api: ReturnType<typeof client>, window = WEEK) => {
    const rows = [];
    for await (const row of api.listOrders(window)) rows.push(row);
    return rows;
  };

  beforeAll(async () => {
    fake = await startClickbankOrdersFake({ apiKey: KEY });
  });
  afterAll(async () => fake.close());
  beforeEach(() => fake.reset());

  it('reads every page (Page header, 206 until the last), at the configured rate', async () => {
    fake.add(...Array.from({ length: 230 }, (_, i) => clickbankOrder({ receipt: `P${String(i).padStart(7, '0')}` }, new Date(NOW.getTime() - 3600_000))));
    const clock = fakeClock();
    const rows = await all(client({ CLICKBANK_BACKFILL_RATE: '4' }, clock));
    expect(rows).toHaveLength(230);
    expect(fake.requests.map((r) => [r.page, r.status])).toEqual([[1, 206], [2, 206], [3, 200]]);
    // Whole days, one more on each side (the API's days are ClickBank's time zone's).
    expect(fake.requests[0].query).toEqual({ startDate: '2026-11-12', endDate: '2026-11-21' });
    // Three pages at 4/s: two waits of 250 ms.
    expect(clock.sleeps).toEqual([250, 250]);
  });

  it('keeps only the orders whose time is inside the window', async () => {
    const hour = 3600_000;
    fake.add(
      clickbankOrder({ receipt: 'INSIDE01' }, new Date(NOW.getTime() - 2 * hour)),
      // Same ClickBank day as the window's first hour, but before it.
      clickbankOrder({ receipt: 'BEFORE01' }, new Date((WEEK.gte - 60) * 1000)),
      clickbankOrder({ receipt: 'EDGE0001' }, new Date(WEEK.gte * 1000)),
    );
    expect((await all(client())).map((r) => r.receipt)).toEqual(['INSIDE01', 'EDGE0001']);
  });

  it('retries 429 and 503 after a growing backoff, then gives up saying what to do', async () => {
    fake.add(clickbankOrder({}, new Date(NOW.getTime() - 60_000)));
    const clock = fakeClock();
    const retried: number[] = [];
    fake.rateLimit(2);
    expect(await all(client({}, clock, retried))).toHaveLength(1);
    expect(retried).toEqual([1, 2]);
    expect(clock.sleeps[1]).toBeGreaterThanOrEqual(1000);
    fake.reset();
    fake.rateLimit(20, 503);
    await expect(all(client())).rejects.toThrow(/ClickBank kept answering 503 after every retry: lower CLICKBANK_BACKFILL_RATE/);
  });

  it('a refused key says which permission to give it, and never shows the key', async () => {
    fake.deny();
    const err = await all(client()).catch((e: Error) => e);
    expect(String(err)).toMatch(/ClickBank refused the key \(403: Access Denied.*\)\. Give the API key "Orders\/Tickets API Read" \(the API Order Read role\)/);
    expect(String(err)).not.toContain(KEY);
  });

  it('refuses to start without a key, or with something that is not a ClickBank key', () => {
    expect(() => clickbankForBackfill({ settings: {} })).toThrow(/Set CLICKBANK_API_KEY .*"Orders\/Tickets API Read"/);
    expect(() => clickbankForBackfill({ settings: { CLICKBANK_API_KEY: 'sk_live_123' } })).toThrow(/does not look like a ClickBank API key/);
    expect(() => clickbankForBackfill({ settings: { CLICKBANK_API_KEY: KEY, CLICKBANK_BACKFILL_RATE: '0' } })).toThrow(/positive number/);
    expect(() => clickbankForBackfill({ settings: { CLICKBANK_API_KEY: `DEV-OLDKEY1:${KEY}` } })).not.toThrow();
  });

  it('groups the window\'s orders by receipt and type, in the order first seen', async () => {
    const at = new Date(NOW.getTime() - 60_000);
    fake.add(clickbankOrder({ receipt: 'A0000001' }, at), clickbankOrder({ receipt: 'B0000001' }, at), clickbankOrder({ receipt: 'A0000001', transactionType: 'RFND' }, at), clickbankOrder({ receipt: 'A0000001', lineItemData: [{ itemNo: '2' }] }, at));
    const groups = [];
    for await (const { kind, group } of clickbankHistory(client(), WEEK)) groups.push([kind, group.receipt, group.rows.length]);
    expect(groups).toEqual([['SALE orders', 'A0000001', 2], ['SALE orders', 'B0000001', 1], ['RFND orders', 'A0000001', 1]]);
  });
});
