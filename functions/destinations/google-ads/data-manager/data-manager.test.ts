import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Conversion } from '#core/conversion.ts';
import { hashUser } from '#core/normalize.ts';
import { deliver } from '#destinations/deliver.ts';
import { fetchTransport } from '#destinations/http.ts';
import type { PlatformResponse } from '#destinations/types.ts';
import { startDataManagerFake, type DataManagerFake } from '../../../../test/fakes/data-manager-server.ts';
import { NOW, conversionFactory, sha256 } from '../../../../test/support/factories.ts';
import { googleAdsDestination as dest, type GoogleAdsConfig } from '../index.ts';
import { classifyDataManagerResponse, eventIndexOf } from './classify.ts';
import { toDataManagerEvent, transactionIdOf } from './payload.ts';
import { classifyRequestStatus, TOO_RECENT_CLICK } from './status.ts';

// Facts from Google's Data Manager API pages (checked 2026-12): events:ingest body (destinations / events /
// encoding), ≤2,000 events a request, hashed identifiers in hex, fast-fail 400s whose BadRequest fieldViolations name
// the event, asynchronous processing reported by requestStatus:retrieve.

const OAUTH = { clientId: 'dm-client.apps.googleusercontent.com', clientSecret: 'GOCSPX-dm', refreshToken: '1//dm-refresh' };
const ACCOUNT = '1234567890';
const MANAGER = '9876543210';
const SETTINGS = {
  GOOGLE_ADS_CUSTOMER_ID: '123-456-7890',
  GOOGLE_ADS_LOGIN_CUSTOMER_ID: '987-654-3210',
  GOOGLE_ADS_CLIENT_ID: OAUTH.clientId,
  GOOGLE_ADS_CLIENT_SECRET: OAUTH.clientSecret,
  GOOGLE_ADS_REFRESH_TOKEN: OAUTH.refreshToken,
  GOOGLE_ADS_CONVERSION_ACTIONS: 'Purchase=111,Lead=222',
};
const click = (value: string) => ({ gclid: { value, capturedAt: NOW.getTime() - 3600_000 } });
const purchase = (gclid: string, overrides: Partial<Conversion> = {}) =>
  conversionFactory({ eventId: `cs_${gclid}`, orderId: `cs_${gclid}`, clicks: click(gclid), ...overrides });

