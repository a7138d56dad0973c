import { afterEach, describe, expect, it } from 'vitest';
import { forgetAccessToken } from '#destinations/google-ads/oauth.ts';
import { deliver } from '#destinations/deliver.ts';
import type { PlatformRequest, PlatformResponse, PriorDelivery } from '#destinations/types.ts';
import { NOW, conversionFactory, sha256 } from '../../../../test/support/factories.ts';
import { microsoftDestination, type MicrosoftConfig } from '../index.ts';
import { classifyOfflineResponse } from './classify.ts';
import { toOfflineAdjustment, toOfflineConversion } from './payload.ts';

// Facts from the Campaign Management API v13 reference (MicrosoftDocs/Advertising@a21125d): OfflineConversions/Apply
// and OfflineConversionAdjustments/Apply, headers Authorization (OAuth), DeveloperToken, CustomerId,
// CustomerAccountId; ≤ 1,000 per request; ConversionTime UTC within 90 days; PartialErrors by Index; operation error
// codes 105 / 109 / 117 / 5613 / 5615.

const OFFLINE: MicrosoftConfig = {
  uploadApi: 'offline',
  eventNames: {},
  offline: {
    developerToken: 'dev-token',
    customerId: '1234567',
    accountId: '7654321',
    goals: { Purchase: 'Offline purchase' },
    baseUrl: 'https://campaign.api.bingads.microsoft.com',
    oauth: { tokenUrl: 'https://login.microsoftonline.com/common/oauth2/v2.0/token', clientId: 'app', refreshToken: 'ms-refresh', scope: 'https://ads.microsoft.com/msads.manage offline_access' },
  },
};
const SETTINGS = {
  MICROSOFT_UPLOAD_API: 'offline',
  MICROSOFT_DEVELOPER_TOKEN: 'dev-token',
  MICROSOFT_CUSTOMER_ID: '1234567',
  MICROSOFT_ACCOUNT_ID: '7654321',
  MICROSOFT_CLIENT_ID: 'app',
  MICROSOFT_REFRESH_TOKEN: 'ms-refresh',
  MICROSOFT_CONVERSION_GOALS: 'Purchase=Offline purchase, Lead=Qualified lead',
};
const res = (status: number, body: unknown): PlatformResponse => ({ status, headers: {}, body });
const MSCLKID = 'f894f652ea334e739002f7167ab8f8e3';
const withClick = (overrides = {}) => conversionFactory({ clicks: { msclkid: { value: MSCLKID, capturedAt: 1 } }, ...overrides });
const refund = (full: boolean, overrides = {}) =>
  withClick({ eventId: 'pi_1:refund', eventName: 'Refund', occurredAt: NOW.toISOString(), adjustment: { kind: 'refund', originalOrderId: 'pi_1', full, ...(full ? {} : { remainingValue: 5 }) }, ...overrides });

describe('offline conversion payloads', () => {
  it('names the goal, the UTC time, value, currency, click ID and Microsoft’s hashes', () => {
    const c = withClick({ occurredAt: '2026-03-02T11:50:00.000Z', value: 49.99, user: { email: sha256('jane.doe@example.com'), emailMicrosoft: sha256('janedoe@example.com'), phone: sha256('14155550123'), phoneE164: sha256('+14155550123') } });
    expect(toOfflineConversion(c, 'Offline purchase', NOW)).toEqual({
      ConversionName: 'Offline purchase',
      ConversionTime: '2026-03-02T11:50:00.000Z',
      ConversionValue: 49.99,
      ConversionCurrencyCode: 'USD',
      MicrosoftClickId: MSCLKID,
      HashedEmailAddress: sha256('janedoe@example.com'),
      HashedPhoneNumber: sha256('+14155550123'),
    });
  });

  it('retracts a full refund and restates a partial one, naming the original by its time', () => {
    const original = { originalOccurredAt: '2026-02-20T10:00:00.000Z' };
    const full = refund(true);
    full.adjustment = { ...full.adjustment!, ...original };
    expect(toOfflineAdjustment(full, 'Offline purchase', NOW)).toMatchObject({ AdjustmentType: 'Retract', AdjustmentTime: NOW.toISOString(), ConversionName: 'Offline purchase', ConversionTime: original.originalOccurredAt, MicrosoftClickId: MSCLKID });
    expect(toOfflineAdjustment(full, 'Offline purchase', NOW)).not.toHaveProperty('AdjustmentValue');
    const partial = refund(false);
    partial.adjustment = { ...partial.adjustment!, ...original };
    expect(toOfflineAdjustment(partial, 'Offline purchase', NOW)).toMatchObject({ AdjustmentType: 'Restate', AdjustmentValue: 5, AdjustmentCurrencyCode: 'USD' });
  });
});

