import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Conversion } from '#core/conversion.ts';
import { deliver } from '#destinations/deliver.ts';
import { fetchTransport } from '#destinations/http.ts';
import type { PlatformRequest } from '#destinations/types.ts';
import { startGa4Fake, type Ga4Fake } from '../../../test/fakes/ga4-server.ts';
import { NOW, conversionFactory, sha256 } from '../../../test/support/factories.ts';
import { classifyGa4Response } from './classify.ts';
import { ga4Destination, type Ga4Config } from './index.ts';
import { ga4ClientId } from './client-id.ts';
import { ga4EventName, toGa4Event } from './payload.ts';
import { ga4Problem, type Ga4Request } from './schema.ts';

// Facts from platforms.md §4 (GA4 Measurement Protocol): POST {base}/mp/collect?measurement_id&api_secret, client_id
// required (one per request), ≤25 events, timestamp_micros back-dated ≤72 h, 2xx even for invalid payloads,
// /debug/mp/collect answers validationMessages, user_data as SHA-256 in Google's normalization, consent
// ad_user_data / ad_personalization as GRANTED / DENIED.

const CONFIG: Ga4Config = { measurementId: 'G-TEST12345', apiSecret: 'mp-secret', baseUrl: 'https://www.google-analytics.com', validate: false };
const HOUR = 3600_000;
const withGa = (clientId: string, overrides: Partial<Conversion> = {}) =>
  conversionFactory({ clicks: { gaClientId: { value: clientId, capturedAt: NOW.getTime() - HOUR } }, ...overrides });
const bodyOf = (r: PlatformRequest) => r.body as Ga4Request;

describe('GA4 client ID', () => {
  it('uses the visitor’s _ga client ID when /collect captured it', () => {
    expect(ga4ClientId(withGa('1234567890.1772450000'))).toEqual({ clientId: '1234567890.1772450000' });
  });

  it('derives a stable pseudo ID from the visitor ID, else from the customer ID, in GA’s shape', () => {
    const fromVisitor = ga4ClientId(conversionFactory({ visitorId: 'vis_1' }));
    const again = ga4ClientId(conversionFactory({ visitorId: 'vis_1', eventId: 'other' }));
    const fromCustomer = ga4ClientId(conversionFactory({ visitorId: undefined }));

    expect(fromVisitor).toEqual(again);
    expect(fromVisitor).toMatchObject({ clientId: expect.stringMatching(/^\d+\.\d+$/), derivedFrom: 'visitor' });
    expect(fromCustomer).toMatchObject({ clientId: expect.stringMatching(/^\d+\.\d+$/), derivedFrom: 'customer' });
    expect(fromCustomer!.clientId).not.toBe(fromVisitor!.clientId);
  });

  it('skips a conversion with no way to name a client, with the reason', () => {
    const anonymous = conversionFactory({ visitorId: undefined, user: { email: sha256('a@b.co') } });

    expect(ga4ClientId(anonymous)).toBeUndefined();
    expect(ga4Destination.skipReason!(anonymous)).toMatch(/client ID/);
  });
});

describe('toGa4Event', () => {
  it('sends a Purchase as GA4’s purchase with transaction_id, value, currency and items', () => {
    const c = conversionFactory({ orderId: 'cs_1', value: 19.99, currency: 'USD', contents: [{ id: 'sku-1', quantity: 2, price: 9.995, name: 'Socks' }] });

    expect(toGa4Event(c, NOW)).toEqual({
      name: 'purchase',
      params: { transaction_id: 'cs_1', value: 19.99, currency: 'USD', items: [{ item_id: 'sku-1', quantity: 2, item_name: 'Socks', price: 9.995 }] },
      timestamp_micros: Date.parse(c.occurredAt) * 1000,
    });
  });

  it('sends a refund as GA4’s refund of the original transaction', () => {
    const refund = conversionFactory({ eventName: 'Refund', eventId: 'cs_1:refund', value: 5, adjustment: { kind: 'refund', originalOrderId: 'cs_1', full: false, remainingValue: 14.99 } });

    expect(toGa4Event(refund, NOW)).toMatchObject({ name: 'refund', params: { transaction_id: 'cs_1', value: 5, currency: 'USD' } });
    expect(ga4Destination.skipReason!(refund)).toBeUndefined();
  });

  it.each([
    ['Lead', 'generate_lead'],
    ['CompleteRegistration', 'sign_up'],
    ['StartTrial', 'start_trial'],
    ['Webinar Signup!', 'webinar_signup'],
    ['session_start', 'conversion_session_start'],
    ['Google Thing', 'conversion_google_thing'],
  ])('names %s as %s (a name GA4 accepts)', (ours, theirs) => {
    expect(ga4EventName(conversionFactory({ eventName: ours }))).toBe(theirs);
  });

  it('sends timestamp_micros in microseconds, never in the future', () => {
    expect(toGa4Event(conversionFactory({ occurredAt: new Date(NOW.getTime() + 60_000).toISOString() }), NOW).timestamp_micros).toBe(NOW.getTime() * 1000);
  });
});

