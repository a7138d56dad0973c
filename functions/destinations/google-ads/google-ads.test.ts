import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Conversion } from '#core/conversion.ts';
import { deliver } from '#destinations/deliver.ts';
import { fetchTransport } from '#destinations/http.ts';
import type { PlatformRequest, PlatformResponse, PriorDelivery, Transport } from '#destinations/types.ts';
import { startGoogleAdsFake, type GoogleAdsFake } from '../../../test/fakes/google-ads-server.ts';
import { NOW, conversionFactory, sha256 } from '../../../test/support/factories.ts';
import { classifyGoogleAdsResponse } from './classify.ts';
import { googleAdsDestination as dest, type GoogleAdsConfig } from './index.ts';
import { EXPIRY_MARGIN_MS, accessToken, forgetAccessToken } from './oauth.ts';
import { googleDateTime, parseConversionActions, toClickConversion, toConversionAdjustment } from './payload.ts';

// Facts from platforms.md §3 and Google's reference (rpc/v26 ClickConversion, ConversionAdjustment, UserIdentifier):
// date-times "yyyy-mm-dd hh:mm:ss+|-hh:mm"; one click ID; ≤5 user identifiers, hashed e-mail / E.164 phone only;
// partial failures in a 200's partialFailureError located by operation index; 2,000 operations a request.

// The Google Ads API path (GOOGLE_ADS_UPLOAD_API=google-ads-api); the Data Manager path has its own suite.
const CONFIG: GoogleAdsConfig = {
  uploadApi: 'google-ads-api',
  dataManagerBaseUrl: 'https://datamanager.googleapis.com',
  statusCheckSeconds: 1800,
  customerId: '1234567890',
  clientId: 'client-id.apps.googleusercontent.com',
  clientSecret: 'client-secret',
  refreshToken: '1//refresh-token',
  conversionActions: { Purchase: '111', Lead: '222' },
  baseUrl: 'https://googleads.googleapis.com',
  apiVersion: 'v26',
  tokenUrl: 'https://oauth2.googleapis.com/token',
  timeZone: 'UTC',
  validateOnly: false,
  accessToken: 'ya29.access',
};
const ACTION = 'customers/1234567890/conversionActions/111';
const click = (value: string, capturedAt = NOW.getTime() - 3600_000) => ({ value, capturedAt });
const withGclid = (overrides: Partial<Conversion> = {}) => conversionFactory({ clicks: { gclid: click('Cj0KCQ-gclid') }, ...overrides });
const ctx = (config: GoogleAdsConfig = CONFIG) => ({ timeZone: config.timeZone, actionFor: (n: string) => (config.conversionActions[n] ? `customers/${config.customerId}/conversionActions/${config.conversionActions[n]}` : undefined) });
const refund = (overrides: Partial<NonNullable<Conversion['adjustment']>> = {}, conv: Partial<Conversion> = {}) =>
  conversionFactory({
    eventId: 're_1',
    eventName: 'Refund',
    occurredAt: '2026-03-02T11:55:00.000Z',
    adjustment: { kind: 'refund', originalOrderId: 'cs_test_order_1', originalEventId: 'cs_test_order_1', full: true, ...overrides },
    ...conv,
  });

describe('googleDateTime', () => {
  const instant = Date.parse('2026-01-15T20:30:05.999Z');

  it('renders UTC with an explicit +00:00 offset, seconds truncated', () => {
    expect(googleDateTime(instant, 'UTC')).toBe('2026-01-15 20:30:05+00:00');
  });

  it('renders the account’s wall clock and offset, daylight saving included', () => {
    expect(googleDateTime(instant, 'America/Los_Angeles')).toBe('2026-01-15 12:30:05-08:00');
    expect(googleDateTime(Date.parse('2026-07-15T20:30:05Z'), 'America/Los_Angeles')).toBe('2026-07-15 13:30:05-07:00');
  });

  it('handles half-hour offsets and a date past midnight', () => {
    expect(googleDateTime(instant, 'Asia/Kolkata')).toBe('2026-01-16 02:00:05+05:30');
  });

  it('shows midnight as 00, not 24', () => {
    expect(googleDateTime(Date.parse('2026-01-15T00:00:00Z'), 'UTC')).toBe('2026-01-15 00:00:00+00:00');
  });
});

describe('parseConversionActions', () => {
  it('reads JSON and name=id lists alike', () => {
    expect(parseConversionActions('{"Purchase":"123","Lead":456}')).toEqual({ Purchase: '123', Lead: '456' });
    expect(parseConversionActions(' Purchase=123, Lead = 456 ')).toEqual({ Purchase: '123', Lead: '456' });
  });

  it.each(['Purchase', 'Purchase=abc', '{"Purchase":"x"}', '{bad json', ''])('refuses %j, naming the problem', (raw) => {
    expect(() => parseConversionActions(raw)).toThrow(/GOOGLE_ADS_CONVERSION_ACTIONS/);
  });
});

