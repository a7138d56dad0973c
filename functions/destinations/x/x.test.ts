import { describe, expect, it } from 'vitest';
import { matchRecord } from '#core/match-quality.ts';
import { parseOAuthAuthorization, verifyOAuth1Signature } from '#destinations/oauth1.ts';
import type { PlatformResponse } from '#destinations/types.ts';
import { NOW, conversionFactory, sha256 } from '../../../test/support/factories.ts';
import { classifyXResponse } from './classify.ts';
import { xDestination, type XConfig } from './index.ts';
import { toXConversion } from './payload.ts';

// Facts from X's web-conversions guide (xdevplatform/docs x-ads-api/measurement/web-conversions.mdx) and
// platforms-more.md §6: conversion_time yyyy-MM-ddTHH:mm:ss.SSSZ, identifiers one object each (IP + UA together),
// twclid unhashed, e-mail SHA-256 of trim+lowercase, phone SHA-256 of E.164 with '+', 500 a request, OAuth 1.0a.

const CREDENTIALS = { consumerKey: 'x-consumer-key', consumerSecret: 'x-consumer-secret', token: '18ce55-x-token', tokenSecret: 'x-token-secret' };
const CONFIG: XConfig = { pixelId: 'o8z6j', events: { Purchase: 'o87ne', Lead: 'tw-o8z6j-o87nf' }, credentials: CREDENTIALS, apiVersion: '12', baseUrl: 'https://ads-api.x.com' };
const SETTINGS = { X_CONSUMER_KEY: 'ck', X_CONSUMER_SECRET: 'cs', X_ACCESS_TOKEN: 'at', X_ACCESS_TOKEN_SECRET: 'as', X_PIXEL_ID: 'o8z6j', X_EVENT_IDS: 'Purchase=o87ne' };
const res = (status: number, body: unknown, headers: Record<string, string> = {}): PlatformResponse => ({ status, headers, body });
const TWCLID = { value: '23opevjt88psuo13lu8d020qkn', capturedAt: 1 };

describe('toXConversion', () => {
  it('sends ISO time with milliseconds, the Events Manager event ID, conversion_id = our event ID, value as a string', () => {
    const c = conversionFactory({ occurredAt: '2026-03-02T11:50:00Z', value: 49.9, contents: [{ id: 'sku-1', quantity: 2, price: 24.95, name: 'Blankets' }] });
    expect(toXConversion(c, 'o87ne', NOW)).toMatchObject({
      conversion_time: '2026-03-02T11:50:00.000Z',
      event_id: 'o87ne',
      conversion_id: 'cs_test_order_1',
      value: '49.90',
      price_currency: 'USD',
      number_items: 2,
      contents: [{ content_id: 'sku-1', content_name: 'Blankets', content_price: 24.95, num_items: 2 }],
    });
  });

  it('groups identifiers as X documents: twclid in clear, hashed e-mail, E.164 phone hash, IP + UA in one object', () => {
    const c = conversionFactory({ clicks: { twclid: TWCLID } });
    expect(toXConversion(c, 'o87ne', NOW).identifiers).toEqual([
      { twclid: '23opevjt88psuo13lu8d020qkn' },
      { hashed_email: sha256('jenny.rosen@example.com') },
      { hashed_phone_number: sha256('+16505551212') },
      { ip_address: '203.0.113.7', user_agent: c.user.userAgent },
    ]);
  });

  it('leaves out an IPv6 address (X documents dotted decimal) and sends no IP/UA object without a real identifier', () => {
    expect(toXConversion(conversionFactory({ user: { email: sha256('a@b.co'), ip: '2001:db8::1', userAgent: 'UA' } }), 'e', NOW).identifiers).toEqual([{ hashed_email: sha256('a@b.co') }, { user_agent: 'UA' }]);
    expect(toXConversion(conversionFactory({ user: { ip: '203.0.113.7', userAgent: 'UA' }, clicks: {} }), 'e', NOW).identifiers).toEqual([]);
  });

  it('never puts the time ahead of now', () => {
    expect(toXConversion(conversionFactory({ occurredAt: '2026-03-02T12:05:00.000Z' }), 'e', NOW).conversion_time).toBe(NOW.toISOString());
  });
});

