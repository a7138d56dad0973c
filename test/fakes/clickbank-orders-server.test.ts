import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clickbankOrder } from '../support/clickbank.ts';
import { startClickbankOrdersFake, type ClickbankOrdersFake } from './clickbank-orders-server.ts';

const KEY = 'API-FAKEORDERS0123456789';
const AT = new Date('2026-11-20T18:00:00Z'); // 2026-11-20T11:00:00-07:00

describe('ClickBank Orders API fake', () => {
  let fake: ClickbankOrdersFake;
  const list = (query = '', headers: Record<string, string> = {}) => fetch(`${fake.baseUrl}/rest/1.3/orders2/list${query}`, { headers: { authorization: KEY, accept: 'application/json', ...headers } });

  beforeAll(async () => {
    fake = await startClickbankOrdersFake({ apiKey: KEY });
  });
  afterAll(async () => fake.close());
  beforeEach(() => fake.reset());

  it('wants the API key itself in Authorization (no Bearer), and a permission for it', async () => {
    fake.add(clickbankOrder({}, AT));
    expect((await list('', { authorization: `Bearer ${KEY}` })).status).toBe(403);
    expect((await fetch(`${fake.baseUrl}/rest/1.3/orders2/list`, { headers: { accept: 'application/json' } })).status).toBe(403);
    expect((await list()).status).toBe(200);
    fake.deny();
    const denied = await list();
    expect(denied.status).toBe(403);
    expect(await denied.text()).toMatch(/not authorized/);
  });

  it('pages 100 orders at a time by the Page header: 206 while more follow, 200 for the last, 204 past it', async () => {
    fake.add(...Array.from({ length: 250 }, (_, i) => clickbankOrder({ receipt: `R${String(i).padStart(7, '0')}` }, AT)));
    const pages = [];
    for (const page of ['1', '2', '3', '4']) {
      const res = await list('', { page });
      pages.push([res.status, res.status === 204 ? 0 : ((await res.json()) as any).orderData.length]);
    }
    expect(pages).toEqual([[206, 100], [206, 100], [200, 50], [204, 0]]);
    expect(fake.requests.map((r) => r.page)).toEqual([1, 2, 3, 4]);
  });

  it('speaks ClickBank\'s JSON: one order as a bare object, numbers and booleans as strings, nil objects for absent values', async () => {
    fake.add(clickbankOrder({ vendorVariables: { item: [{ name: 'cr_vid', value: 'abc' }] } }, AT));
    const body = (await (await list()).json()) as any;
    expect(Array.isArray(body.orderData)).toBe(false);
    expect(body.orderData).toMatchObject({ receipt: 'XK4JQ7PL', totalOrderAmount: '47.00', trackingId: { '@nil': 'true' }, declinedConsent: 'false' });
    expect(body.orderData.lineItemData).toMatchObject({ itemNo: '1', quantity: '1', recurring: 'false' });
    expect(body.orderData.vendorVariables).toEqual({ item: { name: 'cr_vid', value: 'abc' } });
  });

  it('filters by startDate/endDate (both or neither) on the order\'s own date, and by type; refuses unknown parameters', async () => {
    fake.add(clickbankOrder({ receipt: 'OLD00001' }, new Date('2026-11-10T18:00:00Z')), clickbankOrder({}, AT), clickbankOrder({ transactionType: 'RFND' }, AT));
    const receipts = async (q: string) => {
      const res = await list(q);
      if (res.status === 204) return [];
      const data = ((await res.json()) as any).orderData;
      return (Array.isArray(data) ? data : [data]).map((o: any) => `${o.receipt}:${o.transactionType}`);
    };
    expect(await receipts('?startDate=2026-11-19&endDate=2026-11-20')).toEqual(['XK4JQ7PL:SALE', 'XK4JQ7PL:RFND']);
    expect(await receipts('?startDate=2026-11-19&endDate=2026-11-20&type=RFND')).toEqual(['XK4JQ7PL:RFND']);
    expect(await receipts('?startDate=2026-11-21&endDate=2026-11-22')).toEqual([]);
    expect((await list('?startDate=2026-11-19')).status).toBe(400);
    expect((await list('?since=2026-11-19')).status).toBe(400);
    expect((await list('?startDate=19.11.2026&endDate=2026-11-20')).status).toBe(400);
    const count = await fetch(`${fake.baseUrl}/rest/1.3/orders2/count?startDate=2026-11-01&endDate=2026-11-30`, { headers: { authorization: KEY } });
    expect(await count.text()).toBe('3');
  });

  it('answers 429 for the requests it was told to, then serves again', async () => {
    fake.add(clickbankOrder({}, AT));
    fake.rateLimit(1);
    expect((await list()).status).toBe(429);
    expect((await list()).status).toBe(200);
    fake.rateLimit(1, 503);
    expect((await list()).status).toBe(503);
    expect(fake.requests.map((r) => r.status)).toEqual([429, 200, 503]);
  });
});