describe('toClickConversion', () => {
  it('carries the gclid, the action resource name, the date-time, value, currency and order ID', () => {
    const c = withGclid({ occurredAt: '2026-03-02T11:50:00.000Z' });

    expect(toClickConversion(c, ctx())).toMatchObject({
      gclid: 'Cj0KCQ-gclid',
      conversionAction: ACTION,
      conversionDateTime: '2026-03-02 11:50:00+00:00',
      conversionValue: 19.99,
      currencyCode: 'USD',
      orderId: 'cs_test_order_1',
    });
  });

  it('sends exactly one click ID: gclid before gbraid before wbraid', () => {
    const all = conversionFactory({ clicks: { gclid: click('G'), gbraid: click('GB'), wbraid: click('WB') } });
    const braids = conversionFactory({ clicks: { gbraid: click('GB'), wbraid: click('WB') } });
    const wbraid = conversionFactory({ clicks: { wbraid: click('WB') } });

    const pick = (c: Conversion) => {
      const out = toClickConversion(c, ctx()) as unknown as Record<string, unknown>;
      return ['gclid', 'gbraid', 'wbraid'].filter((k) => k in out).map((k) => [k, out[k]]);
    };
    expect(pick(all)).toEqual([['gclid', 'G']]);
    expect(pick(braids)).toEqual([['gbraid', 'GB']]);
    expect(pick(wbraid)).toEqual([['wbraid', 'WB']]);
  });

  it('leaves out a click older than 90 days (Google would answer EXPIRED_EVENT)', () => {
    const c = conversionFactory({ clicks: { gclid: click('old', NOW.getTime() - 91 * 86400_000) } });

    expect(toClickConversion(c, ctx())).not.toHaveProperty('gclid');
  });

  it('sends Google’s e-mail hash (gmail dots dropped) and the E.164 phone hash as separate identifiers', () => {
    const c = withGclid({ user: { email: sha256('john.smith@gmail.com'), emailGoogle: sha256('johnsmith@gmail.com'), phone: sha256('16505551212'), phoneE164: sha256('+16505551212') } });

    expect(toClickConversion(c, ctx()).userIdentifiers).toEqual([
      { userIdentifierSource: 'FIRST_PARTY', hashedEmail: sha256('johnsmith@gmail.com') },
      { userIdentifierSource: 'FIRST_PARTY', hashedPhoneNumber: sha256('+16505551212') },
    ]);
  });

  it('falls back to the plain e-mail hash when Google’s form is the same (no emailGoogle)', () => {
    const c = withGclid({ user: { email: sha256('a@example.com') } });

    expect(toClickConversion(c, ctx()).userIdentifiers).toEqual([{ userIdentifierSource: 'FIRST_PARTY', hashedEmail: sha256('a@example.com') }]);
  });

  it('carries consent as GRANTED / DENIED, and sends no user data without ad_user_data consent', () => {
    const granted = toClickConversion(withGclid(), ctx());
    const denied = toClickConversion(withGclid({ consent: { marketing: true, adUserData: false, adPersonalization: false } }), ctx());

    expect(granted.consent).toEqual({ adUserData: 'GRANTED', adPersonalization: 'GRANTED' });
    expect(denied.consent).toEqual({ adUserData: 'DENIED', adPersonalization: 'DENIED' });
    expect(denied.userIdentifiers).toBeUndefined();
    expect(denied.gclid).toBe('Cj0KCQ-gclid');
  });

  it('never dates a conversion before its click (CONVERSION_PRECEDES_EVENT from clock skew)', () => {
    const clickAt = Date.parse('2026-03-02T11:50:00.400Z');
    const c = conversionFactory({ occurredAt: '2026-03-02T11:49:59.000Z', clicks: { gclid: click('G', clickAt) } });

    expect(toClickConversion(c, ctx()).conversionDateTime).toBe('2026-03-02 11:50:00+00:00');
  });
});

describe('toConversionAdjustment', () => {
  it('retracts a fully refunded order by order ID and the original’s action', () => {
    expect(toConversionAdjustment(refund({ originalEventName: 'Purchase' }), ctx())).toEqual({
      conversionAction: ACTION,
      adjustmentType: 'RETRACTION',
      adjustmentDateTime: '2026-03-02 11:55:00+00:00',
      orderId: 'cs_test_order_1',
    });
  });

  it('restates a partly refunded order to the remaining value', () => {
    const adj = toConversionAdjustment(refund({ full: false, remainingValue: 12.5 }, { currency: 'EUR' }), ctx());

    expect(adj).toMatchObject({ adjustmentType: 'RESTATEMENT', restatementValue: { adjustedValue: 12.5, currencyCode: 'EUR' } });
  });
});