describe('microsoftDestination (MICROSOFT_UPLOAD_API=offline)', () => {
  afterEach(() => forgetAccessToken());

  it('reads the offline settings; a missing one is named, an absent client secret is not sent', () => {
    const { config } = microsoftDestination.configure(SETTINGS);
    expect(config).toMatchObject({ uploadApi: 'offline', offline: { customerId: '1234567', accountId: '7654321', goals: { Purchase: 'Offline purchase', Lead: 'Qualified lead' } } });
    expect(config!.offline!.oauth.clientSecret).toBeUndefined();
    expect(() => microsoftDestination.configure({ ...SETTINGS, MICROSOFT_DEVELOPER_TOKEN: ' ' })).toThrow('Microsoft Advertising (offline conversions) is configured only in part: MICROSOFT_DEVELOPER_TOKEN is missing');
    expect(() => microsoftDestination.configure({ ...SETTINGS, MICROSOFT_CONVERSION_GOALS: 'Purchase' })).toThrow(/MICROSOFT_CONVERSION_GOALS must look like/);
    expect(microsoftDestination.configure({ MICROSOFT_UPLOAD_API: 'offline' })).toMatchObject({ config: undefined, missing: expect.arrayContaining(['MICROSOFT_DEVELOPER_TOKEN', 'MICROSOFT_REFRESH_TOKEN']) });
    expect(microsoftDestination.maxEventAgeMsFor!(config!)).toBe(90 * 24 * 3600_000 - 3600_000);
  });

  it('refreshes the token at Microsoft’s endpoint with the Bing Ads scope, then posts with DeveloperToken, CustomerId and CustomerAccountId', async () => {
    const seen: PlatformRequest[] = [];
    const transport = async (r: PlatformRequest) => {
      seen.push(r);
      return r.url.endsWith('/token') ? res(200, { access_token: 'ms-access', expires_in: 3600, refresh_token: 'rotated' }) : res(200, { PartialErrors: [] });
    };
    const results = await deliver(microsoftDestination, OFFLINE, [withClick()], transport, NOW);
    expect(results[0].status).toBe('delivered');
    expect(seen[0]).toMatchObject({ url: OFFLINE.offline!.oauth.tokenUrl, encoding: 'form', body: { grant_type: 'refresh_token', client_id: 'app', refresh_token: 'ms-refresh', scope: 'https://ads.microsoft.com/msads.manage offline_access' } });
    expect(seen[0].body).not.toHaveProperty('client_secret');
    expect(seen[1]).toMatchObject({
      url: 'https://campaign.api.bingads.microsoft.com/CampaignManagement/v13/OfflineConversions/Apply',
      headers: { authorization: 'Bearer ms-access', developertoken: 'dev-token', customerid: '1234567', customeraccountid: '7654321' },
      body: { OfflineConversions: [{ ConversionName: 'Offline purchase', MicrosoftClickId: MSCLKID }] },
    });
  });

  it('shows the offline adjustment in dry-run for a refund, with no credential in it', () => {
    const r = microsoftDestination.buildRequest([refund(true)], undefined, NOW);
    expect(r.url).toMatch(/OfflineConversionAdjustments\/Apply$/);
    expect(r.headers.developertoken).toBe('<MICROSOFT_DEVELOPER_TOKEN>');
    expect(microsoftDestination.signals(refund(true))).toEqual(['MicrosoftClickId', 'HashedEmailAddress', 'HashedPhoneNumber']);
  });

  it('skips a conversion without a goal or without any offline identifier, with the reason; keeps 90-day-old ones', async () => {
    expect(microsoftDestination.skipReason!(withClick({ eventName: 'Lead' }), OFFLINE)).toMatch(/no Microsoft offline conversion goal for "Lead".*MICROSOFT_CONVERSION_GOALS/);
    expect(microsoftDestination.skipReason!(conversionFactory({ user: { externalId: sha256('x') } }), OFFLINE)).toMatch(/need an msclkid or a hashed e-mail or phone/);
    const tenDays = withClick({ occurredAt: new Date(NOW.getTime() - 10 * 24 * 3600_000).toISOString() });
    const prepared = { ...OFFLINE, offline: { ...OFFLINE.offline!, oauth: { ...OFFLINE.offline!.oauth, refreshToken: `r-${Math.random()}` } } };
    const results = await deliver(microsoftDestination, prepared, [tenDays], async (r) => (r.url.endsWith('/token') ? res(200, { access_token: 'a', expires_in: 3600 }) : res(200, {})), NOW);
    expect(results[0].status).toBe('delivered');
  });

  it('sends a refund only after its original: with the original’s time from the ledger; waits or skips otherwise', () => {
    const original: PriorDelivery = { eventId: 'pi_1', status: 'delivered', eventName: 'Purchase', occurredAt: '2026-02-20T10:00:00.000Z' };
    expect(microsoftDestination.dependsOn!(refund(true), OFFLINE)).toEqual(['pi_1']);
    expect(microsoftDestination.dependsOn!(refund(true), { uploadApi: 'capi', eventNames: {} })).toBeUndefined();
    const decided = microsoftDestination.afterDependencies!(refund(true), [original]);
    expect(decided).toEqual({ send: expect.objectContaining({ adjustment: expect.objectContaining({ originalOccurredAt: '2026-02-20T10:00:00.000Z', originalEventName: 'Purchase' }) }) });
    expect(microsoftDestination.afterDependencies!(refund(true), [{ ...original, status: 'retrying' }])).toEqual({ wait: expect.stringMatching(/retrying at Microsoft/) });
    expect(microsoftDestination.afterDependencies!(refund(true), [undefined])).toEqual({ skip: expect.stringMatching(/no row in the ledger/) });
    expect(microsoftDestination.afterDependencies!(refund(true), [{ ...original, occurredAt: '2025-10-01T00:00:00.000Z' }])).toEqual({ skip: expect.stringMatching(/up to 90 days old/) });
  });
});