describe('ga4Destination.buildRequest', () => {
  it('posts to /mp/collect with measurement_id and api_secret, and to /debug/mp/collect in validation mode', () => {
    const live = ga4Destination.buildRequest([withGa('1.2')], CONFIG, NOW);
    const test = ga4Destination.buildRequest([withGa('1.2')], { ...CONFIG, validate: true }, NOW);

    expect(live.url).toBe('https://www.google-analytics.com/mp/collect?measurement_id=G-TEST12345&api_secret=mp-secret');
    expect(test.url).toBe('https://www.google-analytics.com/debug/mp/collect?measurement_id=G-TEST12345&api_secret=mp-secret');
    expect(bodyOf(test).validation_behavior).toBe('ENFORCE_RECOMMENDATIONS');
    expect(bodyOf(live)).not.toHaveProperty('validation_behavior');
  });

  it('carries client_id, hashed customer user_id, IP, consent and Google-normalized user_data', () => {
    const gmail = withGa('1.2', { user: { ...conversionFactory().user, email: sha256('jane.doe@gmail.com'), emailGoogle: sha256('janedoe@gmail.com') } });

    const body = bodyOf(ga4Destination.buildRequest([gmail], CONFIG, NOW));

    expect(body).toMatchObject({
      client_id: '1.2',
      user_id: sha256('cus_123'),
      ip_override: '203.0.113.7',
      consent: { ad_user_data: 'GRANTED', ad_personalization: 'GRANTED' },
      user_data: {
        sha256_email_address: [sha256('janedoe@gmail.com')],
        sha256_phone_number: [sha256('+16505551212')],
        address: [{ sha256_first_name: sha256('jenny'), sha256_last_name: sha256('rosen'), country: 'us' }],
      },
    });
    expect(ga4Problem(body)).toBeUndefined();
  });

  it('sends no user_data without ad_user_data consent, and says DENIED', () => {
    const c = withGa('1.2', { consent: { marketing: false, adUserData: false, adPersonalization: false, analytics: true } });

    const body = bodyOf(ga4Destination.buildRequest([c], CONFIG, NOW));

    expect(body.user_data).toBeUndefined();
    expect(body.consent).toEqual({ ad_user_data: 'DENIED', ad_personalization: 'DENIED' });
    expect(ga4Destination.skipReason!(c)).toBeUndefined();
    expect(ga4Destination.signals(c)).not.toContain('sha256_email_address');
    // The analytics tier carries no identifier: neither the customer ID nor the visitor's IP.
    expect(c.user.ip).toBeTruthy();
    expect(body).not.toHaveProperty('user_id');
    expect(body).not.toHaveProperty('ip_override');
    expect(ga4Destination.signals(c)).not.toContain('ip_override');
  });

  it('never uses the visitor-derived external ID as user_id', () => {
    const c = withGa('1.2', { visitorId: 'vis_9', user: { externalId: sha256('vis_9') } });

    expect(bodyOf(ga4Destination.buildRequest([c], CONFIG, NOW))).not.toHaveProperty('user_id');
  });

  it('skips conversions without analytics consent', () => {
    expect(ga4Destination.skipReason!(withGa('1.2', { consent: { analytics: false } }))).toMatch(/analytics/);
  });

  it('uses placeholders in dry-run and lists the missing settings', () => {
    expect(ga4Destination.configure({})).toEqual({ config: undefined, missing: ['GA4_MEASUREMENT_ID', 'GA4_API_SECRET'] });
    expect(ga4Destination.buildRequest([withGa('1.2')], undefined, NOW).url).toBe(
      'https://www.google-analytics.com/mp/collect?measurement_id=%3CGA4_MEASUREMENT_ID%3E&api_secret=%3CGA4_API_SECRET%3E',
    );
  });

  it('reads its settings and refuses malformed ones', () => {
    expect(ga4Destination.configure({ GA4_MEASUREMENT_ID: ' G-ABC123 ', GA4_API_SECRET: 's', GA4_API_BASE_URL: 'http://127.0.0.1:9/', GA4_VALIDATE: 'true' }).config).toEqual({
      measurementId: 'G-ABC123',
      apiSecret: 's',
      baseUrl: 'http://127.0.0.1:9',
      validate: true,
    });
    expect(() => ga4Destination.configure({ GA4_MEASUREMENT_ID: 'UA-1234-1', GA4_API_SECRET: 's' })).toThrow(/GA4_MEASUREMENT_ID/);
    expect(() => ga4Destination.configure({ GA4_VALIDATE: 'maybe' })).toThrow(/GA4_VALIDATE/);
  });

  it('reports what it sends as signals', () => {
    expect(ga4Destination.signals(withGa('1.2'))).toEqual([
      'client_id',
      'user_id',
      'ip_override',
      'sha256_email_address',
      'sha256_phone_number',
      'address.sha256_first_name',
      'address.sha256_last_name',
      'address.country',
    ]);
    expect(ga4Destination.signals(conversionFactory({ user: {} }))[0]).toBe('client_id_from_visitor');
  });
});

