import { describe, expect, it } from 'vitest';
import type { PlatformResponse } from '#destinations/types.ts';
import { NOW, conversionFactory, sha256 } from '../../../test/support/factories.ts';
import { classifySnapchatResponse } from './classify.ts';
import { snapchatDestination, type SnapchatConfig } from './index.ts';
import { toSnapchatEvent } from './payload.ts';

// Facts from platforms-more.md §3 (Snap CAPI v3 SDK schema and docs): event_time in seconds (not ms), hashed arrays,
// phone digits without '+', ScCid → sc_click_id, _scid → sc_cookie1, {status: VALID|INVALID} answers, /events/validate.

const PIXEL = '5f3b1c2a-1d2e-4f5a-8b9c-0d1e2f3a4b5c';
const CONFIG: SnapchatConfig = { pixelId: PIXEL, accessToken: 'snap token', validateOnly: false, baseUrl: 'https://tr.snapchat.com' };
const res = (status: number, body: unknown): PlatformResponse => ({ status, headers: {}, body });

describe('toSnapchatEvent', () => {
  it('sends event_time in 10-digit seconds, PURCHASE, WEB and value as a number', () => {
    const e = toSnapchatEvent(conversionFactory({ occurredAt: '2026-03-02T11:50:00.000Z' }), NOW);

    expect(e).toMatchObject({ event_name: 'PURCHASE', action_source: 'WEB', event_id: 'cs_test_order_1', event_time: Date.UTC(2026, 2, 2, 11, 50) / 1000 });
    expect(String(e.event_time)).toHaveLength(10);
    expect(e.custom_data).toMatchObject({ value: 19.99, currency: 'USD', order_id: 'cs_test_order_1' });
  });

  it('sends hashed arrays, IP, UA, ScCid as sc_click_id and the _scid cookie as sc_cookie1', () => {
    const c = conversionFactory({ clicks: { scCid: { value: 'abc-ScCid-1', capturedAt: 1 }, scid: { value: 'c2a1f0e4-scid', capturedAt: 1 } } });

    const { user_data } = toSnapchatEvent(c, NOW);

    expect(user_data).toMatchObject({
      em: [sha256('jenny.rosen@example.com')],
      ph: [sha256('16505551212')],
      external_id: [sha256('cus_123')],
      client_ip_address: '203.0.113.7',
      sc_click_id: 'abc-ScCid-1',
      sc_cookie1: 'c2a1f0e4-scid',
    });
  });

  it('sets LDU when ad personalization was refused', () => {
    const e = toSnapchatEvent(conversionFactory({ consent: { marketing: true, adUserData: true, adPersonalization: false, analytics: true } }), NOW);
    expect(e.data_processing_options).toEqual(['LDU']);
    expect(toSnapchatEvent(conversionFactory(), NOW)).not.toHaveProperty('data_processing_options');
  });
});

describe('snapchatDestination', () => {
  it('posts to /v3/{pixel}/events with the token as access_token, /events/validate when asked', () => {
    expect(snapchatDestination.buildRequest([conversionFactory()], CONFIG, NOW).url).toBe(`https://tr.snapchat.com/v3/${PIXEL}/events?access_token=snap%20token`);
    expect(snapchatDestination.buildRequest([conversionFactory()], { ...CONFIG, validateOnly: true }, NOW).url).toContain('/events/validate?');
  });

  it('dry-runs without credentials; rejects a pixel ID that is not a UUID', () => {
    expect(snapchatDestination.configure({})).toEqual({ config: undefined, missing: ['SNAPCHAT_PIXEL_ID', 'SNAPCHAT_ACCESS_TOKEN'] });
    expect(() => snapchatDestination.configure({ SNAPCHAT_PIXEL_ID: '123', SNAPCHAT_ACCESS_TOKEN: 't' })).toThrow(/SNAPCHAT_PIXEL_ID/);
  });

  it('keeps events up to 37 days and skips refunds with the reason', () => {
    expect(snapchatDestination.maxEventAgeMs).toBeLessThan(37 * 24 * 3600_000);
    expect(snapchatDestination.maxEventAgeMs).toBeGreaterThan(36 * 24 * 3600_000);
    expect(snapchatDestination.skipReason!(conversionFactory({ eventName: 'Refund', adjustment: { kind: 'refund', originalOrderId: 'o', full: true } }))).toMatch(/Snapchat has no way to retract/);
  });
});

describe('classifySnapchatResponse', () => {
  it('accepts VALID; INVALID is rejected data with Snap’s message', () => {
    expect(classifySnapchatResponse(res(200, { status: 'VALID', reason: 'ok' }))).toEqual({ kind: 'ok' });
    expect(classifySnapchatResponse(res(400, { status: 'INVALID', reason: 'bad', errors: { codes: ['E_TIME'], error_msgs: ['event_time out of range'] } }))).toEqual({
      kind: 'rejected-data',
      error: { code: 'E_TIME', message: 'event_time out of range' },
    });
  });

  it('retries 429 / 5xx and a 2xx without Snap’s envelope; 401 rejects the batch', () => {
    expect(classifySnapchatResponse(res(429, {})).kind).toBe('transient');
    expect(classifySnapchatResponse(res(502, 'bad gateway')).kind).toBe('transient');
    expect(classifySnapchatResponse(res(200, '')).kind).toBe('transient');
    expect(classifySnapchatResponse(res(401, { status: 'INVALID', reason: 'Unauthorized' })).kind).toBe('rejected-batch');
  });
});