describe('classifyOfflineResponse', () => {
  it('fails the rows PartialErrors names by Index; a goal younger than 2 h waits 2 h', () => {
    const PartialErrors = [
      { Code: 5606, ErrorCode: 'OfflineConversionNameInvalid', Message: 'The conversion name do not match an existing offline conversion goal.', Index: 2, FieldPath: 'ConversionName' },
      { Code: 5615, ErrorCode: 'OfflineConversionNotAcceptedForGoal', Message: 'wait 2 hours', Index: 0 },
    ];
    expect(classifyOfflineResponse(res(200, { PartialErrors }))).toEqual({
      kind: 'partial',
      failures: [
        { index: 2, transient: false, error: { code: '5606/OfflineConversionNameInvalid', message: 'The conversion name do not match an existing offline conversion goal. (ConversionName)' } },
        { index: 0, transient: true, retryAfterSeconds: 7200, error: { code: '5615/OfflineConversionNotAcceptedForGoal', message: 'wait 2 hours' } },
      ],
    });
    expect(classifyOfflineResponse(res(200, { PartialErrors: null }))).toEqual({ kind: 'ok' });
  });

  it('reads faults: 117 waits 60 s, 109 and internal errors retry, credentials / pilot errors reject the batch, batch errors fail their rows', () => {
    expect(classifyOfflineResponse(res(400, { TrackingId: 't', OperationErrors: [{ Code: 117, ErrorCode: 'CallRateExceeded', Message: 'slow down' }] }))).toMatchObject({ kind: 'transient', retryAfterSeconds: 60 });
    expect(classifyOfflineResponse(res(401, { Errors: [{ Code: 109, ErrorCode: 'AuthenticationTokenExpired', Message: 'expired' }] })).kind).toBe('transient');
    expect(classifyOfflineResponse(res(500, { OperationErrors: [{ Code: 0, ErrorCode: 'InternalError', Message: 'internal' }] })).kind).toBe('transient');
    expect(classifyOfflineResponse(res(401, { Errors: [{ Code: 105, ErrorCode: 'InvalidCredentials', Message: 'Authentication failed.' }] }))).toEqual({
      kind: 'rejected-batch',
      error: { code: '105/InvalidCredentials', message: 'Authentication failed.' },
    });
    expect(classifyOfflineResponse(res(400, { OperationErrors: [{ Code: 5613, ErrorCode: 'OfflineConversionPilotNotEnabledForCustomer', Message: 'not enabled' }] })).kind).toBe('rejected-batch');
    expect(classifyOfflineResponse(res(400, { BatchErrors: [{ Code: 5604, ErrorCode: 'OfflineConversionMicrosoftClickIdInvalid', Message: 'bad click', Index: 1 }] }))).toMatchObject({ kind: 'partial', resendOthers: true, failures: [{ index: 1, transient: false }] });
  });

  it('without an error body: 401 / 429 / 5xx retry, another 4xx splits the batch', () => {
    for (const status of [401, 429, 503]) expect(classifyOfflineResponse(res(status, '')).kind).toBe('transient');
    expect(classifyOfflineResponse(res(400, '<html>bad</html>')).kind).toBe('rejected-data');
  });
});
