import { describe, expect, it } from 'vitest';
import { matchRecord } from '#core/match-quality.ts';
import { hashUser } from '#core/normalize.ts';
import type { PlatformResponse } from '#destinations/types.ts';
import { NOW, conversionFactory, sha256 } from '../../../test/support/factories.ts';
import { classifyRedditResponse } from './classify.ts';
import { redditDestination, type RedditConfig } from './index.ts';
import { toRedditEvent } from './payload.ts';

// Facts from platforms-more.md §4 and Reddit's v3 docs (captured in segmentio/action-destinations
// reddit-conversions-api/V3-API-REFERENCE.md): event_at in ms, upper-case WEBSITE, type.tracking_type, metadata with
// conversion_id, `{data: {test_id, events}}`, Reddit's own e-mail canonical form, 1,000 events a request, 7 days.

const CONFIG: RedditConfig = { pixelId: 'a2_i9bj8x87t8ki', accessToken: 'rdt token', baseUrl: 'https://ads-api.reddit.com' };
const res = (status: number, body: unknown): PlatformResponse => ({ status, headers: {}, body });
const UUID_COOKIE = '1677712978045.b8f7eb7d-b357-437b-8bd3-e1c8166c7132';

describe('toRedditEvent', () => {
  it('sends event_at in ms, WEBSITE, PURCHASE, the event ID as conversion_id and value as a number with item_count', () => {
    const e = toRedditEvent(conversionFactory({ occurredAt: '2026-03-02T11:50:00.000Z', contents: [{ id: 'sku_1', quantity: 2, price: 9.99, name: 'Mug' }] }), NOW);

    expect(e).toMatchObject({
      event_at: Date.UTC(2026, 2, 2, 11, 50),
      action_source: 'WEBSITE',
      type: { tracking_type: 'PURCHASE' },
      event_source_url: 'https://shop.example/checkout?fbclid=IwAR2xYz',
      metadata: { conversion_id: 'cs_test_order_1', value: 19.99, currency: 'USD', item_count: 2, products: [{ id: 'sku_1', quantity: 2, item_price: 9.99, name: 'Mug' }] },
    });
    expect(String(e.event_at)).toHaveLength(13);
  });

  it('sends the rdt_cid click, the _rdt_uuid cookie whole, Reddit’s e-mail form, E.164 phone, external ID, IP and UA', () => {
    const user = hashUser({ email: 'Al.ice$+Apple@Example.Com', phone: '+1 650 555 1212', externalId: 'cus_123', ip: '203.0.113.7', userAgent: 'Mozilla/5.0' });
    const c = conversionFactory({ user, clicks: { rdtCid: { value: '3184742045291813272', capturedAt: 1 }, rdtUuid: { value: UUID_COOKIE, capturedAt: 1 } } });

    const e = toRedditEvent(c, NOW);

    expect(e.click_id).toBe('3184742045291813272');
    // Reddit's help page example: Al.ice$+Apple@Example.Com → alice@example.com → ff8d98….
    expect(e.user).toEqual({
      email: 'ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976',
      phone_number: sha256('+16505551212'),
      external_id: sha256('cus_123'),
      ip_address: '203.0.113.7',
      user_agent: 'Mozilla/5.0',
      uuid: UUID_COOKIE,
    });
  });

  it('falls back to the trim + lowercase hash when the forms agree or only a hash was given', () => {
    expect(toRedditEvent(conversionFactory({ user: hashUser({ email: 'bob@example.com' }) }), NOW).user.email).toBe(sha256('bob@example.com'));
    expect(toRedditEvent(conversionFactory({ user: { email: sha256('x@example.com') } }), NOW).user.email).toBe(sha256('x@example.com'));
  });

  it('sends custom names as CUSTOM, no value for PAGE_VISIT, no item_count for LEAD, LDU without ad personalization', () => {
    expect(toRedditEvent(conversionFactory({ eventName: 'StartTrial' }), NOW).type).toEqual({ tracking_type: 'CUSTOM', custom_event_name: 'StartTrial' });
    expect(toRedditEvent(conversionFactory({ eventName: 'PageView' }), NOW).metadata).toEqual({ conversion_id: 'cs_test_order_1' });
    expect(toRedditEvent(conversionFactory({ eventName: 'Lead' }), NOW).metadata).toEqual({ conversion_id: 'cs_test_order_1', value: 19.99, currency: 'USD' });
    const ldu = toRedditEvent(conversionFactory({ consent: { marketing: true, adUserData: true, adPersonalization: false, analytics: true } }), NOW);
    expect(ldu.user.data_processing_options).toEqual({ modes: ['LDU'] });
    expect(toRedditEvent(conversionFactory(), NOW).user).not.toHaveProperty('data_processing_options');
  });

  it('sends an offline event without click ID, browser ID or event_source_url', () => {
    const c = conversionFactory({ actionSource: 'crm', clicks: { rdtCid: { value: 'cid', capturedAt: 1 }, rdtUuid: { value: UUID_COOKIE, capturedAt: 1 } } });
    const e = toRedditEvent(c, NOW);
    expect(e.action_source).toBe('OTHER');
    expect(e).not.toHaveProperty('click_id');
    expect(e).not.toHaveProperty('event_source_url');
    expect(e.user).not.toHaveProperty('uuid');
    expect(e.user.email).toBeDefined();
  });
});

