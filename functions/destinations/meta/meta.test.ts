import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchTransport } from '#destinations/http.ts';
import type { PlatformResponse } from '#destinations/types.ts';
import { startMetaFake, type MetaFake } from '../../../test/fakes/meta-server.ts';
import { NOW, conversionFactory, sha256 } from '../../../test/support/factories.ts';
import { classifyMetaResponse } from './classify.ts';
import { metaDestination, type MetaConfig } from './index.ts';
import { toMetaEvent } from './payload.ts';

// Facts from platforms.md §1 (Meta Conversions API): endpoint POST {base}/{version}/{pixel}/events, event_time in
// Unix seconds, hashed user_data as SHA-256 hex, fbc/fbp/IP/UA in clear, action_source list without `crm`,
// error codes and their retry classes in §1.10.

const CONFIG: MetaConfig = {
  pixelId: '1234567890123456',
  accessToken: 'EAAGtesttoken',
  baseUrl: 'https://graph.facebook.com',
  apiVersion: 'v24.0',
};
const NOW_S = Math.floor(NOW.getTime() / 1000);

const graphError = (status: number, error: Record<string, unknown>): PlatformResponse => ({ status, headers: {}, body: { error } });

describe('toMetaEvent', () => {
  it('sends event_time in Unix seconds', () => {
    const conversion = conversionFactory({ occurredAt: '2026-03-02T11:50:00.000Z' });

    const event = toMetaEvent(conversion, NOW);

    expect(event.event_time).toBe(Date.UTC(2026, 2, 2, 11, 50, 0) / 1000);
  });

  it('clamps an event_time ahead of the clock to now (Meta rejects future events)', () => {
    const conversion = conversionFactory({ occurredAt: new Date(NOW.getTime() + 120_000).toISOString() });

    expect(toMetaEvent(conversion, NOW).event_time).toBe(NOW_S);
  });

  it('carries the event name, event ID and source URL', () => {
    const event = toMetaEvent(conversionFactory({ eventId: 'cs_test_42', eventName: 'Purchase' }), NOW);

    expect(event).toMatchObject({
      event_name: 'Purchase',
      event_id: 'cs_test_42',
      action_source: 'website',
      event_source_url: 'https://shop.example/checkout?fbclid=IwAR2xYz',
    });
  });

  it('sends hashed identifiers as arrays of SHA-256 hex under Meta’s keys', () => {
    const { user_data } = toMetaEvent(conversionFactory(), NOW);

    expect(user_data).toMatchObject({
      em: [sha256('jenny.rosen@example.com')],
      ph: [sha256('16505551212')], // Meta: digits with country code, no '+'
      fn: [sha256('jenny')],
      ln: [sha256('rosen')],
      ct: [sha256('sanfrancisco')],
      st: [sha256('ca')],
      zp: [sha256('94103')],
      country: [sha256('us')],
      external_id: [sha256('cus_123')],
    });
  });

  it('sends fbc, fbp, IP and user agent in clear, exactly as captured', () => {
    const c = conversionFactory();

    const { user_data } = toMetaEvent(c, NOW);

    expect(user_data.fbc).toBe('fb.1.1772451000000.IwAR2xYz');
    expect(user_data.fbp).toBe('fb.1.1772450000000.1234567890');
    expect(user_data.client_ip_address).toBe('203.0.113.7');
    expect(user_data.client_user_agent).toBe(c.user.userAgent);
  });

  it('leaves out identifiers the conversion does not have', () => {
    const c = conversionFactory({ user: { email: sha256('a@b.co') }, clicks: {} });

    const { user_data } = toMetaEvent(c, NOW);

    expect(user_data).toEqual({ em: [sha256('a@b.co')] });
  });

  it('puts value, currency and order ID in custom_data', () => {
    const event = toMetaEvent(conversionFactory({ value: 19.99, currency: 'USD', orderId: 'cs_test_42' }), NOW);

    expect(event.custom_data).toMatchObject({ value: 19.99, currency: 'USD', order_id: 'cs_test_42' });
  });

  it('sends a zero value as 0, not as missing', () => {
    expect(toMetaEvent(conversionFactory({ value: 0 }), NOW).custom_data?.value).toBe(0);
  });

  it('maps action source crm to system_generated (Meta has no crm)', () => {
    expect(toMetaEvent(conversionFactory({ actionSource: 'crm' }), NOW).action_source).toBe('system_generated');
    expect(toMetaEvent(conversionFactory({ actionSource: 'system_generated' }), NOW).action_source).toBe('system_generated');
  });
});

