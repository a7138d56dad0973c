import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deliver } from '#destinations/deliver.ts';
import { fetchTransport } from '#destinations/http.ts';
import { oauth1Authorization, oauthNonce } from '#destinations/oauth1.ts';
import { xDestination, type XConfig } from '#destinations/x/index.ts';
import { conversions, sha256 } from '../support/factories.ts';
import { startXFake, xErrorBody, type XFake } from './x-server.ts';

const CREDENTIALS = { consumerKey: 'x-fake-consumer', consumerSecret: 'x-fake-consumer-secret', token: '18ce55-x-fake-token', tokenSecret: 'x-fake-token-secret' };
const PIXEL = 'o8z6j';

describe('X fake', () => {
  let fake: XFake;
  let config: XConfig;
  const recent = () => ({ occurredAt: new Date(Date.now() - 60_000).toISOString() });
  beforeAll(async () => {
    fake = await startXFake({ pixelId: PIXEL, eventIds: ['o87ne'], credentials: CREDENTIALS });
    config = { pixelId: PIXEL, events: { Purchase: 'o87ne', Lead: 'o99zz' }, credentials: CREDENTIALS, apiVersion: '12', baseUrl: fake.baseUrl };
  });
  afterAll(async () => fake?.close());
  beforeEach(() => {
    fake.reset();
    fake.setCredentials(CREDENTIALS);
  });

  /** A request signed as the relay signs it, with `credentials`, to `path` on the fake. */
  const post = (body: unknown, credentials = CREDENTIALS, at = { timestamp: Math.floor(Date.now() / 1000), nonce: oauthNonce() }, path = `/12/measurement/conversions/${PIXEL}`) => {
    const url = `${fake.baseUrl}${path}`;
    return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: oauth1Authorization({ method: 'POST', url }, credentials, at) }, body: JSON.stringify(body) });
  };
  const valid = { conversion_time: new Date().toISOString(), event_id: 'o87ne', identifiers: [{ twclid: '23opevjt88psuo13lu8d020qkn' }], conversion_id: 'c1' };

  it('takes 1100 conversions in ⌈1100/500⌉ = 3 signed requests', async () => {
    const stats = { requests: 0 };
    const results = await deliver(xDestination, config, conversions(1100, recent()), fetchTransport(), new Date(), stats);
    expect(stats.requests).toBe(3);
    expect(results.every((r) => r.status === 'delivered')).toBe(true);
    expect(fake.events()).toHaveLength(1100);
    expect(fake.requests().map((r) => r.body.conversions.length).sort((a, b) => a - b)).toEqual([100, 500, 500]);
  });

  it('verifies the OAuth 1.0a signature: another secret, a replayed nonce, a stale timestamp or no header is 401', async () => {
    expect((await post({ conversions: [valid] })).status).toBe(200);
    expect((await post({ conversions: [valid] }, { ...CREDENTIALS, consumerSecret: 'leaked-and-rotated' })).status).toBe(401);
    const at = { timestamp: Math.floor(Date.now() / 1000), nonce: 'same-nonce' };
    expect((await post({ conversions: [valid] }, CREDENTIALS, at)).status).toBe(200);
    expect((await post({ conversions: [valid] }, CREDENTIALS, at)).status).toBe(401);
    expect((await post({ conversions: [valid] }, CREDENTIALS, { timestamp: Math.floor(Date.now() / 1000) - 3600, nonce: oauthNonce() })).status).toBe(401);
    const unsigned = await fetch(`${fake.baseUrl}/12/measurement/conversions/${PIXEL}`, { method: 'POST', body: JSON.stringify({ conversions: [valid] }) });
    expect(await unsigned.json()).toMatchObject({ errors: [{ code: 'UNAUTHORIZED_ACCESS' }] });
    // Signed for one path, sent to another: the signature covers the URL.
    const url = `${fake.baseUrl}/12/measurement/conversions/${PIXEL}`;
    const header = oauth1Authorization({ method: 'POST', url: `${url}?x=1` }, CREDENTIALS, { timestamp: Math.floor(Date.now() / 1000), nonce: oauthNonce() });
    expect((await fetch(url, { method: 'POST', headers: { authorization: header }, body: JSON.stringify({ conversions: [valid] }) })).status).toBe(401);
  });

  it('refuses what X refuses, listing every error: 501 conversions, time without ms, plain e-mail, IP + UA alone, unknown keys', async () => {
    expect(await (await post({ conversions: Array(501).fill(valid) })).json()).toMatchObject({ errors: [{ message: 'Conversion count limit is 500' }] });
    const bad = [
      { ...valid, conversion_time: '2026-03-02T11:50:00Z' },
      { ...valid, identifiers: [{ hashed_email: 'jane@example.com' }] },
      { ...valid, identifiers: [{ ip_address: '203.0.113.7', user_agent: 'Mozilla/5.0' }] },
      { ...valid, event_name: 'Purchase', value: 'lots' },
    ];
    const res = await post({ conversions: bad });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errors: { message: string }[] }).errors.map((e) => e.message)).toEqual([
      'Expected Time in yyyy-MM-ddTHH:mm:ss.SSSZ, got "2026-03-02T11:50:00Z" for conversion_time',
      'hashed_email (jane@example.com) is not a valid SHA-256 hash',
      'At least one user identifier must be provided',
      'event_name is not a supported parameter',
      'value (lots) is not a number',
    ]);
    expect(fake.events()).toHaveLength(0);
    expect((await post({ conversions: [{ ...valid, identifiers: [{ hashed_email: sha256('a@b.co') }, { ip_address: '203.0.113.7', user_agent: 'UA' }], value: '20.00', number_items: 1, price_currency: 'USD' }] })).status).toBe(200);
  });

  it('isolates the one conversion X refuses (the whole request fails) and delivers the rest', async () => {
    fake.failWhen((c) => c.conversion_id === 'order_4', { status: 400, body: xErrorBody([{ code: 'INVALID_PARAMETER', message: 'hashed_email (x) is not a valid SHA-256 hash', parameter: 'hashed_email' }]) });
    const results = await deliver(xDestination, config, conversions(6, recent()), fetchTransport(), new Date());
    expect(results[4]).toMatchObject({ status: 'failed', error: { code: 'INVALID_PARAMETER', message: 'hashed_email (x) is not a valid SHA-256 hash' } });
    expect(results.filter((r) => r.status === 'delivered')).toHaveLength(5);
    expect(fake.events().map((c) => c.conversion_id).sort()).toEqual(['order_0', 'order_1', 'order_2', 'order_3', 'order_5']);
  });

  it('dead-letters the whole batch at once on rotated keys (401) and on an event ID of another account (404)', async () => {
    fake.setCredentials({ ...CREDENTIALS, tokenSecret: 'regenerated' });
    const stats = { requests: 0 };
    const denied = await deliver(xDestination, config, conversions(4, recent()), fetchTransport(), new Date(), stats);
    expect(denied.every((r) => r.status === 'failed' && r.error.code === 'UNAUTHORIZED_ACCESS')).toBe(true);
    expect(stats.requests).toBe(1);

    fake.setCredentials(CREDENTIALS);
    const leads = await deliver(xDestination, config, conversions(3, { ...recent(), eventName: 'Lead' }), fetchTransport(), new Date());
    expect(leads.every((r) => r.status === 'failed' && /event_id \(o99zz\) does not belong to provided account/.test(r.error.message))).toBe(true);
  });
});
