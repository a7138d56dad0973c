import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deliver } from '#destinations/deliver.ts';
import { forgetAccessToken } from '#destinations/google-ads/oauth.ts';
import { fetchTransport } from '#destinations/http.ts';
import { microsoftDestination, type MicrosoftConfig } from '#destinations/microsoft/index.ts';
import { conversionFactory, conversions, sha256 } from '../support/factories.ts';
import { startMicrosoftFake, uetValidationError, type MicrosoftFake } from './microsoft-server.ts';

const TAG = '187012345';
const OFFLINE = { developerToken: 'dev-fake', customerId: '1234567', accountId: '7654321', clientId: 'app-fake', refreshToken: 'refresh-fake', goals: ['Offline purchase'] };
const MSCLKID = 'f894f652ea334e739002f7167ab8f8e3';
const recent = () => new Date(Date.now() - 60_000).toISOString();

describe('Microsoft fake', () => {
  let fake: MicrosoftFake;
  let capi: MicrosoftConfig;
  let offline: MicrosoftConfig;
  beforeAll(async () => {
    fake = await startMicrosoftFake({ tagId: TAG, capiToken: 'uet-fake-token', offline: OFFLINE });
    capi = microsoftDestination.configure({ MICROSOFT_UET_TAG_ID: TAG, MICROSOFT_CAPI_TOKEN: 'uet-fake-token', MICROSOFT_CAPI_BASE_URL: fake.baseUrl }).config!;
    offline = microsoftDestination.configure({
      MICROSOFT_UPLOAD_API: 'offline',
      MICROSOFT_DEVELOPER_TOKEN: OFFLINE.developerToken,
      MICROSOFT_CUSTOMER_ID: OFFLINE.customerId,
      MICROSOFT_ACCOUNT_ID: OFFLINE.accountId,
      MICROSOFT_CLIENT_ID: OFFLINE.clientId,
      MICROSOFT_REFRESH_TOKEN: OFFLINE.refreshToken,
      MICROSOFT_CONVERSION_GOALS: 'Purchase=Offline purchase',
      MICROSOFT_CAMPAIGN_API_BASE_URL: fake.baseUrl,
      MICROSOFT_OAUTH_TOKEN_URL: fake.tokenUrl,
    }).config!;
  });
  afterAll(async () => fake?.close());
  afterEach(() => {
    fake.reset();
    forgetAccessToken();
  });

  const postCapi = (data: unknown[], extra: object = {}) =>
    fetch(`${fake.baseUrl}/v1/${TAG}/events`, { method: 'POST', headers: { authorization: 'Bearer uet-fake-token', 'content-type': 'application/json' }, body: JSON.stringify({ data, ...extra }) });
  const ok = () => ({ eventType: 'custom', eventId: 'e1', eventName: 'purchase', eventTime: Math.floor(Date.now() / 1000) - 60, userData: { em: sha256('janedoe@example.com') } });

  it('takes 2500 conversions in ⌈2500/1000⌉ = 3 CAPI requests', async () => {
    const stats = { requests: 0 };
    const results = await deliver(microsoftDestination, capi, conversions(2500, { occurredAt: recent() }), fetchTransport(), new Date(), stats);
    expect(stats.requests).toBe(3);
    expect(results.every((r) => r.status === 'delivered')).toBe(true);
    expect(fake.events()).toHaveLength(2500);
  });

  it('refuses milliseconds, an old event, no identifier, a bad msclkid and a bad token as Microsoft documents; drops a bad hash with a warning', async () => {
    const nowS = Math.floor(Date.now() / 1000);
    for (const [bad, code] of [
      [{ ...ok(), eventTime: nowS * 1000 }, 'InvalidEventTime'],
      [{ ...ok(), eventTime: nowS - 8 * 86400 }, 'InvalidEventTime'],
      [{ ...ok(), eventType: 'purchase' }, 'InvalidEnumValue'],
      [{ ...ok(), userData: { clientIpAddress: '203.0.113.7' } }, 'MissingIdentifier'],
      [{ ...ok(), userData: { msclkid: 'not-a-guid' } }, 'InvalidUuid'],
    ] as const) {
      const res = await postCapi([ok(), bad]);
      expect(res.status).toBe(400);
      expect((await res.json()).error.details).toEqual(expect.arrayContaining([expect.objectContaining({ index: 1, errorCode: code, isWarning: false })]));
    }
    expect(fake.events()).toHaveLength(0);
    const warned = await postCapi([{ ...ok(), userData: { em: 'JANE@EXAMPLE.COM', externalId: 'x' } }]);
    expect(warned.status).toBe(200);
    expect((await warned.json()).eventsReceived).toBe(1);
    expect(fake.events()[0].userData).toEqual({ externalId: 'x' });
    expect((await postCapi(Array.from({ length: 1001 }, ok))).status).toBe(400);
    const wrong = await fetch(`${fake.baseUrl}/v1/${TAG}/events`, { method: 'POST', headers: { authorization: 'Bearer nope' }, body: JSON.stringify({ data: [ok()] }) });
    expect(wrong.status).toBe(401);
  });

  it('keeps the valid events with continueOnValidationError, and none without', async () => {
    const bad = { ...ok(), eventType: 'nope' };
    expect((await postCapi([ok(), bad], { continueOnValidationError: true })).status).toBe(200);
    expect(fake.events()).toHaveLength(1);
  });

  it('isolates the event a 400 names and delivers the rest; a dropped connection is retried', async () => {
    const batch = conversions(5, { occurredAt: recent() });
    fake.failWhen((e) => e.eventId === 'order_3', { status: 400, body: uetValidationError(3, 'eventName', 'no such goal') });
    const results = await deliver(microsoftDestination, capi, batch, fetchTransport(), new Date());
    expect(results.map((r) => r.status)).toEqual(['delivered', 'delivered', 'delivered', 'failed', 'delivered']);
    expect(fake.events().map((e) => e.eventId)).toEqual(['order_0', 'order_1', 'order_2', 'order_4']);
    fake.failWhen(() => true, 'drop');
    expect((await deliver(microsoftDestination, capi, conversions(1, { occurredAt: recent() }), fetchTransport(), new Date()))[0].status).toBe('retry');
  });

  it('offline: refreshes the token, uploads with the developer token and account headers, then retracts a refund', async () => {
    const purchase = conversionFactory({ eventId: 'pi_9', orderId: 'pi_9', occurredAt: recent(), clicks: { msclkid: { value: MSCLKID, capturedAt: 1 } } });
    expect((await deliver(microsoftDestination, offline, [purchase], fetchTransport(), new Date()))[0].status).toBe('delivered');
    expect(fake.tokenRequests()[0]).toMatchObject({ grant_type: 'refresh_token', client_id: 'app-fake', scope: 'https://ads.microsoft.com/msads.manage offline_access' });
    const [row] = fake.offlineRows();
    expect(row).toMatchObject({ operation: 'OfflineConversions', ConversionName: 'Offline purchase', MicrosoftClickId: MSCLKID, ConversionValue: 19.99, ConversionCurrencyCode: 'USD' });

    const refund = conversionFactory({
      eventId: 'pi_9:refund',
      eventName: 'Refund',
      occurredAt: new Date().toISOString(),
      clicks: purchase.clicks,
      adjustment: { kind: 'refund', originalOrderId: 'pi_9', full: true },
    });
    const ledger = async () => [{ eventId: 'pi_9', status: 'delivered' as const, eventName: 'Purchase', occurredAt: purchase.occurredAt }];
    const results = await deliver(microsoftDestination, offline, [refund], fetchTransport(), new Date(), { requests: 0 }, { priorDeliveries: ledger });
    expect(results[0].status).toBe('delivered');
    expect(fake.offlineRows()[1]).toMatchObject({ operation: 'OfflineConversionAdjustments', AdjustmentType: 'Retract', ConversionName: 'Offline purchase', ConversionTime: row.ConversionTime, MicrosoftClickId: MSCLKID });
  });

  it('offline: fails only the row Microsoft refuses (unknown goal); an expired token is refreshed on the next attempt', async () => {
    const good = conversionFactory({ eventId: 'a', occurredAt: recent(), clicks: { msclkid: { value: MSCLKID, capturedAt: 1 } } });
    const unknownGoal: MicrosoftConfig = { ...offline, offline: { ...offline.offline!, goals: { Purchase: 'Offline purchase', Lead: 'No such goal' } } };
    const lead = { ...good, eventId: 'b', eventName: 'Lead' };
    const results = await deliver(microsoftDestination, unknownGoal, [good, lead], fetchTransport(), new Date());
    expect(results.map((r) => r.status)).toEqual(['delivered', 'failed']);
    expect(results[1]).toMatchObject({ error: { code: '5606/OfflineConversionNameInvalid' } });

    fake.expireTokens();
    const retried = await deliver(microsoftDestination, offline, [{ ...good, eventId: 'c', occurredAt: new Date(Date.now() - 120_000).toISOString() }], fetchTransport(), new Date());
    expect(retried[0]).toMatchObject({ status: 'retry', error: { code: '109/AuthenticationTokenExpired' } });
    const again = await deliver(microsoftDestination, offline, [{ ...good, eventId: 'c', occurredAt: new Date(Date.now() - 120_000).toISOString() }], fetchTransport(), new Date());
    expect(again[0].status).toBe('delivered');
    expect(fake.tokenRequests()).toHaveLength(2);
  });

  it('token endpoint: refuses a secret from a public client and a wrong refresh token', async () => {
    const post = (form: Record<string, string>) => fetch(fake.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
    const base = { grant_type: 'refresh_token', client_id: 'app-fake', refresh_token: 'refresh-fake', scope: 'https://ads.microsoft.com/msads.manage offline_access' };
    expect((await post(base)).status).toBe(200);
    expect(await (await post({ ...base, client_secret: 's' })).json()).toMatchObject({ error: 'invalid_request' });
    expect(await (await post({ ...base, refresh_token: 'old' })).json()).toMatchObject({ error: 'invalid_grant' });
    expect(await (await post({ ...base, scope: 'openid' })).json()).toMatchObject({ error: 'invalid_scope' });
  });
});