describe('ga4Destination.rejectReason (GA4 drops invalid payloads silently)', () => {
  it('passes a valid conversion', () => {
    expect(ga4Destination.rejectReason!(withGa('1.2'), NOW)).toBeUndefined();
  });

  it('rejects a purchase without currency, and a transaction_id over 100 characters', () => {
    expect(ga4Destination.rejectReason!(withGa('1.2', { currency: undefined }), NOW)).toMatchObject({ code: 'ga4_invalid_payload', message: expect.stringMatching(/currency/) });
    expect(ga4Destination.rejectReason!(withGa('1.2', { orderId: 'x'.repeat(101) }), NOW)?.message).toMatch(/100 characters/);
  });

  it('a request of more than 25 events is invalid', () => {
    const body = { client_id: '1.2', events: Array.from({ length: 26 }, () => toGa4Event(withGa('1.2'), NOW)) };
    expect(ga4Problem(body)).toMatch(/25 events/);
  });
});

describe('classifyGa4Response', () => {
  it('takes a 2xx from /mp/collect as ok (it is all GA4 says)', () => {
    expect(classifyGa4Response({ status: 204, headers: {}, body: undefined })).toEqual({ kind: 'ok' });
    expect(classifyGa4Response({ status: 200, headers: {}, body: { validationMessages: [] } })).toEqual({ kind: 'ok' });
  });

  it('retries 429 and 5xx; stops the batch on 401/403/404', () => {
    expect(classifyGa4Response({ status: 503, headers: {}, body: '' }).kind).toBe('transient');
    expect(classifyGa4Response({ status: 429, headers: {}, body: '' }).kind).toBe('transient');
    expect(classifyGa4Response({ status: 404, headers: {}, body: 'Not Found' }).kind).toBe('rejected-batch');
  });

  it('fails only the events the validation server names', () => {
    const verdict = classifyGa4Response({
      status: 200,
      headers: {},
      body: {
        validationMessages: [
          { fieldPath: 'events', description: 'Event at index: [2] has invalid name [_x].', validationCode: 'NAME_INVALID' },
          { fieldPath: 'events[0].params.currency', description: 'currency is required when value is set.', validationCode: 'VALUE_REQUIRED' },
        ],
      },
    });

    expect(verdict).toEqual({
      kind: 'partial',
      failures: [
        { index: 2, transient: false, error: { code: 'NAME_INVALID', message: 'events: Event at index: [2] has invalid name [_x].' } },
        { index: 0, transient: false, error: { code: 'VALUE_REQUIRED', message: 'events[0].params.currency: currency is required when value is set.' } },
      ],
    });
  });

  it('treats a message about the whole request as rejected data (the batch is split)', () => {
    const verdict = classifyGa4Response({ status: 200, headers: {}, body: { validationMessages: [{ fieldPath: 'client_id', description: 'Measurement requires a client_id.', validationCode: 'VALUE_REQUIRED' }] } });

    expect(verdict).toEqual({ kind: 'rejected-data', error: { code: 'VALUE_REQUIRED', message: 'client_id: Measurement requires a client_id.' } });
  });
});

