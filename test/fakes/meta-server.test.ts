import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { metaError, metaThrottle, startMetaFake, type MetaFake } from './meta-server.js';

const PIXEL = '1234567890';
const TOKEN = 'EAAtest-token';
const VERSION = 'v24.0';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const nowS = () => Math.floor(Date.now() / 1000);

function purchase(overrides: Record<string, any> = {}, userData: Record<string, any> = {}): any {
  return {
    event_name: 'Purchase',
    event_time: nowS() - 30,
    event_id: 'order-1001',
    action_source: 'website',
    event_source_url: 'https://shop.example.com/checkout/thanks',
    user_data: {
      em: [sha('john_smith@gmail.com')],
      ph: [sha('16505551212')],
      client_ip_address: '2001:db8::1',
      client_user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
      fbc: 'fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890',
      fbp: 'fb.1.1558571054389.1098115397',
      ...userData,
    },
    custom_data: { currency: 'USD', value: 123.45 },
    ...overrides,
  };
}

describe('Meta CAPI fake', () => {
  let meta: MetaFake;
  const post = (body: unknown, path = `/${VERSION}/${PIXEL}/events`) =>
    fetch(meta.baseUrl + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const send = (data: unknown[], extra: Record<string, unknown> = {}) => post({ data, access_token: TOKEN, ...extra });

  async function expectInvalid(res: Response, subcode: number, msg: RegExp) {
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body).toEqual({
      error: expect.objectContaining({ message: 'Invalid parameter', type: 'OAuthException', code: 100, error_subcode: subcode, is_transient: false, fbtrace_id: expect.any(String) }),
    });
    expect(body.error.error_user_msg).toMatch(msg);
    expect(meta.events()).toEqual([]); // the whole batch is rejected
    return body;
  }

  beforeAll(async () => { meta = await startMetaFake({ pixelId: PIXEL, accessToken: TOKEN, apiVersion: VERSION }); });
  afterAll(async () => { await meta.close(); });
  beforeEach(() => meta.reset());

  it('accepts a valid website Purchase and records it', async () => {
    const ev = purchase();
    const res = await send([ev], { test_event_code: 'TEST123' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ events_received: 1, messages: [], fbtrace_id: expect.any(String) });
    expect(meta.events()).toEqual([ev]);
    expect(meta.requests).toHaveLength(1);
    expect(meta.requests[0]).toMatchObject({ pixelId: PIXEL, accessToken: TOKEN, status: 200, body: { test_event_code: 'TEST123' } });
  });

  it('takes the token from the query string too, and accepts a form-encoded body', async () => {
    const form = new URLSearchParams({ data: JSON.stringify([purchase()]) });
    const res = await fetch(`${meta.baseUrl}/${VERSION}/${PIXEL}/events?access_token=${TOKEN}`, { method: 'POST', body: form });
    expect(res.status).toBe(200);
    expect(meta.events()).toHaveLength(1);
  });

  it('rejects event_time in milliseconds', async () => {
    await expectInvalid(await send([purchase({ event_time: Date.now() })]), 2804019, /milliseconds/);
  });

  it('rejects an 8-day-old event (and accepts it for physical_store, which has 62 days)', async () => {
    const old = nowS() - 8 * 24 * 3600;
    await expectInvalid(await send([purchase(), purchase({ event_time: old, event_id: 'o2' })]), 2804003, /within 7 days/);
    const res = await send([purchase({ event_time: old, action_source: 'physical_store', event_source_url: undefined })]);
    expect(res.status).toBe(200);
  });

  it('rejects a raw email with a clear message', async () => {
    await expectInvalid(await send([purchase({}, { em: 'John@Example.com' })]), 2804019, /unhashed email/);
  });

  it('rejects uppercase hex hashes and a 64-char external_id that is not hex', async () => {
    await expectInvalid(await send([purchase({}, { ph: sha('1').toUpperCase() })]), 2804019, /lowercase/);
    await expectInvalid(await send([purchase({}, { external_id: 'x'.repeat(64) })]), 2804019, /external_id/);
  });

  it('rejects a badly formatted fbc (seconds instead of ms, missing fbclid) and fbp', async () => {
    await expectInvalid(await send([purchase({}, { fbc: 'fb.1.1554763741.AbC' })]), 2804001, /fbc/);
    await expectInvalid(await send([purchase({}, { fbc: 'fb.1.1554763741205' })]), 2804001, /fbc/);
    await expectInvalid(await send([purchase({}, { fbp: 'fb.1.1558571054389.abc' })]), 2804019, /fbp/);
    expect((await send([purchase({}, { fbc: 'fb.1.1554763741205.AbC-_9.Ag' })])).status).toBe(200); // 5th segment allowed
  });

  it('requires client_user_agent and event_source_url for website events', async () => {
    await expectInvalid(await send([purchase({}, { client_user_agent: undefined })]), 2804019, /client_user_agent/);
    await expectInvalid(await send([purchase({ event_source_url: undefined })]), 2804019, /event_source_url/);
  });

  it('enforces Purchase currency/value, event_id type, IP format and action_source', async () => {
    await expectInvalid(await send([purchase({ custom_data: { value: 10 } })]), 2804019, /currency/);
    await expectInvalid(await send([purchase({ custom_data: { currency: 'USD', value: '10' } })]), 2804019, /value/);
    await expectInvalid(await send([purchase({ event_id: 1001 })]), 2804019, /event_id/);
    await expectInvalid(await send([purchase({}, { client_ip_address: '11.11.11' })]), 2804019, /client_ip_address/);
    await expectInvalid(await send([purchase({ action_source: 'web' })]), 2804019, /action_source/);
  });

  it('rejects an event without enough customer information (2804050)', async () => {
    const ev = { event_name: 'Lead', event_time: nowS(), action_source: 'system_generated', user_data: { ct: sha('paris') } };
    await expectInvalid(await send([ev]), 2804050, /customer information/);
  });

  it('rejects 1001 events and an empty batch', async () => {
    await expectInvalid(await send(Array.from({ length: 1001 }, (_, i) => purchase({ event_id: `o${i}` }))), 2804019, /at most 1000/);
    await expectInvalid(await send([]), 2804019, /non-empty/);
    const res = await send(Array.from({ length: 1000 }, (_, i) => purchase({ event_id: `o${i}` })));
    expect(await res.json()).toMatchObject({ events_received: 1000 });
  });

  it('answers auth, pixel, version and JSON problems with Graph errors', async () => {
    let res = await post({ data: [purchase()], access_token: 'wrong' });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({ type: 'OAuthException', code: 190, message: expect.stringMatching(/^Invalid OAuth access token/) });

    res = await post({ data: [purchase()] });
    expect((await res.json()).error).toMatchObject({ type: 'OAuthException', code: 104 });

    res = await post({ data: [purchase()], access_token: TOKEN }, `/${VERSION}/999/events`);
    expect((await res.json()).error).toMatchObject({ type: 'GraphMethodException', code: 100, error_subcode: 33 });

    res = await post({ data: [purchase()], access_token: TOKEN }, `/v19.0/${PIXEL}/events`);
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe(2635);

    res = await post(`{"data": [oops`, `/${VERSION}/${PIXEL}/events?access_token=${TOKEN}`);
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe(100);
    expect(meta.requests.at(-1)).toMatchObject({ status: 400, body: '{"data": [oops' });
  });

  it('de-duplicates by event_name + event_id in uniqueEvents()', async () => {
    const a = purchase({ event_id: 'A' });
    const b = purchase({ event_id: 'B' });
    const leadA = purchase({ event_name: 'Lead', event_id: 'A', custom_data: undefined });
    const noId = purchase({ event_id: undefined });
    await send([a, b]);
    await send([purchase({ event_id: 'A', custom_data: { currency: 'EUR', value: 1 } }), leadA, noId, noId]);
    expect(meta.events()).toHaveLength(6);
    expect(meta.uniqueEvents()).toEqual([a, b, leadA, noId, noId]);
  });

  it('failNext: a 500 with a transient Meta error, then back to normal', async () => {
    meta.failNext(1, { status: 500 });
    let res = await send([purchase()]);
    expect(res.status).toBe(500);
    expect((await res.json()).error).toMatchObject({ is_transient: true, code: 1 });
    res = await send([purchase()]);
    expect(res.status).toBe(200);
    expect(meta.events()).toHaveLength(1);
    expect(meta.requests.map((r) => r.status)).toEqual([500, 200]);
  });

  it("failNext: a custom body, and 'drop' makes fetch reject", async () => {
    const body = metaError(613, 'Calls to this api have exceeded the rate limit.', { subcode: 1487742, isTransient: true });
    meta.failNext(1, { status: 400, body });
    meta.failNext(1, 'drop');
    const res = await send([purchase()]);
    expect(await res.json()).toEqual(body);
    await expect(send([purchase()])).rejects.toThrow();
    expect(meta.requests).toHaveLength(2);
    expect(meta.events()).toEqual([]);
  });

  it("failNext: 'hang' never answers (the client times out)", async () => {
    meta.failNext(1, 'hang');
    const res = fetch(`${meta.baseUrl}/${VERSION}/${PIXEL}/events`, {
      method: 'POST', body: JSON.stringify({ data: [purchase()], access_token: TOKEN }), signal: AbortSignal.timeout(200),
    });
    await expect(res).rejects.toThrow();
    expect(meta.requests[0].status).toBe(0);
  });

  it("close() does not wait for a request left hanging", async () => {
    const other = await startMetaFake();
    other.failNext(1, 'hang');
    const pending = fetch(`${other.baseUrl}/${VERSION}/${PIXEL}/events`, { method: 'POST', body: '{}' }).catch((e: unknown) => e);
    while (other.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    await other.close();
    expect(await pending).toBeInstanceOf(Error);
  });

  it('failWhen rejects the whole batch when any event matches', async () => {
    const reply = { status: 400, body: metaError(100, 'Invalid parameter', { subcode: 2804050 }) };
    meta.failWhen((ev) => ev.event_id === 'poison', reply);
    let res = await send([purchase({ event_id: 'ok-1' }), purchase({ event_id: 'poison' })]);
    expect(res.status).toBe(400);
    expect((await res.json()).error.error_subcode).toBe(2804050);
    expect(meta.events()).toEqual([]);
    res = await send([purchase({ event_id: 'ok-1' })]);
    expect(res.status).toBe(200);
    expect(meta.events().map((e) => e.event_id)).toEqual(['ok-1']);
  });

  it("outage('refused') closes the port until the outage ends; acceptCounts shows Meta de-duplicating", async () => {
    await meta.outage('refused');
    await expect(send([purchase({ event_id: 'o-1' })])).rejects.toThrow();
    await meta.outage(null);
    expect((await send([purchase({ event_id: 'o-1' })])).status).toBe(200);
    expect((await send([purchase({ event_id: 'o-1' })])).status).toBe(200);
    expect([...meta.acceptCounts().values()]).toEqual([2]);
    expect(meta.uniqueEvents()).toHaveLength(1);
  });

  it("outage with a reply answers every request with it; 'accept-then-hang' counts the events but never answers", async () => {
    await meta.outage(metaThrottle(17));
    for (let i = 0; i < 3; i++) {
      const res = await send([purchase({ event_id: 't-1' })]);
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe(17);
    }
    await meta.outage(null);
    meta.failNext(1, 'accept-then-hang');
    const hung = fetch(`${meta.baseUrl}/${VERSION}/${PIXEL}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: [purchase({ event_id: 'h-1' })], access_token: TOKEN }), signal: AbortSignal.timeout(300) });
    await expect(hung).rejects.toThrow();
    expect(meta.events().map((e) => e.event_id)).toEqual(['h-1']);
  });
});