describe('xDestination', () => {
  it('posts {conversions} to /12/measurement/conversions/{pixel} with an OAuth 1.0a header that verifies, secrets nowhere', () => {
    const r = xDestination.buildRequest([conversionFactory()], CONFIG, NOW);
    expect(r).toMatchObject({ method: 'POST', url: 'https://ads-api.x.com/12/measurement/conversions/o8z6j', headers: { 'content-type': 'application/json' } });
    const header = parseOAuthAuthorization(r.headers.authorization)!;
    expect(header).toMatchObject({ oauth_consumer_key: 'x-consumer-key', oauth_token: '18ce55-x-token', oauth_signature_method: 'HMAC-SHA1', oauth_timestamp: String(NOW.getTime() / 1000) });
    expect(verifyOAuth1Signature({ method: 'POST', url: r.url }, header, { consumerSecret: 'x-consumer-secret', tokenSecret: 'x-token-secret' })).toBe(true);
    expect(JSON.stringify(r)).not.toMatch(/x-consumer-secret|x-token-secret/);
    // A fresh nonce per request.
    expect(parseOAuthAuthorization(xDestination.buildRequest([conversionFactory()], CONFIG, NOW).headers.authorization)!.oauth_nonce).not.toBe(header.oauth_nonce);
  });

  it('runs in dry-run without credentials, with placeholders and no signature', () => {
    expect(xDestination.configure({})).toEqual({ config: undefined, missing: ['X_CONSUMER_KEY', 'X_CONSUMER_SECRET', 'X_ACCESS_TOKEN', 'X_ACCESS_TOKEN_SECRET', 'X_PIXEL_ID', 'X_EVENT_IDS'] });
    const r = xDestination.buildRequest([conversionFactory()], undefined, NOW);
    expect(r.url).toBe('https://ads-api.x.com/12/measurement/conversions/<X_PIXEL_ID>');
    expect(r.headers.authorization).toContain('<X_CONSUMER_KEY>');
    expect((r.body as { conversions: { event_id: string }[] }).conversions[0].event_id).toBe('<X_EVENT_ID>');
  });

  it('reads the settings, and refuses a pixel or event ID that is not base 36', () => {
    expect(xDestination.configure({ ...SETTINGS, X_EVENT_IDS: 'Purchase=o87ne, Lead=tw-o8z6j-o87nf', X_API_BASE_URL: 'http://127.0.0.1:9/' }).config).toEqual({
      pixelId: 'o8z6j',
      events: { Purchase: 'o87ne', Lead: 'tw-o8z6j-o87nf' },
      credentials: { consumerKey: 'ck', consumerSecret: 'cs', token: 'at', tokenSecret: 'as' },
      apiVersion: '12',
      baseUrl: 'http://127.0.0.1:9',
    });
    expect(() => xDestination.configure({ ...SETTINGS, X_PIXEL_ID: 'O8Z6J!' })).toThrow(/X_PIXEL_ID/);
    expect(() => xDestination.configure({ ...SETTINGS, X_EVENT_IDS: 'Purchase' })).toThrow(/X_EVENT_IDS must look like Purchase=o87ne/);
    expect(() => xDestination.configure({ ...SETTINGS, X_API_VERSION: 'v12' })).toThrow(/X_API_VERSION/);
  });

  it('skips, with the reason: refunds, no consent, refused personalization, nothing to match on, an unmapped event', () => {
    const skip = (c: Parameters<NonNullable<typeof xDestination.skipReason>>[0], config?: XConfig) => xDestination.skipReason!(c, config);
    expect(skip(conversionFactory({ eventName: 'Refund', adjustment: { kind: 'refund', originalOrderId: 'o', full: true } }))).toMatch(/X has no way to retract a conversion: the refund is recorded, not sent/);
    expect(skip(conversionFactory({ consent: { marketing: false, analytics: true } }))).toMatch(/consent: analytics only/);
    expect(skip(conversionFactory({ consent: { marketing: true, adUserData: true, adPersonalization: false, analytics: true } }))).toMatch(/ad personalization refused, and X has no limited-data-use mode/);
    expect(skip(conversionFactory({ user: { ip: '203.0.113.7', userAgent: 'UA', phone: sha256('16505551212') }, clicks: {} }))).toBe('X needs a twclid, a hashed e-mail or a hashed E.164 phone; this conversion has none');
    expect(skip(conversionFactory({ user: {}, clicks: { twclid: TWCLID } }))).toBeUndefined();
    expect(skip(conversionFactory({ eventName: 'Subscribe' }), CONFIG)).toBe('X: no event ID configured for Subscribe in X_EVENT_IDS');
    expect(skip(conversionFactory(), CONFIG)).toBeUndefined();
  });

  it('batches 500 a request, one X event per request, and skips conversions older than 90 days', () => {
    expect(xDestination.maxBatchSize).toBe(500);
    expect(xDestination.groupKey!(conversionFactory({ eventName: 'Lead' }))).not.toBe(xDestination.groupKey!(conversionFactory()));
    expect(xDestination.maxEventAgeMs).toBeLessThanOrEqual(90 * 24 * 3600_000);
  });

  it('names its signals so match quality reads em, ph, ip, ua and the twclid click', () => {
    const c = conversionFactory({ clicks: { twclid: TWCLID } });
    const signals = xDestination.signals(c);
    expect(signals).toEqual(['twclid', 'hashed_email', 'hashed_phone_number', 'ip_address', 'user_agent']);
    expect(matchRecord('x', c, signals)).toMatchObject({ k: 'twclid em ph ip ua', c: 'twclid' });
  });
});