describe('Data Manager API path (the default) against a fake that validates as Google documents', () => {
  let google: DataManagerFake;
  let config: GoogleAdsConfig;
  const transport = fetchTransport(5000);

  beforeAll(async () => {
    google = await startDataManagerFake({ accountId: ACCOUNT, loginAccountId: MANAGER, ...OAUTH, conversionActions: ['111', '222'] });
    config = dest.configure({ ...SETTINGS, GOOGLE_DATA_MANAGER_API_BASE_URL: google.baseUrl, GOOGLE_OAUTH_TOKEN_URL: google.tokenUrl }).config!;
  });
  afterAll(() => google?.close());
  beforeEach(() => google.reset());

  it('sends one event with every signal: gclid, hashed Data Manager e-mail and phone, device, consent, value, transaction ID', async () => {
    const user = hashUser({ email: 'Jane.Doe+ads@GMail.com', phone: '+1 (415) 555-0100', ip: '203.0.113.7', userAgent: 'Mozilla/5.0 test' });
    const c = purchase('Cj0-dm-1', { user, value: 49.99, currency: 'USD', consent: { marketing: true, adUserData: true, adPersonalization: false } });

    const [result] = await deliver(dest, config, [c], transport, NOW);

    expect(result).toMatchObject({ status: 'delivered', requestId: expect.stringMatching(/^[0-9a-f]{24}$/), signals: ['gclid', 'emailAddress', 'phoneNumber', 'ipAddress', 'userAgent', 'transactionId'] });
    const [request] = google.requests;
    expect(request.path).toBe('/v1/events:ingest');
    expect(request.headers).not.toHaveProperty('developer-token');
    expect(request.body.destinations).toEqual([{ reference: 'action-111', operatingAccount: { accountType: 'GOOGLE_ADS', accountId: ACCOUNT }, loginAccount: { accountType: 'GOOGLE_ADS', accountId: MANAGER }, productDestinationId: '111' }]);
    expect(request.body.encoding).toBe('HEX');
    expect(google.events()[0].event).toEqual({
      destinationReferences: ['action-111'],
      transactionId: c.orderId,
      eventTimestamp: c.occurredAt.replace('.000Z', 'Z'),
      eventSource: 'WEB',
      conversionValue: 49.99,
      currency: 'USD',
      adIdentifiers: { gclid: 'Cj0-dm-1', landingPageDeviceInfo: { userAgent: 'Mozilla/5.0 test', ipAddress: '203.0.113.7' } },
      eventDeviceInfo: { userAgent: 'Mozilla/5.0 test', ipAddress: '203.0.113.7' },
      // The Data Manager form: gmail dots and the +tag dropped, lowercase, SHA-256 hex; the phone in E.164.
      userData: { userIdentifiers: [{ emailAddress: sha256('janedoe@gmail.com') }, { phoneNumber: sha256('+14155550100') }] },
      consent: { adUserData: 'CONSENT_GRANTED', adPersonalization: 'CONSENT_DENIED' },
    });
  });

  it('isolates the event Google names in a fast-fail 400 and resends the rest in a new request', async () => {
    google.rejectEventWhen((e) => e.adIdentifiers?.gclid === 'Cj0-bad', 'INVALID_GCLID', 'The gclid could not be decoded.');
    const batch = [purchase('Cj0-good-1'), purchase('Cj0-bad'), purchase('Cj0-good-2')];

    const results = await deliver(dest, config, batch, transport, NOW);

    expect(results.map((r) => r.status)).toEqual(['delivered', 'failed', 'delivered']);
    expect(results[1]).toMatchObject({ error: { code: 'INVALID_GCLID', message: expect.stringContaining('The gclid could not be decoded.') } });
    expect(google.requests.map((r) => [r.status, r.body.events.length])).toEqual([[400, 3], [200, 2]]);
    expect(google.events().map((k) => k.event.adIdentifiers.gclid)).toEqual(['Cj0-good-1', 'Cj0-good-2']);
  });

  it('uses Google’s 2,000-event limit in full: 2,001 conversions take two requests', async () => {
    const many = Array.from({ length: 2001 }, (_, i) => purchase(`Cj0-bulk-${i}`));
    const stats = { requests: 0 };

    const results = await deliver(dest, config, many, transport, NOW, stats);

    expect(results.every((r) => r.status === 'delivered')).toBe(true);
    expect(stats.requests).toBe(2);
    expect(google.requests.map((r) => r.body.events.length).sort((a, b) => b - a)).toEqual([2000, 1]);
  });

  it('restates a partial refund to what is left and a full refund to 0, saying in the ledger that it cannot retract', async () => {
    const user = hashUser({ email: 'buyer@example.com' });
    await deliver(dest, config, [purchase('Cj0-refund', { user, orderId: 'pi_refund', value: 100, currency: 'USD' })], transport, NOW);
    const refund = (full: boolean, remainingValue?: number) =>
      conversionFactory({ eventId: `re_${full}`, eventName: 'Refund', user, clicks: {}, currency: 'USD', adjustment: { kind: 'refund', originalOrderId: 'pi_refund', full, ...(remainingValue !== undefined && { remainingValue }) } });

    const [partial] = await deliver(dest, config, [refund(false, 60)], transport, NOW);
    expect(google.events().find((k) => k.event.transactionId === 'pi_refund')?.restatedValue).toBe(60);
    expect(partial).toMatchObject({ status: 'delivered' });
    expect(partial).not.toHaveProperty('note');

    const [full] = await deliver(dest, config, [refund(true)], transport, NOW);
    expect(google.events().find((k) => k.event.transactionId === 'pi_refund')?.restatedValue).toBe(0);
    expect(google.adjustments()).toHaveLength(2);
    expect(full).toMatchObject({ status: 'delivered', note: expect.stringMatching(/cannot retract.*restated the value to 0.*still counts/) });
  });

  it('skips a refund with no identifier at all, since Google requires one on an adjustment', () => {
    const bare = conversionFactory({ user: {}, clicks: {}, adjustment: { kind: 'refund', originalOrderId: 'pi_x', full: true } });
    expect(dest.skipReason!(bare, config)).toMatch(/at least one identifier/);
  });

  it('sends validateOnly as Google’s test mode: validated, nothing kept, no request ID', async () => {
    const [result] = await deliver(dest, { ...config, validateOnly: true }, [purchase('Cj0-validate')], transport, NOW);
    expect(google.requests[0].body.validateOnly).toBe(true);
    expect(result).toEqual({ status: 'delivered', signals: expect.any(Array) });
    expect(google.events()).toEqual([]);
  });
});