describe('googleAdsDestination.buildRequest', () => {
  it('posts click conversions to {base}/{version}/customers/{id}:uploadClickConversions with partialFailure', () => {
    const request = dest.buildRequest([withGclid()], CONFIG, NOW);

    expect(request.url).toBe('https://googleads.googleapis.com/v26/customers/1234567890:uploadClickConversions');
    expect(request.body).toMatchObject({ partialFailure: true, conversions: [{ gclid: 'Cj0KCQ-gclid' }] });
    expect(request.body).not.toHaveProperty('validateOnly');
    expect(request.headers).toEqual({ 'content-type': 'application/json', authorization: 'Bearer ya29.access' });
  });

  it('adds login-customer-id and developer-token only when configured', () => {
    const request = dest.buildRequest([withGclid()], { ...CONFIG, loginCustomerId: '9998887777', developerToken: 'devtok' }, NOW);

    expect(request.headers).toMatchObject({ 'login-customer-id': '9998887777', 'developer-token': 'devtok' });
  });

  it('puts no credential in a request that is only recorded (a test event: config not prepared, no token)', () => {
    const { accessToken: _token, ...unprepared } = { ...CONFIG, developerToken: 'devtok' };

    const request = dest.buildRequest([withGclid()], unprepared, NOW);

    expect(JSON.stringify(request)).not.toContain('devtok');
    expect(request.headers.authorization).toMatch(/^Bearer <OAuth access token/);
  });

  it('posts adjustments to :uploadConversionAdjustments', () => {
    const request = dest.buildRequest([refund()], CONFIG, NOW);

    expect(request.url).toMatch(/customers\/1234567890:uploadConversionAdjustments$/);
    expect(request.body).toMatchObject({ partialFailure: true, conversionAdjustments: [{ adjustmentType: 'RETRACTION', orderId: 'cs_test_order_1' }] });
  });

  it('asks for validation only in Google’s test mode', () => {
    expect(dest.buildRequest([withGclid()], { ...CONFIG, validateOnly: true }, NOW).body).toMatchObject({ validateOnly: true });
  });

  it('builds the default path’s (Data Manager) request with placeholders in dry-run', () => {
    const request = dest.buildRequest([withGclid()], undefined, NOW);

    expect(request.url).toBe('https://datamanager.googleapis.com/v1/events:ingest');
    expect(request.body).toMatchObject({
      destinations: [{ operatingAccount: { accountType: 'GOOGLE_ADS', accountId: '<GOOGLE_ADS_CUSTOMER_ID>' }, productDestinationId: '<GOOGLE_ADS_CONVERSION_ACTIONS[Purchase]>' }],
    });
    expect(request.headers.authorization).not.toMatch(/ya29/);
  });

  it('keeps uploads and adjustments in separate groups', () => {
    expect(dest.groupKey!(withGclid())).not.toBe(dest.groupKey!(refund()));
  });
});

describe('googleAdsDestination.skipReason', () => {
  it('skips a conversion whose name has no conversion action, only once the config is known', () => {
    const lead = withGclid({ eventName: 'StartTrial' });

    expect(dest.skipReason!(lead, CONFIG)).toMatch(/no Google Ads conversion action for "StartTrial"/);
    expect(dest.skipReason!(lead)).toBeUndefined();
  });

  it('skips a conversion with neither a click ID nor an e-mail or phone hash', () => {
    expect(dest.skipReason!(conversionFactory({ clicks: {}, user: { ip: '203.0.113.1' } }), CONFIG)).toMatch(/nothing Google Ads could match/);
  });

  it('sends a conversion without a click ID when it has a hashed e-mail (enhanced conversions for leads)', () => {
    expect(dest.skipReason!(conversionFactory({ clicks: {} }), CONFIG)).toBeUndefined();
  });

  it('skips a conversion with no click when ad_user_data consent is denied', () => {
    const c = conversionFactory({ clicks: {}, consent: { marketing: true, adUserData: false, adPersonalization: false } });

    expect(dest.skipReason!(c, CONFIG)).toMatch(/ad_user_data consent denied/);
  });

  it('skips, with the consent reason, a conversion whose visitor gave analytics consent only, even with a gclid', () => {
    const c = withGclid({ consent: { marketing: false, adUserData: false, adPersonalization: false, analytics: true } });

    expect(dest.skipReason!(c, CONFIG)).toMatch(/^consent: analytics only; Google Ads/);
  });

  it('skips a partial refund that does not say what is left', () => {
    expect(dest.skipReason!(refund({ full: false }), CONFIG)).toMatch(/without the remaining value/);
  });
});