describe('classifyXResponse', () => {
  it('takes a 200 with conversions_processed as every conversion delivered; a 200 without it proves nothing', () => {
    expect(classifyXResponse(res(200, { request: { params: { account_id: '18ce552mlaq' } }, data: { conversions_processed: 2, debug_id: 'ff02e052' } }))).toEqual({ kind: 'ok' });
    expect(classifyXResponse(res(200, '<html>')).kind).toBe('transient');
  });

  it('splits a 400 for bad data (the whole request fails), dead-letters an event_id or 404 configuration error', () => {
    const invalid = { errors: [{ code: 'INVALID_PARAMETER', message: 'hashed_email (abc) is not a valid SHA-256 hash', parameter: 'hashed_email' }] };
    expect(classifyXResponse(res(400, invalid))).toEqual({ kind: 'rejected-data', error: { code: 'INVALID_PARAMETER', message: 'hashed_email (abc) is not a valid SHA-256 hash' } });
    expect(classifyXResponse(res(400, { errors: [{ code: 'INVALID_PARAMETER', message: 'event_id (o6dkt) is not a single event tag (SET)', parameter: 'event_id' }] })).kind).toBe('rejected-batch');
    const notFound = { errors: [{ code: 'NOT_FOUND', message: 'event_id (abc) does not belong to provided account', parameter: 'event_id' }, { code: 'INVALID_PARAMETER', message: 'event_id (abc) is not a single event tag (SET)', parameter: 'event_id' }] };
    expect(classifyXResponse(res(404, notFound))).toEqual({ kind: 'rejected-batch', error: { code: 'NOT_FOUND', message: 'event_id (abc) does not belong to provided account; event_id (abc) is not a single event tag (SET)' } });
  });

  it('dead-letters 401/403 (signature, token, no Ads API access); retries 408, 423, 429 (until the window resets) and 5xx', () => {
    expect(classifyXResponse(res(401, { errors: [{ code: 'UNAUTHORIZED_ACCESS', message: 'This request is not properly authenticated' }] }))).toMatchObject({ kind: 'rejected-batch', error: { code: 'UNAUTHORIZED_ACCESS' } });
    expect(classifyXResponse(res(403, { errors: [{ code: 'UNAUTHORIZED_CLIENT_APPLICATION', message: 'no Ads API access' }] })).kind).toBe('rejected-batch');
    const now = Date.UTC(2026, 2, 2, 12);
    expect(classifyXResponse(res(429, { errors: [{ code: 'TOO_MANY_REQUESTS' }] }, { 'x-rate-limit-reset': String(now / 1000 + 120) }), now)).toEqual({ kind: 'transient', error: { code: 'TOO_MANY_REQUESTS', message: 'TOO_MANY_REQUESTS' }, retryAfterSeconds: 120 });
    expect(classifyXResponse(res(429, {}, { 'x-rate-limit-reset': String(now / 1000 + 99_999) }), now)).toMatchObject({ retryAfterSeconds: 900 });
    for (const status of [408, 423, 500, 503]) expect(classifyXResponse(res(status, { errors: [{ code: 'SERVICE_UNAVAILABLE' }] })).kind).toBe('transient');
  });
});
