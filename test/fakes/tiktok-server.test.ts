import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTikTokFake, tiktokError, type TikTokFake } from './tiktok-server.ts';

const PIXEL = 'C9Q2MJ3C77U4P674RPG0';
const TOKEN = 'tt-access-token-test';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const nowS = () => Math.floor(Date.now() / 1000);

function purchase(overrides: Record<string, any> = {}, user: Record<string, any> = {}): any {
  return {
    event: 'Purchase',
    event_time: nowS() - 30,
    event_id: 'order-1001',
    user: { email: sha('jane@example.com'), phone: sha('+16505551212'), ttclid: 'E.C.P.abc123', ttp: '2abcDEF', ip: '203.0.113.9', user_agent: 'Mozilla/5.0', ...user },
    properties: { value: 49.99, currency: 'USD', order_id: 'order-1001', contents: [{ content_id: 'sku-1', quantity: 1, price: 49.99 }] },
    page: { url: 'https://shop.example.com/thanks' },
    limited_data_use: false,
    ...overrides,
  };
}

describe('TikTok Events API fake', () => {
  let tiktok: TikTokFake;
  const post = (body: unknown, headers: Record<string, string> = { 'access-token': TOKEN }) =>
    fetch(`${tiktok.baseUrl}/open_api/v1.3/event/track/`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const send = async (data: unknown[], extra: Record<string, unknown> = {}) => {
    const res = await post({ event_source: 'web', event_source_id: PIXEL, data, ...extra });
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(async () => { tiktok = await startTikTokFake({ pixelCode: PIXEL, accessToken: TOKEN }); });
  afterAll(async () => tiktok.close());
  beforeEach(() => tiktok.reset());

  it('accepts a valid web Purchase with code 0 and records it with its test code', async () => {
    const ev = purchase();
    const { status, body } = await send([ev], { test_event_code: 'TEST123' });
    expect(status).toBe(200);
    expect(body).toMatchObject({ code: 0, message: 'OK', request_id: expect.any(String) });
    expect(tiktok.events()).toEqual([ev]);
    expect(tiktok.accepted()[0]).toMatchObject({ pixelCode: PIXEL, testEventCode: 'TEST123' });
  });

  it('answers a missing token with 40104 and a wrong one with 40105, under HTTP 200', async () => {
    const missing = await post({ event_source: 'web', event_source_id: PIXEL, data: [purchase()] }, {});
    expect(missing.status).toBe(200);
    expect(await missing.json()).toMatchObject({ code: 40104 });
    const wrong = await post({ event_source: 'web', event_source_id: PIXEL, data: [purchase()] }, { 'access-token': 'nope' });
    expect(await wrong.json()).toMatchObject({ code: 40105 });
    expect(tiktok.events()).toEqual([]);
  });

  it('refuses a pixel the token cannot operate (40001)', async () => {
    const res = await post({ event_source: 'web', event_source_id: 'OTHERPIXEL123', data: [purchase()] });
    expect(await res.json()).toMatchObject({ code: 40001, message: expect.stringContaining('event_source_id') });
  });

  it('fails the whole batch for one unhashed e-mail (40062)', async () => {
    const { body } = await send([purchase({ event_id: 'ok' }), purchase({ event_id: 'bad' }, { email: 'jane@example.com' })]);
    expect(body).toMatchObject({ code: 40062, message: expect.stringContaining('data[1].user.email') });
    expect(tiktok.events()).toEqual([]);
  });

  it.each([
    ['event_time in milliseconds', { event_time: Date.now() }, /milliseconds/],
    ['a numeric event_id', { event_id: 1001 }, /event_id: not a valid string/],
    ['a missing event name', { event: '' }, /data\[0\]\.event/],
    ['a lowercase currency', { properties: { value: 1, currency: 'usd' } }, /currency/],
  ])('refuses %s with 40002', async (_what, overrides, message) => {
    const { body } = await send([purchase(overrides)]);
    expect(body.code).toBe(40002);
    expect(body.message).toMatch(message);
  });

  it('refuses an invalid IP and more than 1000 events', async () => {
    expect((await send([purchase({}, { ip: '999.1.1.1' })])).body.code).toBe(40002);
    expect((await send(Array.from({ length: 1001 }, (_, i) => purchase({ event_id: `e${i}` })))).body.code).toBe(40061);
  });

  it('answers injected failures in order, then recovers', async () => {
    tiktok.failNext(1, { body: tiktokError(40100, 'Too many requests. Please retry in some time.') });
    tiktok.failNext(1, { status: 503, body: tiktokError(50000, 'System error') });
    expect((await send([purchase()])).body.code).toBe(40100);
    const second = await send([purchase()]);
    expect(second.status).toBe(503);
    expect((await send([purchase()])).body.code).toBe(0);
    expect(tiktok.events()).toHaveLength(1);
  });

  it('fails every request containing a matching event', async () => {
    tiktok.failWhen((e) => e.event_id === 'poison', { body: tiktokError(40002, 'Invalid value for data[0].properties') });
    expect((await send([purchase({ event_id: 'poison' }), purchase()])).body.code).toBe(40002);
    expect((await send([purchase()])).body.code).toBe(0);
  });
});
