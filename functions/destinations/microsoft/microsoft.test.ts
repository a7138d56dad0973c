import { describe, expect, it } from 'vitest';
import { matchRecord } from '#core/match-quality.ts';
import { hashUser } from '#core/normalize.ts';
import { deliver } from '#destinations/deliver.ts';
import type { PlatformRequest, PlatformResponse } from '#destinations/types.ts';
import { NOW, conversionFactory, conversions, sha256 } from '../../../test/support/factories.ts';
import { classifyUetResponse } from './classify.ts';
import { DATA_PROVIDER, microsoftDestination, type MicrosoftConfig } from './index.ts';
import { toUetEvent, uetEventName } from './payload.ts';

// Facts from Microsoft's UET Conversions API guide (MicrosoftDocs/Advertising@a21125d, platforms-more.md §5):
// POST /v1/{tagId}/events with a Bearer token; eventTime in seconds within 7 days; em / ph SHA-256 of Microsoft's
// forms (every local part's dots and +alias dropped; E.164 with '+'); ≤ 1,000 events; a 400 processes nothing and
// names the failed events by index.

const CAPI: MicrosoftConfig = { uploadApi: 'capi', eventNames: {}, capi: { tagId: '187012345', token: 'uet-token', baseUrl: 'https://capi.uet.microsoft.com' } };
const res = (status: number, body: unknown): PlatformResponse => ({ status, headers: {}, body });
const MSCLKID = 'dd4afcccb1c9a4cad9544dd7e5006ab1';
/** Microsoft's published hashes: john@contoso.com and +14255551234. */
const KAT = { em: 'ec81f3ac7b2b19675bab9d54cf416f9f18cff87c97da5cca82c0f0891bc40602', ph: 'c59475d96e9f01d7d18d06cfad84dd02333207f02c0c2c5663ef2782cda0390e' };

describe('toUetEvent', () => {
  it('sends a custom event in seconds with the event ID, the event action and a numeric value', () => {
    const e = toUetEvent(conversionFactory({ occurredAt: '2026-03-02T11:50:00.000Z', value: 49.99, contents: [{ id: 'sku-1', quantity: 2, price: 25, name: 'Shirt' }] }), 'purchase', NOW);

    expect(e).toMatchObject({ eventType: 'custom', eventId: 'cs_test_order_1', eventName: 'purchase', eventTime: Date.UTC(2026, 2, 2, 11, 50) / 1000, adStorageConsent: 'G' });
    expect(e.customData).toEqual({
      value: 49.99,
      currency: 'USD',
      transactionId: 'cs_test_order_1',
      itemIds: ['sku-1'],
      items: [{ id: 'sku-1', quantity: 2, price: 25, name: 'Shirt' }],
      pageType: 'purchase',
      ecommTotalValue: 49.99,
    });
  });

  it('hashes e-mail and phone as Microsoft publishes (its KATs), through hashUser at ingestion', () => {
    const user = hashUser({ email: ' John@Contoso.com ', phone: '+1 (425) 555-1234' });
    const { userData } = toUetEvent(conversionFactory({ user }), 'purchase', NOW);
    expect(userData).toEqual({ em: KAT.em, ph: KAT.ph });
  });

  it('sends Microsoft’s e-mail form (dots dropped for any domain), E.164 phone, msclkid, UET visitor ID, external ID, IP and UA', () => {
    const user = { ...hashUser({ email: 'Jane.Doe@Example.com', phone: '+1 415 555 0123' }), externalId: sha256('cus_1'), ip: '203.0.113.7', userAgent: 'Mozilla/5.0' };
    const c = conversionFactory({ user, clicks: { msclkid: { value: MSCLKID, capturedAt: 1 }, uetvid: { value: 'b171a9b06ce011ecafcd1b209be8601b', capturedAt: 1 } } });

    expect(toUetEvent(c, 'purchase', NOW).userData).toEqual({
      msclkid: MSCLKID,
      em: 'c4d25e9c90ff23e9145397bc6fbd5385ca5fbe78211222ccbecd0b369ebb19a6', // sha256(janedoe@example.com)
      ph: '36a2cef4ff9bf7a1abd2a93359136b870393be4106e6c5d19b72ff564f9deca4', // sha256(+14155550123)
      anonymousId: 'b171a9b06ce011ecafcd1b209be8601b',
      externalId: sha256('cus_1'),
      clientIpAddress: '203.0.113.7',
      clientUserAgent: 'Mozilla/5.0',
    });
  });

  it('sends an msclkid only when it is a GUID (32 hex digits or dashed), so a mangled one cannot fail the event', () => {
    const ids = (value: string) => toUetEvent(conversionFactory({ clicks: { msclkid: { value, capturedAt: 1 } } }), 'purchase', NOW).userData.msclkid;
    expect(ids(MSCLKID)).toBe(MSCLKID);
    expect(ids('dd4afccc-b1c9-4a4c-ad95-44dd7e5006ab')).toBe('dd4afccc-b1c9-4a4c-ad95-44dd7e5006ab');
    expect(ids('ms-6')).toBeUndefined();
  });

  it('never sends a digits-only phone hash as ph (well-formed, but it would never match)', () => {
    const { userData } = toUetEvent(conversionFactory({ user: { phone: sha256('16505551212') } }), 'purchase', NOW);
    expect(userData).not.toHaveProperty('ph');
  });

  it('maps conversion names to UET event actions, with MICROSOFT_EVENT_NAMES first', () => {
    expect(uetEventName('Purchase')).toBe('purchase');
    expect(uetEventName('Lead')).toBe('generate_lead');
    expect(uetEventName('CompleteRegistration')).toBe('sign_up');
    expect(uetEventName('StartTrial')).toBe('start_trial');
    expect(uetEventName('Purchase', { Purchase: 'checkout_complete' })).toBe('checkout_complete');
  });
});

