import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseGoogleDateTime, startGoogleAdsFake, type GoogleAdsFake } from './google-ads-server.ts';

const CUSTOMER = '1234567890';
const MANAGER = '9876543210';
const ACTION = `customers/${CUSTOMER}/conversionActions/111`;
const CLIENT = { clientId: 'cid.apps.googleusercontent.com', clientSecret: 'csecret', refreshToken: '1//rt' };
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** "yyyy-mm-dd hh:mm:ss+00:00" for a moment `agoMs` in the past. */
const utcDateTime = (agoMs = 60_000) => new Date(Date.now() - agoMs).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '+00:00');

function click(overrides: Record<string, unknown> = {}) {
  return { gclid: 'Cj0KCQ-test', conversionAction: ACTION, conversionDateTime: utcDateTime(), conversionValue: 49.99, currencyCode: 'USD', orderId: 'order-1', consent: { adUserData: 'GRANTED', adPersonalization: 'DENIED' }, ...overrides };
}

describe('Google Ads API fake', () => {
  let google: GoogleAdsFake;

  async function token(body: Record<string, string> = { grant_type: 'refresh_token', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, refresh_token: CLIENT.refreshToken }) {
    const res = await fetch(google.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });
    return { status: res.status, body: (await res.json()) as any };
  }
  async function call(method: string, body: unknown, opts: { token?: string; login?: string | null; customer?: string; version?: string } = {}) {
    const accessToken = opts.token ?? (await token()).body.access_token;
    const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` };
    if (opts.login !== null) headers['login-customer-id'] = opts.login ?? MANAGER;
    const res = await fetch(`${google.baseUrl}/${opts.version ?? 'v26'}/customers/${opts.customer ?? CUSTOMER}:${method}`, { method: 'POST', headers, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  }
  const upload = (conversions: unknown[], extra: Record<string, unknown> = {}, opts = {}) => call('uploadClickConversions', { conversions, partialFailure: true, ...extra }, opts);
  const adjust = (conversionAdjustments: unknown[]) => call('uploadConversionAdjustments', { conversionAdjustments, partialFailure: true });
  const rowErrors = (body: any) =>
    (body.partialFailureError?.details?.[0]?.errors ?? []).map((e: any) => [e.location.fieldPathElements[0].index, Object.values(e.errorCode)[0]]);

  beforeAll(async () => {
    google = await startGoogleAdsFake({ customerId: CUSTOMER, loginCustomerId: MANAGER, ...CLIENT, conversionActions: ['111', '222'], tokenTtlSeconds: 2 });
  });
  afterAll(() => google.close());
  beforeEach(() => google.reset());

  describe('OAuth token endpoint', () => {
    it('issues a Bearer token for the right client and refresh token, valid for the configured time', async () => {
      const { status, body } = await token();

      expect(status).toBe(200);
      expect(body).toMatchObject({ access_token: expect.stringMatching(/^ya29\./), expires_in: 2, token_type: 'Bearer' });
    });

    it('refuses a revoked refresh token with invalid_grant and a wrong client with invalid_client', async () => {
      expect(await token({ grant_type: 'refresh_token', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, refresh_token: 'revoked' })).toEqual({
        status: 400,
        body: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' },
      });
      expect((await token({ grant_type: 'refresh_token', client_id: 'x', client_secret: 'y', refresh_token: CLIENT.refreshToken })).body.error).toBe('invalid_client');
    });

    it('answers 401 UNAUTHENTICATED once a token expired or was expired by the test', async () => {
      const { body } = await token();
      expect((await upload([click()], {}, { token: body.access_token })).status).toBe(200);

      google.expireTokens();

      const after = await upload([click({ orderId: 'order-2' })], {}, { token: body.access_token });
      expect(after.status).toBe(401);
      expect(after.body.error.status).toBe('UNAUTHENTICATED');
    });

    it('lets tokens run out after their lifetime', async () => {
      const { body } = await token();
      await new Promise((r) => setTimeout(r, 2100));

      expect((await upload([click()], {}, { token: body.access_token })).status).toBe(401);
    });
  });

  describe('uploadClickConversions', () => {
    it('accepts a valid conversion and answers with its result', async () => {
      const conversion = click({ userIdentifiers: [{ userIdentifierSource: 'FIRST_PARTY', hashedEmail: sha('jane@example.com') }] });

      const { status, body } = await upload([conversion]);

      expect(status).toBe(200);
      expect(body.partialFailureError).toBeUndefined();
      expect(body.results).toEqual([expect.objectContaining({ gclid: 'Cj0KCQ-test', conversionAction: ACTION, conversionDateTime: conversion.conversionDateTime })]);
      expect(google.conversions()).toEqual([conversion]);
    });

    it('requires login-customer-id for the client account, and customer IDs without dashes', async () => {
      expect((await upload([click()], {}, { login: null })).body.error).toMatchObject({ status: 'PERMISSION_DENIED', details: [{ errors: [{ errorCode: { authorizationError: 'USER_PERMISSION_DENIED' } }] }] });
      expect((await upload([click()], {}, { customer: '123-456-7890' })).status).toBe(400);
      expect(google.conversions()).toEqual([]);
    });

    it('requires partialFailure: true', async () => {
      const res = await call('uploadClickConversions', { conversions: [click()] });

      expect(res.status).toBe(400);
      expect(res.body.error.details[0].errors[0].errorCode).toEqual({ fieldError: 'REQUIRED' });
    });

    it('refuses more than 2000 conversions in a request', async () => {
      const res = await upload(Array.from({ length: 2001 }, (_, i) => click({ orderId: `o${i}` })));

      expect(res.status).toBe(400);
      expect(res.body.error.details[0].errors[0].errorCode).toEqual({ conversionUploadError: 'TOO_MANY_CONVERSIONS_IN_REQUEST' });
    });

    it('fails only the bad rows, located by index, with an empty result for each', async () => {
      const rows = [
        click({ orderId: 'ok-1' }),
        click({ orderId: 'bad-date', conversionDateTime: new Date().toISOString() }),
        click({ orderId: 'bad-action', conversionAction: `customers/${CUSTOMER}/conversionActions/999` }),
        click({ orderId: 'two-clicks', gbraid: 'GB' }),
        click({ orderId: 'braids', gclid: undefined, gbraid: 'GB', wbraid: 'WB' }),
        click({ orderId: 'unhashed', userIdentifiers: [{ hashedEmail: 'jane@example.com' }] }),
        click({ orderId: 'address', userIdentifiers: [{ addressInfo: { hashedFirstName: sha('jane') } }] }),
        click({ orderId: 'nothing', gclid: undefined }),
        click({ orderId: 'ok-2', gclid: undefined, userIdentifiers: [{ hashedPhoneNumber: sha('+14155550100') }] }),
      ];

      const { status, body } = await upload(rows);

      expect(status).toBe(200);
      expect(rowErrors(body)).toEqual([
        [1, 'INVALID_FIELD_VALUES_IN_DATE_TIME'],
        [2, 'NO_CONVERSION_ACTION_FOUND'],
        [3, 'VALUE_MUST_BE_UNSET'],
        [4, 'GBRAID_WBRAID_BOTH_SET'],
        [5, 'INVALID_USER_IDENTIFIER'],
        [6, 'UNSUPPORTED_USER_IDENTIFIER'],
        [7, 'REQUIRED'],
      ]);
      expect(body.partialFailureError.code).toBe(3);
      expect(body.results.map((r: object) => Object.keys(r).length > 0)).toEqual([true, false, false, false, false, false, false, false, true]);
      expect(google.conversions().map((c) => c.orderId)).toEqual(['ok-1', 'ok-2']);
    });

    it('refuses a whole request with an unknown field or a bad enum, as proto JSON parsing does', async () => {
      expect((await upload([click({ conversion_value_micros: 1 })])).status).toBe(400);
      const res = await upload([click({ consent: { adUserData: 'YES' } })]);
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/consent\.adUserData/);
    });

    it('dedups by order ID per action: ORDER_ID_ALREADY_IN_USE later, DUPLICATE_ORDER_ID in one request', async () => {
      await upload([click({ orderId: 'dup' })]);

      const again = await upload([click({ orderId: 'dup' })]);
      const twice = await upload([click({ orderId: 'twin', gclid: 'twin-a' }), click({ orderId: 'twin', gclid: 'twin-b' })]);

      expect(rowErrors(again.body)).toEqual([[0, 'ORDER_ID_ALREADY_IN_USE']]);
      expect(rowErrors(twice.body)).toEqual([[1, 'DUPLICATE_ORDER_ID']]);
      expect(google.conversions().map((c) => c.orderId)).toEqual(['dup', 'twin']);
    });

    it('dedups a click + date-time + action without order ID: CLICK_CONVERSION_ALREADY_EXISTS', async () => {
      const row = click({ orderId: undefined });
      await upload([row]);

      expect(rowErrors((await upload([row])).body)).toEqual([[0, 'CLICK_CONVERSION_ALREADY_EXISTS']]);
    });

    it('validates without recording in validateOnly mode', async () => {
      const res = await upload([click()], { validateOnly: true });

      expect(res.status).toBe(200);
      expect(google.conversions()).toEqual([]);
    });

    it('answers injected row errors (e.g. TOO_RECENT_EVENT) as partial failures, as many times as asked', async () => {
      google.failRowWhen((r) => r.orderId === 'recent', { family: 'conversionUploadError', value: 'TOO_RECENT_EVENT' }, 1);

      const first = await upload([click({ orderId: 'recent' })]);
      const second = await upload([click({ orderId: 'recent' })]);

      expect(rowErrors(first.body)).toEqual([[0, 'TOO_RECENT_EVENT']]);
      expect(rowErrors(second.body)).toEqual([]);
    });

    it('answers injected request failures in Google’s envelope', async () => {
      google.failNext(1, { status: 429, rpcStatus: 'RESOURCE_EXHAUSTED', errors: [{ family: 'quotaError', value: 'RESOURCE_EXHAUSTED' }] });

      const res = await upload([click()]);

      expect(res).toMatchObject({ status: 429, body: { error: { code: 429, status: 'RESOURCE_EXHAUSTED', details: [{ errors: [{ errorCode: { quotaError: 'RESOURCE_EXHAUSTED' } }] }] } } });
    });
  });

  describe('uploadConversionAdjustments', () => {
    const retraction = (overrides: Record<string, unknown> = {}) => ({ conversionAction: ACTION, adjustmentType: 'RETRACTION', adjustmentDateTime: utcDateTime(1000), orderId: 'order-1', ...overrides });

    it('retracts an uploaded conversion once; a second retraction is CONVERSION_ALREADY_RETRACTED', async () => {
      await upload([click({ conversionDateTime: utcDateTime(60_000) })]);

      const first = await adjust([retraction()]);
      const second = await adjust([retraction()]);

      expect(rowErrors(first.body)).toEqual([]);
      expect(google.uploads()[0].retracted).toBe(true);
      expect(rowErrors(second.body)).toEqual([[0, 'CONVERSION_ALREADY_RETRACTED']]);
    });

    it('restates to the adjusted value, which a restatement needs and a retraction must not have', async () => {
      await upload([click()]);

      const missing = await adjust([retraction({ adjustmentType: 'RESTATEMENT' })]);
      const withValue = await adjust([retraction({ restatementValue: { adjustedValue: 10 } })]);
      const ok = await adjust([retraction({ adjustmentType: 'RESTATEMENT', restatementValue: { adjustedValue: 20, currencyCode: 'USD' } })]);

      expect(rowErrors(missing.body)).toEqual([[0, 'REQUIRED']]);
      expect(rowErrors(withValue.body)).toEqual([[0, 'VALUE_MUST_BE_UNSET']]);
      expect(rowErrors(ok.body)).toEqual([]);
      expect(google.uploads()[0].restatedValue).toBe(20);
    });

    it('answers CONVERSION_NOT_FOUND for an order never uploaded, and ADJUSTMENT_PRECEDES_CONVERSION for an early adjustment', async () => {
      await upload([click({ conversionDateTime: utcDateTime(10_000) })]);

      expect(rowErrors((await adjust([retraction({ orderId: 'never' })])).body)).toEqual([[0, 'CONVERSION_NOT_FOUND']]);
      expect(rowErrors((await adjust([retraction({ adjustmentDateTime: utcDateTime(3_600_000) })])).body)).toEqual([[0, 'ADJUSTMENT_PRECEDES_CONVERSION']]);
    });
  });
});

describe('parseGoogleDateTime', () => {
  it('reads the offset', () => {
    expect(parseGoogleDateTime('2019-01-01 12:32:45-08:00')).toBe(Date.parse('2019-01-01T20:32:45Z'));
  });

  it.each(['2019-01-01T12:32:45-08:00', '2019-01-01 12:32:45', '2019-01-01 12:32:45Z', '2019-02-30 12:00:00+00:00', '2019-01-01 24:00:00+00:00'])('refuses %j', (s) => {
    expect(parseGoogleDateTime(s)).toBeUndefined();
  });
});

describe('Google Ads fake: adjustments on fresh conversions', () => {
  it('answers TOO_RECENT_CONVERSION when configured with Google’s 24 h minimum', async () => {
    const google = await startGoogleAdsFake({ customerId: CUSTOMER, ...CLIENT, conversionActions: ['111'], adjustmentMinConversionAgeMs: 24 * 3600_000 });
    try {
      const tok = await fetch(google.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, refresh_token: CLIENT.refreshToken }) });
      const auth = { 'content-type': 'application/json', authorization: `Bearer ${((await tok.json()) as any).access_token}` };
      const url = (m: string) => `${google.baseUrl}/v26/customers/${CUSTOMER}:${m}`;
      await fetch(url('uploadClickConversions'), { method: 'POST', headers: auth, body: JSON.stringify({ partialFailure: true, conversions: [click()] }) });

      const res = await fetch(url('uploadConversionAdjustments'), {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ partialFailure: true, conversionAdjustments: [{ conversionAction: ACTION, adjustmentType: 'RETRACTION', adjustmentDateTime: utcDateTime(0), orderId: 'order-1' }] }),
      });
      const body = (await res.json()) as any;

      expect(body.partialFailureError.details[0].errors[0].errorCode).toEqual({ conversionAdjustmentUploadError: 'TOO_RECENT_CONVERSION' });
    } finally {
      await google.close();
    }
  });
});