describe('metaDestination.buildRequest', () => {
  it('posts JSON to {base}/{version}/{pixel}/events', () => {
    const request = metaDestination.buildRequest([conversionFactory()], CONFIG, NOW);

    expect(request.method).toBe('POST');
    expect(request.url).toBe('https://graph.facebook.com/v24.0/1234567890123456/events');
    expect(request.headers['content-type']).toBe('application/json');
  });

  it('uses the configured base URL and version', () => {
    const request = metaDestination.buildRequest([conversionFactory()], { ...CONFIG, baseUrl: 'http://127.0.0.1:9999', apiVersion: 'v25.0' }, NOW);

    expect(request.url).toBe('http://127.0.0.1:9999/v25.0/1234567890123456/events');
  });

  it('puts the access token in the body, never in the URL', () => {
    const request = metaDestination.buildRequest([conversionFactory()], CONFIG, NOW);

    expect((request.body as Record<string, unknown>).access_token).toBe('EAAGtesttoken');
    expect(request.url).not.toContain('EAAGtesttoken');
    expect(request.url).not.toContain('access_token');
  });

  it('sends every conversion of the batch in data, in order', () => {
    const batch = [conversionFactory({ eventId: 'a' }), conversionFactory({ eventId: 'b' }), conversionFactory({ eventId: 'c' })];

    const body = metaDestination.buildRequest(batch, CONFIG, NOW).body as { data: { event_id: string }[] };

    expect(body.data.map((e) => e.event_id)).toEqual(['a', 'b', 'c']);
  });

  it('includes test_event_code only when one is configured', () => {
    const without = metaDestination.buildRequest([conversionFactory()], CONFIG, NOW).body as Record<string, unknown>;
    const withCode = metaDestination.buildRequest([conversionFactory()], { ...CONFIG, testEventCode: 'TEST12345' }, NOW).body as Record<string, unknown>;

    expect(without).not.toHaveProperty('test_event_code');
    expect(withCode.test_event_code).toBe('TEST12345');
  });

  it('builds the same request with placeholders in dry-run (no config)', () => {
    const request = metaDestination.buildRequest([conversionFactory()], undefined, NOW);

    expect(request.url).toBe('https://graph.facebook.com/v26.0/<META_PIXEL_ID>/events');
    expect((request.body as Record<string, unknown>).access_token).toBe('<META_ACCESS_TOKEN>');
  });
});

describe('metaDestination.configure', () => {
  it('lists the missing credentials (dry-run) when pixel and token are absent', () => {
    expect(metaDestination.configure({})).toEqual({ config: undefined, missing: ['META_PIXEL_ID', 'META_ACCESS_TOKEN'] });
    expect(metaDestination.configure({ META_ACCESS_TOKEN: 'x', META_PIXEL_ID: '  ' })).toEqual({ config: undefined, missing: ['META_PIXEL_ID'] });
    expect(metaDestination.configure({ META_PIXEL_ID: '123' })).toEqual({ config: undefined, missing: ['META_ACCESS_TOKEN'] });
  });

  it('reads a full configuration, with Graph’s base URL and a pinned version by default', () => {
    const { config, missing } = metaDestination.configure({ META_PIXEL_ID: ' 1234567890123456 ', META_ACCESS_TOKEN: ' EAAGtesttoken ' });

    expect(missing).toEqual([]);
    expect(config).toEqual({ pixelId: '1234567890123456', accessToken: 'EAAGtesttoken', baseUrl: 'https://graph.facebook.com', apiVersion: 'v26.0' });
  });

  it('takes the base URL (without trailing slash), version and test event code from settings', () => {
    const { config } = metaDestination.configure({
      META_PIXEL_ID: '1',
      META_ACCESS_TOKEN: 't',
      META_API_BASE_URL: 'http://localhost:4010/',
      META_API_VERSION: 'v25.0',
      META_TEST_EVENT_CODE: 'TEST1',
    });

    expect(config).toMatchObject({ baseUrl: 'http://localhost:4010', apiVersion: 'v25.0', testEventCode: 'TEST1' });
  });

  it.each(['24.0', 'v24', 'latest', 'v24.0; drop'])('throws on a malformed API version %j', (version) => {
    expect(() => metaDestination.configure({ META_PIXEL_ID: '1', META_ACCESS_TOKEN: 't', META_API_VERSION: version })).toThrow(/META_API_VERSION/);
  });

  it('throws on a non-numeric pixel ID', () => {
    expect(() => metaDestination.configure({ META_PIXEL_ID: 'my-pixel', META_ACCESS_TOKEN: 't' })).toThrow(/META_PIXEL_ID/);
  });
});

