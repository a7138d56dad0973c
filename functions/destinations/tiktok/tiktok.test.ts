import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliver } from '#destinations/deliver.ts';
import { fetchTransport } from '#destinations/http.ts';
import type { PlatformResponse } from '#destinations/types.ts';
import { startTikTokFake, tiktokError, type TikTokFake } from '../../../test/fakes/tiktok-server.ts';
import { NOW, conversionFactory, conversions, sha256 } from '../../../test/support/factories.ts';
import { classifyTikTokResponse } from './classify.ts';
import { tiktokDestination, type TikTokConfig } from './index.ts';
import { toTikTokEvent } from './payload.ts';

// Facts from platforms.md §2 (TikTok Events API 2.0): POST {base}/open_api/v1.3/event/track/ with Access-Token,
// event_source web + pixel code, event_time in seconds, hashed email/phone(E.164 with '+')/external_id, ttclid/ttp/
// IP/UA in clear, body `code` checked even under HTTP 200.

const CONFIG: TikTokConfig = { pixelCode: 'C9Q2MJ3C77U4P674RPG0', accessToken: 'tt-token', baseUrl: 'https://business-api.tiktok.com' };
const tt = (code: number, message = 'x', status = 200): PlatformResponse => ({ status, headers: {}, body: { code, message, request_id: 'r1', data: {} } });
const withTikTokClicks = () =>
  conversionFactory({
    clicks: {
      ttclid: { value: 'E.C.P.CkQxMjM0NTY3ODkw', capturedAt: 1772451000000 },
      ttp: { value: '2Qz0aBcDeFgHiJkLmNoP', capturedAt: 1772451000000 },
    },
  });

describe('toTikTokEvent', () => {
  it('sends the Conversion event ID as a string and event_time in Unix seconds', () => {
    const event = toTikTokEvent(conversionFactory({ eventId: 'cs_test_42', occurredAt: '2026-03-02T11:50:00.000Z' }), NOW);

    expect(event.event_id).toBe('cs_test_42');
    expect(event.event_time).toBe(Date.UTC(2026, 2, 2, 11, 50) / 1000);
  });

  it('clamps a future event_time to now', () => {
    const event = toTikTokEvent(conversionFactory({ occurredAt: new Date(NOW.getTime() + 60_000).toISOString() }), NOW);

    expect(event.event_time).toBe(NOW.getTime() / 1000);
  });

  it.each([
    ['Purchase', 'Purchase'],
    ['CompletePayment', 'Purchase'],
    ['Lead', 'Lead'],
    ['SubmitForm', 'Lead'],
    ['CompleteRegistration', 'CompleteRegistration'],
    ['StartTrial', 'StartTrial'],
  ])('maps %s to TikTok’s current standard event %s', (ours, theirs) => {
    expect(toTikTokEvent(conversionFactory({ eventName: ours }), NOW).event).toBe(theirs);
  });

  it('hashes the phone as E.164 with “+” (TikTok), not Meta’s digits-only form', () => {
    const { user } = toTikTokEvent(conversionFactory(), NOW);

    expect(user.phone).toBe(sha256('+16505551212'));
    expect(user.phone).not.toBe(sha256('16505551212'));
  });

  it('sends e-mail and external ID hashes, ttclid, ttp, IP and user agent under TikTok’s keys', () => {
    const c = withTikTokClicks();

    const { user } = toTikTokEvent(c, NOW);

    expect(user).toEqual({
      email: sha256('jenny.rosen@example.com'),
      phone: sha256('+16505551212'),
      external_id: sha256('cus_123'),
      ttclid: 'E.C.P.CkQxMjM0NTY3ODkw',
      ttp: '2Qz0aBcDeFgHiJkLmNoP',
      ip: '203.0.113.7',
      user_agent: c.user.userAgent,
    });
  });

  it('leaves out a phone that only has Meta’s hash (it arrived pre-hashed)', () => {
    const { user } = toTikTokEvent(conversionFactory({ user: { phone: sha256('16505551212') } }), NOW);

    expect(user).toEqual({});
  });

  it('puts value, currency, order ID and contents in properties, and the page URL in page', () => {
    const event = toTikTokEvent(conversionFactory({ value: 19.99, currency: 'USD', orderId: 'o-1', contents: [{ id: 'sku-1', quantity: 2, price: 9.995, name: 'Socks' }] }), NOW);

    expect(event.properties).toEqual({
      value: 19.99,
      currency: 'USD',
      order_id: 'o-1',
      content_type: 'product',
      contents: [{ content_id: 'sku-1', content_type: 'product', quantity: 2, price: 9.995, content_name: 'Socks' }],
    });
    expect(event.page).toEqual({ url: 'https://shop.example/checkout?fbclid=IwAR2xYz' });
  });

  it('turns limited data use on when ad personalization was refused', () => {
    expect(toTikTokEvent(conversionFactory(), NOW).limited_data_use).toBe(false);
    expect(toTikTokEvent(conversionFactory({ consent: { marketing: true, adUserData: true, adPersonalization: false, analytics: true } }), NOW).limited_data_use).toBe(true);
  });
});