describe('redditDestination', () => {
  it('posts {data: {events}} to /api/v3/pixels/{pixel}/conversion_events with a Bearer token and its own user agent', () => {
    const r = redditDestination.buildRequest([conversionFactory()], CONFIG, NOW);
    expect(r.url).toBe('https://ads-api.reddit.com/api/v3/pixels/a2_i9bj8x87t8ki/conversion_events');
    expect(r.headers).toMatchObject({ authorization: 'Bearer rdt token', 'user-agent': expect.stringMatching(/^conversion-relay\//) });
    expect(r.body).toEqual({ data: { events: [expect.objectContaining({ action_source: 'WEBSITE' })] } });
  });

  it('puts test_id in data beside the events, never inside an event', () => {
    const { body } = redditDestination.buildRequest([conversionFactory()], { ...CONFIG, testId: 't2_20lcxjcqah' }, NOW) as { body: { data: { test_id: string; events: object[] } } };
    expect(body.data.test_id).toBe('t2_20lcxjcqah');
    expect(body.data.events[0]).not.toHaveProperty('test_id');
  });

  it('dry-runs without credentials; rejects a pixel ID that is not one', () => {
    expect(redditDestination.configure({})).toEqual({ config: undefined, missing: ['REDDIT_PIXEL_ID', 'REDDIT_ACCESS_TOKEN'] });
    expect(redditDestination.buildRequest([conversionFactory()], undefined, NOW).url).toContain('<REDDIT_PIXEL_ID>');
    expect(() => redditDestination.configure({ REDDIT_PIXEL_ID: 'https://ads.reddit.com/pixel', REDDIT_ACCESS_TOKEN: 't' })).toThrow(/REDDIT_PIXEL_ID/);
    expect(redditDestination.configure({ REDDIT_PIXEL_ID: ' a2_abc ', REDDIT_ACCESS_TOKEN: 't', REDDIT_TEST_ID: 't2_x' }).config).toMatchObject({ pixelId: 'a2_abc', testId: 't2_x' });
  });

  it('batches 1000, keeps events under 7 days, skips refunds, unconsented and unmatchable conversions with the reason', () => {
    expect(redditDestination.maxBatchSize).toBe(1000);
    expect(redditDestination.maxEventAgeMs).toBeLessThan(7 * 24 * 3600_000);
    expect(redditDestination.maxEventAgeMs).toBeGreaterThan(6 * 24 * 3600_000);
    expect(redditDestination.skipReason!(conversionFactory({ eventName: 'Refund', adjustment: { kind: 'refund', originalOrderId: 'o', full: true } }))).toMatch(/Reddit has no way to retract/);
    expect(redditDestination.skipReason!(conversionFactory({ consent: { marketing: false } }))).toMatch(/consent/);
    expect(redditDestination.skipReason!(conversionFactory({ user: {}, clicks: {} }))).toMatch(/^Reddit needs an rdt_cid click ID/);
    expect(redditDestination.skipReason!(conversionFactory({ user: {}, clicks: { rdtCid: { value: 'c', capturedAt: 1 } } }))).toBeUndefined();
  });

  it('lists the signals under the relay’s click names', () => {
    const c = conversionFactory({ clicks: { rdtCid: { value: 'c', capturedAt: 1 }, rdtUuid: { value: UUID_COOKIE, capturedAt: 1 } } });
    expect(redditDestination.signals(c)).toEqual(['rdtCid', 'email', 'phone_number', 'external_id', 'ip_address', 'user_agent', 'rdtUuid']);
    // The match record reads them under the canonical keys, with rdt_cid as the click.
    expect(matchRecord('reddit', c, redditDestination.signals(c))).toMatchObject({ k: 'rdtCid em ph xid ip ua rdtUuid', c: 'rdtCid', s: 10 });
  });
});

describe('classifyRedditResponse', () => {
  it('accepts Reddit’s success message, v3 ({data: {message}}) and v2 ({message}); a bare 2xx is retried', () => {
    expect(classifyRedditResponse(res(200, { data: { message: 'Successfully processed 2 conversion events.' } }))).toEqual({ kind: 'ok' });
    expect(classifyRedditResponse(res(200, { message: 'Successfully processed 1 conversion events.' }))).toEqual({ kind: 'ok' });
    expect(classifyRedditResponse(res(200, '<html>proxy</html>')).kind).toBe('transient');
  });

  it('splits a 400 batch (nothing processed), with the first invalid event’s reason', () => {
    const v = classifyRedditResponse(
      res(400, { message: 'There were 1 invalid conversion events. None were processed.', invalid_events: [{ error_message: 'event_at timestamp must be less than 168h0m0s old', event: {} }] }),
    );
    expect(v).toEqual({ kind: 'rejected-data', error: { code: 'invalid_event', message: 'event_at timestamp must be less than 168h0m0s old' } });
    expect(classifyRedditResponse(res(400, { error: { code: 400, message: 'invalid action_source: web' } }))).toMatchObject({ kind: 'rejected-data', error: { message: 'invalid action_source: web' } });
  });

  it('retries 429 and 5xx; 401 / 403 reject the batch', () => {
    expect(classifyRedditResponse(res(429, { message: 'Too many requests/events within timeframe.' })).kind).toBe('transient');
    expect(classifyRedditResponse(res(500, { message: 'The service is currently unavailable. No conversion events were processed.' })).kind).toBe('transient');
    expect(classifyRedditResponse(res(401, { success: false, error: { reason: 'UNAUTHORIZED', explanation: 'bad token' } }))).toEqual({ kind: 'rejected-batch', error: { code: 'UNAUTHORIZED', message: 'bad token' } });
    expect(classifyRedditResponse(res(401, 'Authorization Required'))).toMatchObject({ kind: 'rejected-batch', error: { message: 'Authorization Required' } });
    expect(classifyRedditResponse(res(403, { message: 'Missing adsconversions scope to post conversions to Pixel.' })).kind).toBe('rejected-batch');
  });
});