describe('googleAdsDestination.configure', () => {
  const FULL = {
    GOOGLE_ADS_CUSTOMER_ID: '123-456-7890',
    GOOGLE_ADS_CLIENT_ID: 'cid',
    GOOGLE_ADS_CLIENT_SECRET: 'secret',
    GOOGLE_ADS_REFRESH_TOKEN: 'rt',
    GOOGLE_ADS_CONVERSION_ACTIONS: 'Purchase=111',
  };

  it('lists what is missing for the chosen path (dry-run): Data Manager takes a refresh token or a service account key', () => {
    expect(dest.configure({})).toEqual({
      config: undefined,
      missing: [
        'GOOGLE_ADS_CUSTOMER_ID (operating account: the one that owns the conversion actions)',
        'GOOGLE_ADS_CLIENT_ID + GOOGLE_ADS_CLIENT_SECRET + GOOGLE_ADS_REFRESH_TOKEN (OAuth refresh token for the scope https://www.googleapis.com/auth/datamanager) or GOOGLE_SERVICE_ACCOUNT_KEY',
        'GOOGLE_ADS_CONVERSION_ACTIONS',
      ],
    });
    // Half a refresh-token setup: the rest of it, or the service account instead.
    expect(dest.configure({ ...FULL, GOOGLE_ADS_REFRESH_TOKEN: '' }).missing).toEqual([
      'GOOGLE_ADS_REFRESH_TOKEN (OAuth refresh token for the scope https://www.googleapis.com/auth/datamanager) or GOOGLE_SERVICE_ACCOUNT_KEY',
    ]);
    expect(dest.configure({ GOOGLE_ADS_UPLOAD_API: 'google-ads-api' }).missing).toEqual(['GOOGLE_ADS_CUSTOMER_ID', 'GOOGLE_ADS_CLIENT_ID', 'GOOGLE_ADS_CLIENT_SECRET', 'GOOGLE_ADS_REFRESH_TOKEN', 'GOOGLE_ADS_CONVERSION_ACTIONS']);
  });

  it('reads a full configuration with Google’s defaults, customer IDs without dashes', () => {
    const { config } = dest.configure({ ...FULL, GOOGLE_ADS_LOGIN_CUSTOMER_ID: '999-888-7777' });

    expect(config).toEqual({
      uploadApi: 'data-manager',
      dataManagerBaseUrl: 'https://datamanager.googleapis.com',
      customerId: '1234567890',
      loginCustomerId: '9998887777',
      developerToken: undefined,
      clientId: 'cid',
      clientSecret: 'secret',
      refreshToken: 'rt',
      conversionActions: { Purchase: '111' },
      baseUrl: 'https://googleads.googleapis.com',
      apiVersion: 'v26',
      tokenUrl: 'https://oauth2.googleapis.com/token',
      timeZone: 'UTC',
      validateOnly: false,
      tooRecentRetrySeconds: undefined,
      statusCheckSeconds: 1800,
    });
  });

  it('keeps a developer token setup working once it names its path', () => {
    expect(dest.configure({ ...FULL, GOOGLE_ADS_DEVELOPER_TOKEN: 'dev', GOOGLE_ADS_UPLOAD_API: 'google-ads-api' }).config).toMatchObject({ uploadApi: 'google-ads-api', developerToken: 'dev' });
  });

  it.each([
    [{ GOOGLE_ADS_CUSTOMER_ID: '12345' }, /GOOGLE_ADS_CUSTOMER_ID/],
    [{ GOOGLE_ADS_TIME_ZONE: 'Mars/Olympus' }, /GOOGLE_ADS_TIME_ZONE/],
    [{ GOOGLE_ADS_API_VERSION: 'v26.0' }, /GOOGLE_ADS_API_VERSION/],
    [{ GOOGLE_ADS_VALIDATE_ONLY: 'yes' }, /GOOGLE_ADS_VALIDATE_ONLY/],
    [{ GOOGLE_ADS_UPLOAD_API: 'rest' }, /GOOGLE_ADS_UPLOAD_API must be data-manager \(default\) or google-ads-api/],
    // An old Google Ads API setup (developer token) must choose a path: its refresh token lacks the datamanager scope.
    [{ GOOGLE_ADS_DEVELOPER_TOKEN: 'dev-token' }, /set GOOGLE_ADS_UPLOAD_API=google-ads-api to keep the Google Ads API/i],
  ])('refuses a bad value %j', (bad, message) => {
    expect(() => dest.configure({ ...FULL, ...bad })).toThrow(message);
  });
});