describe('tiktokDestination', () => {
  it('posts {event_source: web, event_source_id: pixel, data} to /open_api/v1.3/event/track/ with the token in Access-Token', () => {
    const request = tiktokDestination.buildRequest([conversionFactory({ eventId: 'a' }), conversionFactory({ eventId: 'b' })], { ...CONFIG, testEventCode: 'TEST1' }, NOW);

    expect(request.url).toBe('https://business-api.tiktok.com/open_api/v1.3/event/track/');
    expect(request.headers['access-token']).toBe('tt-token');
    expect(request.body).toMatchObject({ event_source: 'web', event_source_id: CONFIG.pixelCode, test_event_code: 'TEST1' });
    expect((request.body as { data: { event_id: string }[] }).data.map((e) => e.event_id)).toEqual(['a', 'b']);
    expect(JSON.stringify(request.body)).not.toContain('tt-token');
  });

  it('builds placeholders in dry-run and lists the missing credentials', () => {
    expect(tiktokDestination.configure({})).toEqual({ config: undefined, missing: ['TIKTOK_PIXEL_CODE', 'TIKTOK_ACCESS_TOKEN'] });
    const request = tiktokDestination.buildRequest([conversionFactory()], undefined, NOW);
    expect(request.headers['access-token']).toBe('<TIKTOK_ACCESS_TOKEN>');
    expect(request.body).toMatchObject({ event_source_id: '<TIKTOK_PIXEL_CODE>' });
    expect(request.body).not.toHaveProperty('test_event_code');
  });

  it('reads base URL (without trailing slash) and test code; rejects a malformed pixel code', () => {
    const { config } = tiktokDestination.configure({
      TIKTOK_PIXEL_CODE: ' C9Q2MJ3C77U4P674RPG0 ',
      TIKTOK_ACCESS_TOKEN: 't',
      TIKTOK_API_BASE_URL: 'http://127.0.0.1:9/',
      TIKTOK_TEST_EVENT_CODE: 'TEST9',
    });
    expect(config).toEqual({ pixelCode: 'C9Q2MJ3C77U4P674RPG0', accessToken: 't', baseUrl: 'http://127.0.0.1:9', testEventCode: 'TEST9' });
    expect(() => tiktokDestination.configure({ TIKTOK_PIXEL_CODE: 'my pixel!', TIKTOK_ACCESS_TOKEN: 't' })).toThrow(/TIKTOK_PIXEL_CODE/);
  });

  it('skips refunds and conversions without marketing consent, with the reason', () => {
    expect(tiktokDestination.skipReason!(conversionFactory({ consent: { marketing: false } }))).toMatch(/consent/);
    // Analytics consent alone is not enough: TikTok matches on identifiers.
    expect(tiktokDestination.skipReason!(conversionFactory({ consent: { marketing: false, adUserData: false, adPersonalization: false, analytics: true } }))).toMatch(/analytics only/);
    const refund = conversionFactory({ eventName: 'Refund', adjustment: { kind: 'refund', originalOrderId: 'o-1', full: true } });
    expect(tiktokDestination.skipReason!(refund)).toMatch(/refund is recorded, not sent/);
    expect(tiktokDestination.skipReason!(conversionFactory())).toBeUndefined();
  });

  it('reports the identifiers it sends as signals', () => {
    expect(tiktokDestination.signals(withTikTokClicks()).sort()).toEqual(['email', 'external_id', 'ip', 'phone', 'ttclid', 'ttp', 'user_agent']);
  });
});

