import { describe, expect, it } from 'vitest';
import type { PlatformResponse } from '#destinations/types.ts';
import { NOW, conversionFactory, sha256 } from '../../../test/support/factories.ts';
import { classifyPinterestResponse } from './classify.ts';
import { pinterestDestination, type PinterestConfig } from './index.ts';
import { toPinterestEvent } from './payload.ts';

// Facts from platforms-more.md §2 (Pinterest OpenAPI v5 `events/create`): event_time in seconds, hashed arrays,
// digits-only phone, value as a string, `epik` click ID in clear, per-event results in 200 and 422 answers.

const CONFIG: PinterestConfig = { adAccountId: '549755885175', accessToken: 'pin-token', testMode: false, baseUrl: 'https://api.pinterest.com' };
const res = (status: number, body: unknown): PlatformResponse => ({ status, headers: {}, body });

describe('toPinterestEvent', () => {
  it('sends seconds, the event ID, checkout for a Purchase and value as a decimal string', () => {
    const e = toPinterestEvent(conversionFactory({ occurredAt: '2026-03-02T11:50:00.000Z', value: 49.9 }), NOW);

    expect(e).toMatchObject({ event_name: 'checkout', action_source: 'web', event_time: Date.UTC(2026, 2, 2, 11, 50) / 1000, event_id: 'cs_test_order_1' });
    expect(e.custom_data).toMatchObject({ value: '49.90', currency: 'USD', order_id: 'cs_test_order_1' });
  });

  it('puts hashed identifiers in arrays (phone digits without “+”), IP, UA and epik in clear', () => {
    const c = conversionFactory({ clicks: { epik: { value: 'dj0yJnU9b2JDcFFH', capturedAt: 1 } } });

    const { user_data } = toPinterestEvent(c, NOW);

    expect(user_data).toEqual({
      em: [sha256('jenny.rosen@example.com')],
      ph: [sha256('16505551212')],
      fn: [sha256('jenny')],
      ln: [sha256('rosen')],
      ct: [sha256('sanfrancisco')],
      st: [sha256('ca')],
      zp: [sha256('94103')],
      country: [sha256('us')],
      external_id: [sha256('cus_123')],
      client_ip_address: '203.0.113.7',
      client_user_agent: c.user.userAgent,
      click_id: 'dj0yJnU9b2JDcFFH',
    });
  });

  it('marks limited data processing when ad personalization was refused, and sends custom for unknown names', () => {
    const e = toPinterestEvent(conversionFactory({ eventName: 'Webinar', consent: { marketing: true, adUserData: true, adPersonalization: false, analytics: true } }), NOW);
    expect(e.event_name).toBe('custom');
    expect(e.custom_data?.opt_out_type).toBe('LDP');
  });
});

describe('pinterestDestination', () => {
  it('posts {data} to /v5/ad_accounts/{id}/events with a Bearer token, ?test=true in test mode', () => {
    const r = pinterestDestination.buildRequest([conversionFactory()], { ...CONFIG, testMode: true }, NOW);
    expect(r.url).toBe('https://api.pinterest.com/v5/ad_accounts/549755885175/events?test=true');
    expect(r.headers.authorization).toBe('Bearer pin-token');
    expect(JSON.stringify(r.body)).not.toContain('pin-token');
  });

  it('runs in dry-run without credentials and rejects a non-numeric ad account', () => {
    expect(pinterestDestination.configure({})).toEqual({ config: undefined, missing: ['PINTEREST_AD_ACCOUNT_ID', 'PINTEREST_ACCESS_TOKEN'] });
    expect(pinterestDestination.buildRequest([conversionFactory()], undefined, NOW).url).toContain('<PINTEREST_AD_ACCOUNT_ID>');
    expect(() => pinterestDestination.configure({ PINTEREST_AD_ACCOUNT_ID: 'acct', PINTEREST_ACCESS_TOKEN: 't' })).toThrow(/PINTEREST_AD_ACCOUNT_ID/);
  });

  it('skips refunds and unconsented conversions; refuses a phone-only conversion', () => {
    expect(pinterestDestination.skipReason!(conversionFactory({ eventName: 'Refund', adjustment: { kind: 'refund', originalOrderId: 'o', full: true } }))).toMatch(/refund is recorded, not sent/);
    expect(pinterestDestination.skipReason!(conversionFactory({ consent: { marketing: false } }))).toMatch(/consent/);
    expect(pinterestDestination.skipReason!(conversionFactory({ user: { phone: sha256('16505551212') } }))).toBe('Pinterest needs a hashed e-mail or the IP address and user agent; this conversion has none');
    expect(pinterestDestination.skipReason!(conversionFactory())).toBeUndefined();
  });
});

describe('classifyPinterestResponse', () => {
  it('fails only the rows marked failed, in a 200 or a 422', () => {
    const events = [{ status: 'processed' }, { status: 'failed', error_message: 'bad em' }];
    expect(classifyPinterestResponse(res(200, { num_events_received: 2, num_events_processed: 1, events }))).toEqual({
      kind: 'partial',
      failures: [{ index: 1, transient: false, error: { code: 'event_failed', message: 'bad em' } }],
    });
    expect(classifyPinterestResponse(res(422, { code: 953, message: 'Not all events were successfully processed', details: { events } })).kind).toBe('partial');
    expect(classifyPinterestResponse(res(200, { events: [{ status: 'processed' }] }))).toEqual({ kind: 'ok' });
  });

  it('retries 429 code 8 and 503 code 4197; token errors reject the batch; 400 splits it', () => {
    expect(classifyPinterestResponse(res(429, { code: 8, message: 'slow down' }))).toMatchObject({ kind: 'transient', error: { code: '8' } });
    expect(classifyPinterestResponse(res(503, { code: 4197, message: 'ramped down' })).kind).toBe('transient');
    expect(classifyPinterestResponse(res(401, { code: 2, message: 'Authentication failed.' })).kind).toBe('rejected-batch');
    expect(classifyPinterestResponse(res(400, { code: 4196, message: 'bad' })).kind).toBe('rejected-data');
    expect(classifyPinterestResponse(res(200, '<html>')).kind).toBe('transient');
  });
});