describe('classifyMetaResponse', () => {
  it('treats 200 as ok', () => {
    expect(classifyMetaResponse({ status: 200, headers: {}, body: { events_received: 3, messages: [] } })).toEqual({ kind: 'ok' });
  });

  it.each([500, 502, 503, 429])('treats HTTP %i as transient', (status) => {
    expect(classifyMetaResponse({ status, headers: {}, body: undefined }).kind).toBe('transient');
    expect(classifyMetaResponse(graphError(status, { message: 'x', code: 1 })).kind).toBe('transient');
  });

  it('treats an expired or invalid token (code 190) as a rejected batch', () => {
    const verdict = classifyMetaResponse(graphError(400, { message: 'Invalid OAuth access token', type: 'OAuthException', code: 190, error_subcode: 463 }));

    expect(verdict).toEqual({ kind: 'rejected-batch', error: { code: '190/463', message: 'Invalid OAuth access token' } });
  });

  // Request-level errors no split of the batch can fix: splitting would cost 2n−1 requests and dead-letter every
  // event as if its data were wrong.
  it.each([
    [2635, '(#2635) You are calling a deprecated version of the Ads API. Please update to the latest version: v25.0.'],
    [104, 'An access token is required to request this resource.'],
  ])('treats request-level error %i as a rejected batch', (code, message) => {
    expect(classifyMetaResponse(graphError(400, { message, type: 'OAuthException', code })).kind).toBe('rejected-batch');
  });

  it('treats an invalid parameter (code 100) as rejected data', () => {
    expect(classifyMetaResponse(graphError(400, { message: 'Invalid parameter', code: 100 })).kind).toBe('rejected-data');
  });

  it('treats an unknown pixel (code 100, subcode 33) as a rejected batch', () => {
    expect(classifyMetaResponse(graphError(400, { message: 'Unsupported post request', code: 100, error_subcode: 33 })).kind).toBe('rejected-batch');
  });

  it.each([
    [4, 'Application request limit reached'],
    [17, 'User request limit reached'],
    [613, 'Calls to this api have exceeded the rate limit'],
    [80004, 'There have been too many calls to this ad-account'],
  ])('treats throttling code %i as transient even on HTTP 400', (code, message) => {
    expect(classifyMetaResponse(graphError(400, { message, code })).kind).toBe('transient');
  });

  it('treats any error flagged is_transient: true as transient', () => {
    expect(classifyMetaResponse(graphError(400, { message: 'Invalid parameter', code: 100, is_transient: true })).kind).toBe('transient');
  });

  it('reports the error as code/subcode with Meta’s user message', () => {
    const verdict = classifyMetaResponse(
      graphError(400, {
        message: 'Invalid parameter',
        code: 100,
        error_subcode: 2804050,
        error_user_msg: 'You haven’t added sufficient customer information parameters for this event',
      }),
    );

    expect(verdict).toEqual({
      kind: 'rejected-data',
      error: { code: '100/2804050', message: 'You haven’t added sufficient customer information parameters for this event' },
    });
  });

  it('reports http_<status> when the body is not Graph’s error envelope', () => {
    const verdict = classifyMetaResponse({ status: 502, headers: {}, body: '<html>Bad gateway</html>' });

    expect(verdict).toMatchObject({ kind: 'transient', error: { code: 'http_502' } });
  });
});

describe('metaDestination against the Meta fake (Meta’s documented validation)', () => {
  let fake: MetaFake;
  beforeAll(async () => {
    fake = await startMetaFake({ pixelId: CONFIG.pixelId, accessToken: CONFIG.accessToken, apiVersion: CONFIG.apiVersion });
  });
  afterAll(async () => fake?.close());

  it('builds a batch the API accepts, events as sent', async () => {
    // Prepare: the fake checks event ages against the real clock.
    const now = new Date();
    const batch = ['a', 'b'].map((id) => conversionFactory({ eventId: id, orderId: id, occurredAt: new Date(now.getTime() - 60_000).toISOString() }));
    const request = metaDestination.buildRequest(batch, { ...CONFIG, baseUrl: fake.baseUrl }, now);

    // Act
    const verdict = metaDestination.classify(await fetchTransport()(request));

    // Assess
    expect(verdict).toEqual({ kind: 'ok' });
    expect(fake.events().map((e) => e.event_id)).toEqual(['a', 'b']);
  });

  it('classifies the API’s answer to a wrong token as a rejected batch', async () => {
    const request = metaDestination.buildRequest([conversionFactory()], { ...CONFIG, baseUrl: fake.baseUrl, accessToken: 'wrong' }, new Date());

    expect(metaDestination.classify(await fetchTransport()(request))).toMatchObject({ kind: 'rejected-batch', error: { code: '190' } });
  });
});

describe('Meta and the consent tiers', () => {
  it('skips a conversion without consent, and one with analytics consent only, saying why', () => {
    const none = conversionFactory({ consent: { marketing: false, adUserData: false, adPersonalization: false, analytics: false } });
    const analytics = conversionFactory({ consent: { marketing: false, adUserData: false, adPersonalization: false, analytics: true } });
    expect(metaDestination.skipReason!(none)).toMatch(/^consent: the visitor gave no marketing or analytics consent/);
    expect(metaDestination.skipReason!(analytics)).toMatch(/^consent: analytics only; Meta cannot use an event without identifiers/);
  });

  it('sends a fully consented conversion without data processing options', () => {
    const c = conversionFactory({ consent: { marketing: true, adUserData: true, adPersonalization: true, analytics: true } });
    expect(metaDestination.skipReason!(c)).toBeUndefined();
    expect(toMetaEvent(c, NOW).data_processing_options).toBeUndefined();
  });

  it('flags Limited Data Use when marketing is granted but personalization refused', () => {
    const c = conversionFactory({ consent: { marketing: true, adUserData: true, adPersonalization: false, analytics: true } });
    expect(metaDestination.skipReason!(c)).toBeUndefined();
    expect(toMetaEvent(c, NOW)).toMatchObject({ data_processing_options: ['LDU'], data_processing_options_country: 0, data_processing_options_state: 0 });
  });
});