describe('classifyTikTokResponse', () => {
  it('reads the body code: 0 and 20001 (partial OK) are accepted', () => {
    expect(classifyTikTokResponse(tt(0, 'OK'))).toEqual({ kind: 'ok' });
    expect(classifyTikTokResponse(tt(20001, 'Partial OK'))).toEqual({ kind: 'ok' });
  });

  it.each([40100, 40132, 40700, 50000, 50002, 51000, 51012])('treats code %i under HTTP 200 as transient', (code) => {
    expect(classifyTikTokResponse(tt(code))).toMatchObject({ kind: 'transient', error: { code: String(code) } });
  });

  it.each([429, 500, 503])('treats HTTP %i as transient', (status) => {
    expect(classifyTikTokResponse({ status, headers: {}, body: '<html>busy</html>' })).toMatchObject({ kind: 'transient', error: { code: `http_${status}` } });
  });

  it.each([40001, 40102, 40104, 40105])('treats token and permission code %i as a rejected batch', (code) => {
    expect(classifyTikTokResponse(tt(code, 'Access token is incorrect or has been revoked.')).kind).toBe('rejected-batch');
  });

  it('treats 40002 about the pixel as a rejected batch, and other 40002 / 40062 as rejected data', () => {
    expect(classifyTikTokResponse(tt(40002, 'Invalid value for event_source_id')).kind).toBe('rejected-batch');
    expect(classifyTikTokResponse(tt(40002, 'Invalid value for event_id: not a valid string.'))).toEqual({
      kind: 'rejected-data',
      error: { code: '40002', message: 'Invalid value for event_id: not a valid string.' },
    });
    expect(classifyTikTokResponse(tt(40062, 'PII not hashed')).kind).toBe('rejected-data');
  });

  it('does not trust a 2xx without TikTok’s envelope', () => {
    expect(classifyTikTokResponse({ status: 200, headers: {}, body: '' }).kind).toBe('transient');
  });
});

describe('tiktokDestination against the TikTok fake', () => {
  let fake: TikTokFake;
  beforeAll(async () => {
    fake = await startTikTokFake({ pixelCode: CONFIG.pixelCode, accessToken: CONFIG.accessToken });
  });
  afterAll(async () => fake?.close());

  it('delivers 1500 conversions in two requests the API accepts', async () => {
    fake.reset();
    const now = new Date();
    const batch = conversions(1500, { occurredAt: new Date(now.getTime() - 60_000).toISOString() });
    const stats = { requests: 0 };

    const results = await deliver(tiktokDestination, { ...CONFIG, baseUrl: fake.baseUrl }, batch, fetchTransport(), now, stats);

    expect(stats.requests).toBe(2);
    expect(new Set(results.map((r) => r.status))).toEqual(new Set(['delivered']));
    expect(fake.events()).toHaveLength(1500);
  });

  it('isolates the one event TikTok refuses and delivers the rest', async () => {
    fake.reset();
    const now = new Date();
    const batch = conversions(8, { occurredAt: new Date(now.getTime() - 60_000).toISOString() });
    fake.failWhen((e) => e.event_id === 'order_5', { body: tiktokError(40002, 'Invalid value for data[0].properties.contents') });

    const results = await deliver(tiktokDestination, { ...CONFIG, baseUrl: fake.baseUrl }, batch, fetchTransport(), now);

    expect(results[5]).toEqual({ status: 'failed', error: { code: '40002', message: 'Invalid value for data[0].properties.contents' } });
    expect(results.filter((r) => r.status === 'delivered')).toHaveLength(7);
    expect(fake.events().map((e) => e.event_id).sort()).toEqual(batch.map((c) => c.eventId).filter((id) => id !== 'order_5').sort());
  });

  it('classifies the API’s answer to a wrong token as a rejected batch', async () => {
    const request = tiktokDestination.buildRequest([conversionFactory()], { ...CONFIG, baseUrl: fake.baseUrl, accessToken: 'wrong' }, new Date());

    expect(tiktokDestination.classify(await fetchTransport()(request))).toMatchObject({ kind: 'rejected-batch', error: { code: '40105' } });
  });
});