describe('microsoftDestination (UET Conversions API)', () => {
  it('posts {data, continueOnValidationError: false, dataProvider} to /v1/{tagId}/events with the Bearer token', () => {
    const r = microsoftDestination.buildRequest([conversionFactory()], CAPI, NOW);
    expect(r.url).toBe('https://capi.uet.microsoft.com/v1/187012345/events');
    expect(r.headers.authorization).toBe('Bearer uet-token');
    expect(r.body).toMatchObject({ continueOnValidationError: false, dataProvider: DATA_PROVIDER });
    expect((r.body as { data: unknown[] }).data).toHaveLength(1);
    expect(JSON.stringify(r.body)).not.toContain('uet-token');
  });

  it('runs in dry-run without credentials (placeholders, no token), and fails on a half-done configuration naming what is missing', () => {
    expect(microsoftDestination.configure({})).toEqual({ config: undefined, missing: ['MICROSOFT_UET_TAG_ID', 'MICROSOFT_CAPI_TOKEN'] });
    const dry = microsoftDestination.buildRequest([conversionFactory()], undefined, NOW);
    expect(dry.url).toContain('<MICROSOFT_UET_TAG_ID>');
    expect(dry.headers.authorization).toBe('Bearer <MICROSOFT_CAPI_TOKEN>');
    expect(() => microsoftDestination.configure({ MICROSOFT_UET_TAG_ID: '187012345' })).toThrow(/configured only in part: MICROSOFT_CAPI_TOKEN is missing/);
    expect(() => microsoftDestination.configure({ MICROSOFT_UET_TAG_ID: 'tag', MICROSOFT_CAPI_TOKEN: 't' })).toThrow(/MICROSOFT_UET_TAG_ID must be/);
    expect(() => microsoftDestination.configure({ MICROSOFT_UPLOAD_API: 'soap' })).toThrow(/MICROSOFT_UPLOAD_API must be capi/);
    expect(() => microsoftDestination.configure({ MICROSOFT_DEVELOPER_TOKEN: 'd', MICROSOFT_REFRESH_TOKEN: 'r' })).toThrow(/MICROSOFT_UPLOAD_API is not/);
    expect(microsoftDestination.configure({ MICROSOFT_UET_TAG_ID: ' 187012345 ', MICROSOFT_CAPI_TOKEN: 'tok', MICROSOFT_EVENT_NAMES: 'Purchase=checkout_complete' }).config).toEqual({
      uploadApi: 'capi',
      eventNames: { Purchase: 'checkout_complete' },
      capi: { tagId: '187012345', token: 'tok', baseUrl: 'https://capi.uet.microsoft.com' },
    });
  });

  it('skips a refund with the reason (CAPI cannot retract), but only once it knows the path; unconsented and unmatchable conversions too', () => {
    const refund = conversionFactory({ eventName: 'Refund', adjustment: { kind: 'refund', originalOrderId: 'o', full: true } });
    expect(microsoftDestination.skipReason!(refund, CAPI)).toMatch(/UET Conversions API has no way to retract.*MICROSOFT_UPLOAD_API=offline/);
    // At ingest the configuration is not known: the refund is queued, the sender decides.
    expect(microsoftDestination.skipReason!(refund)).toBeUndefined();
    expect(microsoftDestination.skipReason!(conversionFactory({ consent: { marketing: false } }), CAPI)).toMatch(/consent/);
    expect(microsoftDestination.skipReason!(conversionFactory({ user: { ip: '203.0.113.7', userAgent: 'UA' } }), CAPI)).toMatch(/Microsoft needs an msclkid/);
    expect(microsoftDestination.skipReason!(conversionFactory(), CAPI)).toBeUndefined();
  });

  it('skips a conversion older than 7 days with the reason, and sends 1,000 events per request', async () => {
    const sent: PlatformRequest[] = [];
    const transport = async (r: PlatformRequest) => (sent.push(r), res(200, { eventsReceived: (r.body as { data: unknown[] }).data.length }));
    const old = conversionFactory({ eventId: 'old', occurredAt: new Date(NOW.getTime() - 8 * 24 * 3600_000).toISOString() });
    const results = await deliver(microsoftDestination, CAPI, [old, ...conversions(2500)], transport, NOW);
    expect(results[0]).toEqual({ status: 'skipped', reason: expect.stringMatching(/too old for microsoft: occurred 192 h ago, the platform accepts at most 167 h/) });
    expect(results.slice(1).every((r) => r.status === 'delivered')).toBe(true);
    expect(sent.map((r) => (r.body as { data: unknown[] }).data.length)).toEqual([1000, 1000, 500]);
  });

  it('isolates the event a 400 names: it fails, the others go again in one request', async () => {
    const sent: PlatformRequest[] = [];
    const transport = async (r: PlatformRequest) => {
      sent.push(r);
      const ids = (r.body as { data: { eventId: string }[] }).data.map((e) => e.eventId);
      const bad = ids.indexOf('order_1');
      if (bad < 0) return res(200, { eventsReceived: ids.length });
      return res(400, { error: { code: 'ValidationError', message: 'One or multiple parameters did not pass validation checks', details: [{ index: bad, propertyName: `data[${bad}].eventTime`, errorMessage: "'eventTime' must be within last 7 days.", errorCode: 'InvalidEventTime', isWarning: false }] } });
    };
    const results = await deliver(microsoftDestination, CAPI, conversions(3), transport, NOW);
    expect(results.map((r) => r.status)).toEqual(['delivered', 'failed', 'delivered']);
    expect(results[1]).toMatchObject({ error: { code: 'InvalidEventTime', message: expect.stringContaining('data[1].eventTime') } });
    expect(sent).toHaveLength(2);
  });

  it('records Microsoft’s keys under the canonical names in the match record', () => {
    const c = conversionFactory({ clicks: { msclkid: { value: MSCLKID, capturedAt: Date.parse(NOW.toISOString()) - 3600_000 }, uetvid: { value: 'v', capturedAt: 1 } } });
    const m = matchRecord('microsoft', c, microsoftDestination.signals(c, CAPI));
    expect(m.k.split(' ').sort()).toEqual(['em', 'ip', 'msclkid', 'ph', 'ua', 'uetvid', 'xid']);
    expect(m.c).toBe('msclkid');
  });
});