const ok = (body: unknown = { results: [{}] }): PlatformResponse => ({ status: 200, headers: {}, body });
const adsError = (family: string, value: string, index?: number, message = `${value} happened`) => ({
  errorCode: { [family]: value },
  message,
  ...(index !== undefined && { location: { fieldPathElements: [{ fieldName: 'conversions', index }, { fieldName: 'gclid' }] } }),
});
const partial = (...errors: ReturnType<typeof adsError>[]) =>
  ok({ partialFailureError: { code: 3, message: 'errors', details: [{ '@type': 'type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure', errors }] }, results: [] });
const rpcError = (status: number, rpcStatus: string, errors: ReturnType<typeof adsError>[] = []): PlatformResponse => ({
  status,
  headers: {},
  body: { error: { code: status, message: `${rpcStatus} message`, status: rpcStatus, details: errors.length ? [{ '@type': 'type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure', errors }] : [] } },
});

describe('classifyGoogleAdsResponse', () => {
  it('treats a 200 without partialFailureError as ok', () => {
    expect(classifyGoogleAdsResponse(ok())).toEqual({ kind: 'ok' });
  });

  it('fails only the operations the partial failure points at, with Google’s code and message', () => {
    const verdict = classifyGoogleAdsResponse(partial(adsError('conversionUploadError', 'UNPARSEABLE_GCLID', 2, 'The gclid could not be decoded.'), adsError('conversionUploadError', 'EXPIRED_EVENT', 0)));

    expect(verdict).toEqual({
      kind: 'partial',
      failures: [
        { index: 2, transient: false, error: { code: 'conversionUploadError.UNPARSEABLE_GCLID', message: 'The gclid could not be decoded.' } },
        { index: 0, transient: false, error: { code: 'conversionUploadError.EXPIRED_EVENT', message: 'EXPIRED_EVENT happened' } },
      ],
    });
  });

  it.each(['ORDER_ID_ALREADY_IN_USE', 'CLICK_CONVERSION_ALREADY_EXISTS', 'DUPLICATE_ORDER_ID'])('counts %s as delivered', (value) => {
    expect(classifyGoogleAdsResponse(partial(adsError('conversionUploadError', value, 0)))).toEqual({ kind: 'ok' });
  });

  it('counts an already retracted conversion as a delivered adjustment', () => {
    expect(classifyGoogleAdsResponse(partial(adsError('conversionAdjustmentUploadError', 'CONVERSION_ALREADY_RETRACTED', 0)))).toEqual({ kind: 'ok' });
  });

  it('retries a too recent click 6 hours later, or after the configured delay', () => {
    const response = partial(adsError('conversionUploadError', 'TOO_RECENT_EVENT', 1));

    expect(classifyGoogleAdsResponse(response)).toMatchObject({ kind: 'partial', failures: [{ index: 1, transient: true, retryAfterSeconds: 6 * 3600 }] });
    expect(classifyGoogleAdsResponse(response, { tooRecentRetrySeconds: 2 })).toMatchObject({ failures: [{ retryAfterSeconds: 2 }] });
  });

  it('retries an adjustment on a conversion less than a day old a day later', () => {
    const verdict = classifyGoogleAdsResponse(partial(adsError('conversionAdjustmentUploadError', 'TOO_RECENT_CONVERSION', 0)));

    expect(verdict).toMatchObject({ failures: [{ transient: true, retryAfterSeconds: 24 * 3600 }] });
  });

  it('treats 401 UNAUTHENTICATED as transient (the token is refreshed on the next attempt)', () => {
    expect(classifyGoogleAdsResponse(rpcError(401, 'UNAUTHENTICATED'))).toMatchObject({ kind: 'transient', error: { code: 'UNAUTHENTICATED' } });
  });

  it('treats permission and developer-token errors as a rejected batch', () => {
    expect(classifyGoogleAdsResponse(rpcError(403, 'PERMISSION_DENIED', [adsError('authorizationError', 'DEVELOPER_TOKEN_NOT_APPROVED')]))).toMatchObject({
      kind: 'rejected-batch',
      error: { code: 'authorizationError.DEVELOPER_TOKEN_NOT_APPROVED' },
    });
    expect(classifyGoogleAdsResponse(rpcError(400, 'INVALID_ARGUMENT', [adsError('authenticationError', 'CUSTOMER_NOT_FOUND')])).kind).toBe('rejected-batch');
  });

  it('treats quota exhaustion, 429 and 5xx as transient, honouring Google’s retryDelay', () => {
    const quota = rpcError(429, 'RESOURCE_EXHAUSTED', [{ ...adsError('quotaError', 'RESOURCE_EXHAUSTED'), details: { quotaErrorDetails: { retryDelay: '30s' } } } as never]);

    expect(classifyGoogleAdsResponse(quota)).toMatchObject({ kind: 'transient', retryAfterSeconds: 30, error: { code: 'quotaError.RESOURCE_EXHAUSTED' } });
    expect(classifyGoogleAdsResponse({ status: 503, headers: {}, body: '<html>unavailable</html>' })).toMatchObject({ kind: 'transient', error: { code: 'http_503' } });
  });

  it('treats a 400 pointing at an operation as rejected data (split to isolate), one about the request as a rejected batch', () => {
    expect(classifyGoogleAdsResponse(rpcError(400, 'INVALID_ARGUMENT', [adsError('fieldError', 'REQUIRED', 3)])).kind).toBe('rejected-data');
    expect(classifyGoogleAdsResponse(rpcError(400, 'INVALID_ARGUMENT', [adsError('conversionUploadError', 'TOO_MANY_CONVERSIONS_IN_REQUEST')])).kind).toBe('rejected-batch');
  });
});