describe('classifyDataManagerResponse', () => {
  const res = (status: number, body: unknown): PlatformResponse => ({ status, headers: {}, body });
  const badRequest = (...fieldViolations: { field: string; reason: string; description?: string }[]) =>
    res(400, { error: { code: 400, status: 'INVALID_ARGUMENT', message: 'bad', details: [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations }] } });

  it('reads the event index from both field path forms Google has been seen to use', () => {
    expect(eventIndexOf('events[3].event_source')).toBe(3);
    expect(eventIndexOf('events.events[0].event_source')).toBe(0);
    expect(eventIndexOf('destinations[0].product_destination_id')).toBeUndefined();
  });

  it('fails the named events and asks for the rest to be sent again', () => {
    expect(classifyDataManagerResponse(badRequest({ field: 'events[2].transaction_id', reason: 'INVALID_FORMAT', description: 'numeric' }))).toEqual({
      kind: 'partial',
      resendOthers: true,
      failures: [{ index: 2, transient: false, error: { code: 'INVALID_FORMAT', message: 'events[2].transaction_id: numeric' } }],
    });
  });

  it.each([
    [res(200, { requestId: 'abc' }), { kind: 'ok', requestId: 'abc' }],
    [res(401, { error: { code: 401, status: 'UNAUTHENTICATED', message: 'x' } }), { kind: 'transient' }],
    [res(429, { error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'quota' } }), { kind: 'transient' }],
    [res(503, { error: { code: 503, status: 'UNAVAILABLE', message: 'x' } }), { kind: 'transient' }],
    [res(403, { error: { code: 403, status: 'PERMISSION_DENIED', message: 'scope' } }), { kind: 'rejected-batch' }],
    [badRequest({ field: 'destinations[0].product_destination_id', reason: 'INVALID_CONVERSION_ACTION_ID' }), { kind: 'rejected-batch' }],
    [res(400, { error: { code: 400, status: 'INVALID_ARGUMENT', message: 'no details' } }), { kind: 'rejected-data' }],
  ])('classifies %j', (response, expected) => {
    expect(classifyDataManagerResponse(response)).toMatchObject(expected);
  });
});

describe('classifyRequestStatus', () => {
  const status = (requestStatus: string, errorCounts: { recordCount: string; reason: string }[]): PlatformResponse => ({
    status: 200,
    headers: {},
    body: { requestStatusPerDestination: [{ requestStatus, errorInfo: { errorCounts } }] },
  });
  it('tells a click too recent (sent again later) from a real refusal', () => {
    expect(classifyRequestStatus(status('FAILED', [{ recordCount: '2', reason: TOO_RECENT_CLICK }]), 'r1')).toMatchObject({ kind: 'refused', later: { count: 2, error: { code: TOO_RECENT_CLICK } } });
    const mixed = classifyRequestStatus(status('FAILED', [{ recordCount: '1', reason: TOO_RECENT_CLICK }, { recordCount: '1', reason: 'PROCESSING_ERROR_REASON_INVALID_GCLID' }]), 'r2');
    expect(mixed).toMatchObject({ kind: 'refused', error: { code: 'PROCESSING_ERROR_REASON_INVALID_GCLID' }, later: { count: 1 } });
    expect(classifyRequestStatus(status('FAILED', [{ recordCount: '1', reason: 'PROCESSING_ERROR_REASON_CLICK_NOT_FOUND' }]), 'r3')).not.toHaveProperty('later');
  });
  it('re-sends only conversions whose click was under 6 h old when sent, 6 h after the click', () => {
    const sentAt = new Date(NOW.getTime() - 1800_000);
    const recent = purchase('Cj0-recent', { clicks: { gclid: { value: 'Cj0-recent', capturedAt: NOW.getTime() - 2 * 3600_000 } } });
    const old = purchase('Cj0-old', { clicks: { gclid: { value: 'Cj0-old', capturedAt: NOW.getTime() - 7 * 3600_000 } } });
    const config = dest.configure(SETTINGS).config!;
    expect(dest.followUp!.retryAt!(recent, config, sentAt, NOW, false)).toEqual(new Date(NOW.getTime() + 4 * 3600_000 + 600_000));
    expect(dest.followUp!.retryAt!(old, config, sentAt, NOW, false)).toBeUndefined();
    // Google said every event of the request was too recent: even the old-looking one goes again.
    expect(dest.followUp!.retryAt!(old, config, sentAt, NOW, true)).toEqual(new Date(NOW.getTime() + 600_000));
  });
});

describe('Data Manager payload details', () => {
  it('prefixes a purely numeric transaction ID, stably, and leaves others as they are', () => {
    expect(transactionIdOf('12345')).toBe('order-12345');
    expect(transactionIdOf('pi_3Qabc')).toBe('pi_3Qabc');
  });

  it('leaves out the IP of a visitor in the EEA, UK or Switzerland (no IP matching there)', () => {
    const c = conversionFactory({ clicks: click('Cj0-eu'), user: { ...conversionFactory().user, countryCode: 'de' } });
    const event = toDataManagerEvent(c, { referenceFor: () => 'r' });
    expect(event.eventDeviceInfo).toEqual({ userAgent: c.user.userAgent });
  });

  it('sends no device or user data without ad_user_data consent', () => {
    const c = conversionFactory({ clicks: click('Cj0-no-consent'), consent: { marketing: true, adUserData: false } });
    const event = toDataManagerEvent(c, { referenceFor: () => 'r' });
    expect(event).not.toHaveProperty('userData');
    expect(event).not.toHaveProperty('eventDeviceInfo');
    expect(event.consent.adUserData).toBe('CONSENT_DENIED');
  });
});