describe('classifyUetResponse', () => {
  it('counts a 200 as delivered, warnings included (the field was dropped, the event kept)', () => {
    expect(classifyUetResponse(res(200, { eventsReceived: 2 }))).toEqual({ kind: 'ok' });
  });

  it('fails only the events a 400 lists as errors (not warnings) and resends the others', () => {
    const details = [
      { index: 0, propertyName: 'data[0].userData.em', errorMessage: "'em' must be a valid SHA256 string.", errorCode: 'InvalidSha256', isWarning: true },
      { index: 2, propertyName: 'data[2].eventType', errorMessage: "'eventType' must be one of the following: pageLoad, custom.", errorCode: 'InvalidEnumValue', isWarning: false },
      { propertyName: 'data[3].eventTime', errorMessage: "'eventTime' must not be empty.", errorCode: 'Empty', isWarning: false },
    ];
    expect(classifyUetResponse(res(400, { error: { code: 'ValidationError', message: 'see details', details } }))).toEqual({
      kind: 'partial',
      resendOthers: true,
      failures: [
        { index: 2, transient: false, error: { code: 'InvalidEnumValue', message: "data[2].eventType: 'eventType' must be one of the following: pageLoad, custom." } },
        { index: 3, transient: false, error: { code: 'Empty', message: "data[3].eventTime: 'eventTime' must not be empty." } },
      ],
    });
  });

  it('401 rejects the batch (token or tag); 429 / 5xx are retried; a 400 naming no event splits the batch', () => {
    expect(classifyUetResponse(res(401, { error: { code: 'Unauthorized', message: 'You are not authorized to access this resource.' } }))).toEqual({
      kind: 'rejected-batch',
      error: { code: 'Unauthorized', message: 'You are not authorized to access this resource.' },
    });
    expect(classifyUetResponse(res(429, '')).kind).toBe('transient');
    expect(classifyUetResponse(res(503, '<html>')).kind).toBe('transient');
    expect(classifyUetResponse(res(400, { error: { code: 'ValidationError', message: 'bad', details: [] } })).kind).toBe('rejected-data');
  });
});