/** A token endpoint that counts refreshes and issues numbered tokens valid for `expiresIn` seconds. */
function tokenEndpoint(expiresIn = 3600, status = 200) {
  const requests: PlatformRequest[] = [];
  const transport: Transport = async (request) => {
    requests.push(request);
    await new Promise((r) => setTimeout(r, 5));
    return status === 200
      ? { status, headers: {}, body: { access_token: `ya29.token-${requests.length}`, expires_in: expiresIn, token_type: 'Bearer' } }
      : { status, headers: {}, body: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' } };
  };
  return { transport, requests };
}

describe('OAuth access token', () => {
  afterEach(() => forgetAccessToken());

  it('refreshes with a form-encoded refresh_token grant and reuses the token until shortly before expiry', async () => {
    const endpoint = tokenEndpoint(3600);

    const first = await accessToken(CONFIG, endpoint.transport, NOW);
    const again = await accessToken(CONFIG, endpoint.transport, new Date(NOW.getTime() + 3600_000 - EXPIRY_MARGIN_MS - 1000));
    const later = await accessToken(CONFIG, endpoint.transport, new Date(NOW.getTime() + 3600_000 - EXPIRY_MARGIN_MS + 1000));

    expect([first, again, later]).toEqual(['ya29.token-1', 'ya29.token-1', 'ya29.token-2']);
    expect(endpoint.requests[0]).toMatchObject({
      method: 'POST',
      url: 'https://oauth2.googleapis.com/token',
      encoding: 'form',
      body: { grant_type: 'refresh_token', client_id: CONFIG.clientId, client_secret: CONFIG.clientSecret, refresh_token: CONFIG.refreshToken },
    });
  });

  it('shares one refresh between concurrent batches', async () => {
    const endpoint = tokenEndpoint();

    const tokens = await Promise.all([1, 2, 3].map(() => accessToken(CONFIG, endpoint.transport, NOW)));

    expect(new Set(tokens)).toEqual(new Set(['ya29.token-1']));
    expect(endpoint.requests).toHaveLength(1);
  });

  it('refreshes again after the API refused the token (401)', async () => {
    const endpoint = tokenEndpoint();
    const token = await accessToken(CONFIG, endpoint.transport, NOW);

    dest.classify(rpcError(401, 'UNAUTHENTICATED'), { ...CONFIG, accessToken: token });

    expect(await accessToken(CONFIG, endpoint.transport, NOW)).toBe('ya29.token-2');
  });

  it('fails with Google’s reason, never the secrets, when the refresh token is revoked', async () => {
    const endpoint = tokenEndpoint(3600, 400);

    const err = await accessToken(CONFIG, endpoint.transport, NOW).catch((e: Error) => e);

    expect((err as Error).message).toMatch(/HTTP 400 invalid_grant: Token has been expired or revoked/);
    expect((err as Error).message).not.toContain(CONFIG.clientSecret);
    expect((err as Error).message).not.toContain(CONFIG.refreshToken);
  });
});

describe('googleAdsDestination through deliver', () => {
  afterEach(() => forgetAccessToken());

  /** A fake API: token endpoint + upload methods that accept everything, recording requests. */
  function api() {
    const requests: PlatformRequest[] = [];
    const transport: Transport = async (request) => {
      requests.push(request);
      if (request.url.endsWith('/token')) return { status: 200, headers: {}, body: { access_token: 'ya29.fresh', expires_in: 3599 } };
      return { status: 200, headers: {}, body: { results: [] } };
    };
    return { requests, transport, uploads: () => requests.filter((r) => !r.url.endsWith('/token')) };
  }
  const { accessToken: _unused, ...LIVE } = CONFIG;
  const lookup = (rows: Record<string, PriorDelivery>) => async (_d: string, ids: string[]) => ids.map((id) => rows[id]);

  it('gets one token for the batch and sends uploads and adjustments in separate requests', async () => {
    const google = api();
    const batch = [withGclid({ eventId: 'a', orderId: 'a' }), refund({ originalEventId: 'x', originalOrderId: 'x' }), withGclid({ eventId: 'b', orderId: 'b' })];

    const results = await deliver(dest, LIVE, batch, google.transport, NOW, { requests: 0 }, {
      priorDeliveries: lookup({ x: { eventId: 'x', status: 'delivered', eventName: 'Lead' } }),
    });

    expect(results.map((r) => r.status)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(google.requests.filter((r) => r.url.endsWith('/token'))).toHaveLength(1);
    const urls = google.uploads().map((r) => r.url.split(':').pop()).sort();
    expect(urls).toEqual(['uploadClickConversions', 'uploadConversionAdjustments']);
    const adjustment = google.uploads().find((r) => r.url.endsWith('uploadConversionAdjustments'))!;
    // The original was a Lead: the retraction goes to the Lead action.
    expect(adjustment.body).toMatchObject({ conversionAdjustments: [{ conversionAction: 'customers/1234567890/conversionActions/222', orderId: 'x' }] });
    expect(adjustment.headers.authorization).toBe('Bearer ya29.fresh');
  });

  it('finds a subscription refund’s original by the event ID its conversion name gives the order', async () => {
    const google = api();
    const asked: string[] = [];
    const config = { ...LIVE, conversionActions: { Purchase: '111', Subscribe: '333' } };
    const subscriptionRefund = refund({ originalOrderId: 'in_42', originalEventId: undefined });

    const results = await deliver(dest, config, [subscriptionRefund], google.transport, NOW, { requests: 0 }, {
      priorDeliveries: async (_d, ids) => {
        asked.push(...ids);
        return ids.map((id) => (id === 'in_42:subscribe' ? { eventId: id, status: 'delivered', eventName: 'Subscribe' } : undefined));
      },
    });

    expect(asked).toEqual(['in_42', 'in_42:subscribe']);
    expect(results[0].status).toBe('delivered');
    expect(google.uploads()[0].body).toMatchObject({ conversionAdjustments: [{ conversionAction: 'customers/1234567890/conversionActions/333', orderId: 'in_42' }] });
  });

  it('holds a refund back while its original is still on the way, and skips it when the original never went', async () => {
    const google = api();
    const waiting = refund({ originalEventId: 'p', originalOrderId: 'p' });
    const orphan = refund({ originalEventId: 's', originalOrderId: 's' }, { eventId: 're_2' });
    const unknown = refund({ originalEventId: 'u', originalOrderId: 'u' }, { eventId: 're_3' });

    const results = await deliver(dest, LIVE, [waiting, orphan, unknown], google.transport, NOW, { requests: 0 }, {
      priorDeliveries: lookup({ p: { eventId: 'p', status: 'retrying' }, s: { eventId: 's', status: 'skipped', reason: 'no click' } }),
    });

    expect(results[0]).toMatchObject({ status: 'retry', error: { code: 'awaiting_original' } });
    expect(results[1]).toMatchObject({ status: 'skipped', reason: expect.stringContaining('never uploaded to Google Ads (skipped: no click)') });
    expect(results[2]).toMatchObject({ status: 'skipped', reason: expect.stringContaining('no row in the ledger') });
    expect(google.uploads()).toHaveLength(0);
  });

  it('dead-letters the batch at once, saying why, when the refresh token is revoked; retries when the token endpoint is down', async () => {
    const revoked: Transport = async () => ({ status: 400, headers: {}, body: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' } });
    const down: Transport = async () => ({ status: 503, headers: {}, body: 'unavailable' });

    const [dead] = await deliver(dest, LIVE, [withGclid()], revoked, NOW);
    const [later] = await deliver(dest, LIVE, [withGclid()], down, NOW);

    expect(dead).toMatchObject({ status: 'failed', error: { code: 'oauth.invalid_grant', message: expect.stringContaining('Token has been expired or revoked') } });
    expect(later).toMatchObject({ status: 'retry', error: { code: 'prepare_failed' } });
  });

  it('skips a refund of a conversion older than Google’s 54-day adjustment window', async () => {
    const google = api();
    const late = refund({ originalEventId: 'old', originalOrderId: 'old' });
    const original = { eventId: 'old', status: 'delivered' as const, eventName: 'Purchase', occurredAt: new Date(Date.parse(late.occurredAt) - 55 * 86400_000).toISOString() };

    const [result] = await deliver(dest, LIVE, [late], google.transport, NOW, { requests: 0 }, { priorDeliveries: lookup({ old: original }) });

    expect(result).toMatchObject({ status: 'skipped', reason: expect.stringContaining('54 days') });
    expect(google.uploads()).toHaveLength(0);
  });

  it('skips conversions without a configured action with the reason, and sends the rest', async () => {
    const google = api();

    const results = await deliver(dest, LIVE, [withGclid({ eventName: 'Subscribe' }), withGclid()], google.transport, NOW);

    expect(results[0]).toMatchObject({ status: 'skipped', reason: expect.stringContaining('"Subscribe"') });
    expect(results[1]).toMatchObject({ status: 'delivered', signals: ['gclid', 'hashedEmail', 'hashedPhoneNumber', 'orderId'] });
  });

  it('sends 4500 conversions in 3 requests of at most 2000', async () => {
    const google = api();
    const batch = Array.from({ length: 4500 }, (_, i) => withGclid({ eventId: `o${i}`, orderId: `o${i}` }));

    await deliver(dest, LIVE, batch, google.transport, NOW);

    expect(google.uploads().map((r) => (r.body as { conversions: unknown[] }).conversions.length)).toEqual([2000, 2000, 500]);
  });
});

describe('googleAdsDestination against the Google Ads fake (Google’s documented validation)', () => {
  let google: GoogleAdsFake;
  let live: GoogleAdsConfig;
  beforeAll(async () => {
    google = await startGoogleAdsFake({ customerId: CONFIG.customerId, clientId: CONFIG.clientId!, clientSecret: CONFIG.clientSecret!, refreshToken: CONFIG.refreshToken!, conversionActions: ['111', '222'] });
    live = { ...CONFIG, accessToken: undefined, baseUrl: google.baseUrl, tokenUrl: google.tokenUrl, timeZone: 'America/New_York' };
  });
  afterAll(async () => google?.close());
  afterEach(() => {
    forgetAccessToken();
    google.reset();
  });

  it('uploads click and lead conversions the API accepts, with a refreshed token, in the account’s time zone', async () => {
    const now = new Date();
    const at = new Date(now.getTime() - 60_000).toISOString();
    const batch = [
      conversionFactory({ eventId: 'a', orderId: 'a', occurredAt: at, clicks: { gclid: click('G-a', now.getTime() - 3600_000) } }),
      conversionFactory({ eventId: 'b', orderId: 'b', eventName: 'Lead', occurredAt: at, clicks: {} }),
    ];

    const results = await deliver(dest, live, batch, fetchTransport(), now);

    expect(results.map((r) => r.status)).toEqual(['delivered', 'delivered']);
    expect(google.tokenRequests).toHaveLength(1);
    expect(google.conversions()).toMatchObject([
      { gclid: 'G-a', orderId: 'a', conversionAction: 'customers/1234567890/conversionActions/111', conversionDateTime: expect.stringMatching(/-0[45]:00$/) },
      { orderId: 'b', conversionAction: 'customers/1234567890/conversionActions/222', userIdentifiers: [{ hashedEmail: sha256('jenny.rosen@example.com') }, { hashedPhoneNumber: sha256('+16505551212') }] },
    ]);
  });

  it('fails only the row Google refused, and counts a re-upload of an order as delivered', async () => {
    const now = new Date();
    const at = new Date(now.getTime() - 60_000).toISOString();
    const batch = ['x', 'y', 'z'].map((id) => withGclid({ eventId: id, orderId: id, occurredAt: at }));
    google.failRowWhen((row) => row.orderId === 'y', { family: 'conversionUploadError', value: 'UNPARSEABLE_GCLID', message: 'The gclid could not be decoded.' });

    const first = await deliver(dest, live, batch, fetchTransport(), now);
    const again = await deliver(dest, live, [batch[0]], fetchTransport(), now);

    expect(first.map((r) => r.status)).toEqual(['delivered', 'failed', 'delivered']);
    expect(first[1]).toMatchObject({ error: { code: 'conversionUploadError.UNPARSEABLE_GCLID', message: 'The gclid could not be decoded.' } });
    expect(again.map((r) => r.status)).toEqual(['delivered']);
    expect(google.conversions().map((c) => c.orderId)).toEqual(['x', 'z']);
  });

  it('refreshes the token after the API refused it mid-run', async () => {
    const now = new Date();
    const at = new Date(now.getTime() - 60_000).toISOString();
    await deliver(dest, live, [withGclid({ eventId: 'p', orderId: 'p', occurredAt: at })], fetchTransport(), now);
    google.expireTokens();

    const refused = await deliver(dest, live, [withGclid({ eventId: 'q', orderId: 'q', occurredAt: at })], fetchTransport(), now);
    const retried = await deliver(dest, live, [withGclid({ eventId: 'q', orderId: 'q', occurredAt: at })], fetchTransport(), now);

    expect(refused[0]).toMatchObject({ status: 'retry', error: { code: 'UNAUTHENTICATED' } });
    expect(retried[0].status).toBe('delivered');
    expect(google.tokenRequests).toHaveLength(2);
  });
});