describe('ga4Destination against the GA4 fake', () => {
  let fake: Ga4Fake;
  beforeAll(async () => {
    fake = await startGa4Fake({ measurementId: CONFIG.measurementId, apiSecret: CONFIG.apiSecret });
  });
  afterAll(async () => fake?.close());

  const recent = (now: Date, overrides: Partial<Conversion>) => conversionFactory({ occurredAt: new Date(now.getTime() - 60_000).toISOString(), ...overrides });

  it('sends one request per client, at most 25 events each, and GA4 records every event', async () => {
    fake.reset();
    const now = new Date();
    const batch = [
      ...Array.from({ length: 30 }, (_, i) => recent(now, { eventId: `a${i}`, orderId: `a${i}`, clicks: { gaClientId: { value: '111.1', capturedAt: 1 } } })),
      ...Array.from({ length: 3 }, (_, i) => recent(now, { eventId: `b${i}`, orderId: `b${i}`, clicks: { gaClientId: { value: '222.2', capturedAt: 1 } } })),
    ];
    const stats = { requests: 0 };

    const results = await deliver(ga4Destination, { ...CONFIG, baseUrl: fake.baseUrl }, batch, fetchTransport(), now, stats);

    expect(stats.requests).toBe(3);
    for (const r of fake.requests) expect(new Set((r.body.events as unknown[]).map(() => r.body.client_id)).size).toBe(1);
    expect(Math.max(...fake.requests.map((r) => r.body.events.length))).toBe(25);
    expect(results.every((r) => r.status === 'delivered')).toBe(true);
    expect(fake.dropped()).toEqual([]);
    expect(fake.hits().filter((h) => h.clientId === '222.2').map((h) => h.event.params.transaction_id)).toEqual(['b0', 'b1', 'b2']);
  });

  it('never sends an event GA4 would drop: it is dead-lettered with the reason', async () => {
    fake.reset();
    const now = new Date();
    const bad = recent(now, { eventId: 'bad', orderId: 'bad', currency: undefined, clicks: { gaClientId: { value: '1.2', capturedAt: 1 } } });
    const good = recent(now, { eventId: 'good', orderId: 'good', clicks: { gaClientId: { value: '1.2', capturedAt: 1 } } });

    const results = await deliver(ga4Destination, { ...CONFIG, baseUrl: fake.baseUrl }, [bad, good], fetchTransport(), now);

    expect(results[0]).toMatchObject({ status: 'failed', error: { code: 'ga4_invalid_payload' } });
    expect(results[1].status).toBe('delivered');
    expect(fake.events().map((e) => e.params.transaction_id)).toEqual(['good']);
  });

  it('in validation mode, records nothing in GA4 and fails the events the validation server names', async () => {
    fake.reset();
    const now = new Date();
    // Our clock runs 4 h behind GA's: an event 73 h old by GA's clock passes our 71 h age check (69 h by ours) and the
    // schema, and only the validation server can refuse it.
    const slowClock = new Date(now.getTime() - 4 * HOUR);
    const ok = recent(slowClock, { eventId: 'v1', orderId: 'v1', clicks: { gaClientId: { value: '9.9', capturedAt: 1 } } });
    const stale = conversionFactory({ eventId: 'v2', orderId: 'v2', occurredAt: new Date(now.getTime() - 73 * HOUR).toISOString(), clicks: { gaClientId: { value: '9.9', capturedAt: 1 } } });

    const results = await deliver(ga4Destination, { ...CONFIG, baseUrl: fake.baseUrl, validate: true }, [ok, stale], fetchTransport(), slowClock);

    expect(fake.requests.map((r) => r.path)).toEqual(['/debug/mp/collect']);
    expect(fake.hits()).toEqual([]);
    expect(results[0].status).toBe('delivered');
    expect(results[1]).toMatchObject({ status: 'failed', error: { code: 'VALUE_OUT_OF_BOUNDS' } });
  });
});
