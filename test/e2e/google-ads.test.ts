import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGoogleAdsFake, type GoogleAdsFake } from '../fakes/google-ads-server.ts';
import { PROJECT_ROOT, startRelay, type RelayProcess } from '../support/relay-process.ts';

/**
 * End to end through `npm start`'s runner (its own process) with a fake Google Ads API and OAuth endpoint that
 * validate requests as Google documents them: a Google Ads click is collected, Stripe reports the payment, the click
 * conversion is uploaded; partial failures, token refresh and expiry, "too recent" retries and a refund's retraction.
 */
const STRIPE_SECRET = 'whsec_e2e_google_secret';
const CUSTOMER_ID = '1234567890';
const MANAGER_ID = '9876543210';
const OAUTH = { clientId: 'e2e-client.apps.googleusercontent.com', clientSecret: 'GOCSPX-e2e-client-secret', refreshToken: '1//e2e-refresh-token' };
const PURCHASE_ACTION = `customers/${CUSTOMER_ID}/conversionActions/111`;
/** Token lifetime just above the relay's refresh margin (120 s): a cached token is stale after 4 s. */
const TOKEN_TTL_SECONDS = 124;
const TOO_RECENT_RETRY_SECONDS = 3;
const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) conversion-relay-e2e-google';
const CUSTOMER = {
  email: 'Jane.Doe@GoogleMail.com',
  phone: '+1 (415) 555-0100',
  name: 'Jane Doe',
  address: { line1: '1 Market Street', line2: null, city: 'San Francisco', state: 'CA', postal_code: '94105', country: 'US' },
};
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

const fixture = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/stripe/checkout.session.json'), 'utf8'));
let counter = 0;
function checkoutCompleted(overrides: Record<string, unknown> = {}) {
  const id = `cs_test_gads_${Date.now()}_${++counter}`;
  // Sources may key a purchase on its PaymentIntent (what payment_intent.succeeded reports too): one per checkout here.
  const session = { ...fixture, id, payment_intent: id, amount_total: 4999, amount_subtotal: 4999, currency: 'usd', payment_status: 'paid', status: 'complete', customer_details: { ...fixture.customer_details, ...CUSTOMER }, ...overrides };
  const event = { id: `evt_gads_${id}`, object: 'event', api_version: '2026-10-28.endive', created: Math.floor(Date.now() / 1000), livemode: true, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type: 'checkout.session.completed', data: { object: session } };
  return { id, payload: JSON.stringify(event) };
}
const sign = (payload: string) => Stripe.webhooks.generateTestHeaderString({ payload, secret: STRIPE_SECRET });

describe('Stripe purchase → Google Ads through the local runner', () => {
  let google: GoogleAdsFake;
  let relay: RelayProcess;
  let dataDir: string;

  const postStripe = (payload: string) =>
    fetch(`${relay.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': sign(payload) }, body: payload });

  /** A visit from a Google ad: the landing URL carries the gclid; the consent banner answered. */
  async function land(gclid: string, consent: Record<string, string> = { ad_user_data: 'granted', ad_personalization: 'denied' }) {
    const res = await fetch(`${relay.url}/collect`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': BROWSER_UA },
      body: JSON.stringify({ url: `https://shop.example.com/landing?gclid=${gclid}&utm_source=google`, referrer: 'https://www.google.com/', consent }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { visitorId: string }).visitorId;
  }

  /** A purchase after a Google ad click; resolves to the Stripe session (= order) ID. */
  async function purchase(gclid: string) {
    const visitorId = await land(gclid);
    const { id, payload } = checkoutCompleted({ client_reference_id: visitorId });
    const res = await postStripe(payload);
    expect(res.status).toBe(200);
    return id;
  }

  const uploadsOf = (orderId: string) => google.conversions().filter((c) => c.orderId === orderId);
  const requestsFor = (orderId: string) => google.requests.filter((r) => JSON.stringify(r.body ?? '').includes(orderId));
  const ledgerRow = async (eventId: string) => (await relay.ledgerFor(eventId, 'google-ads'))[0];
  const waitForStatus = (eventId: string, status: string, timeoutMs = 15_000) =>
    relay.waitFor(async () => {
      const row = await ledgerRow(eventId);
      return row?.status === status && row;
    }, timeoutMs, `google-ads ledger row of ${eventId} to be ${status}`);

  /** Puts a Conversion on the google-ads queue, as ingest would (refunds are not mapped from Stripe on this branch). */
  /** A conversion as ingest leaves it: its conversion item in the ledger, its message on the google-ads queue. */
  async function enqueue(conversion: Record<string, unknown>) {
    await relay.accepted(conversion, ['google-ads']);
    const sqs = new SQSClient({ endpoint: relay.sqsUrl, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: `${relay.sqsUrl}/000000000000/google-ads`,
        MessageBody: JSON.stringify(conversion),
        MessageAttributes: { destination: { DataType: 'String', StringValue: 'google-ads' }, conversionId: { DataType: 'String', StringValue: String(conversion.eventId) } },
      }),
    );
  }

  beforeAll(async () => {
    google = await startGoogleAdsFake({ customerId: CUSTOMER_ID, loginCustomerId: MANAGER_ID, ...OAUTH, conversionActions: ['111', '222'], tokenTtlSeconds: TOKEN_TTL_SECONDS });
    dataDir = mkdtempSync(path.join(tmpdir(), 'relay-e2e-gads-'));
    relay = await startRelay(
      {
        STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
        // This suite exercises the Google Ads API path (the Data Manager API is the default).
        GOOGLE_ADS_UPLOAD_API: 'google-ads-api',
        GOOGLE_ADS_CUSTOMER_ID: '123-456-7890',
        GOOGLE_ADS_LOGIN_CUSTOMER_ID: '987-654-3210',
        GOOGLE_ADS_CLIENT_ID: OAUTH.clientId,
        GOOGLE_ADS_CLIENT_SECRET: OAUTH.clientSecret,
        GOOGLE_ADS_REFRESH_TOKEN: OAUTH.refreshToken,
        GOOGLE_ADS_CONVERSION_ACTIONS: 'Purchase=111,Lead=222',
        GOOGLE_ADS_TIME_ZONE: 'America/New_York',
        GOOGLE_ADS_API_BASE_URL: google.baseUrl,
        GOOGLE_OAUTH_TOKEN_URL: google.tokenUrl,
        GOOGLE_ADS_TOO_RECENT_RETRY_SECONDS: String(TOO_RECENT_RETRY_SECONDS),
        RELAY_RETRY_BASE_SECONDS: '1',
        RELAY_MAX_ATTEMPTS: '6',
      },
      dataDir,
    );
  });
  afterAll(async () => {
    await relay?.stop();
    await google?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  beforeEach(() => google.reset());

  it('says Google Ads is live', () => {
    expect(relay.output.join('\n')).toMatch(/google-ads: live/);
  });

  it('uploads the click conversion with the gclid, consent, hashed identifiers and the account’s time zone', async () => {
    const id = await purchase('Cj0KCQiA-e2e_gclid-1');

    await relay.waitFor(() => uploadsOf(id).length > 0, 15_000, 'the Google Ads upload');
    const [conversion] = uploadsOf(id);
    expect(conversion).toMatchObject({
      gclid: 'Cj0KCQiA-e2e_gclid-1',
      conversionAction: PURCHASE_ACTION,
      conversionValue: 49.99,
      currencyCode: 'USD',
      orderId: id,
      consent: { adUserData: 'GRANTED', adPersonalization: 'DENIED' },
      userIdentifiers: [
        // Google's e-mail form: googlemail dots dropped, lowercase.
        { userIdentifierSource: 'FIRST_PARTY', hashedEmail: sha256('janedoe@googlemail.com') },
        { userIdentifierSource: 'FIRST_PARTY', hashedPhoneNumber: sha256('+14155550100') },
      ],
    });
    // New York wall clock with its offset (EST/EDT).
    expect(conversion.conversionDateTime).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}-0[45]:00$/);
    const [request] = requestsFor(id);
    expect(request.headers['login-customer-id']).toBe(MANAGER_ID);
    expect(request.headers.authorization).toMatch(/^Bearer ya29\.fake-/);
    expect(request.headers).not.toHaveProperty('developer-token');
    expect(request.body.partialFailure).toBe(true);
    const row = await waitForStatus(id, 'delivered', 5_000);
    expect(row).toMatchObject({ attempts: 1, signals: ['gclid', 'hashedEmail', 'hashedPhoneNumber', 'orderId'] });
  });

  it('fails only the row Google refused in a batch, dead-lettered with Google’s code and message', async () => {
    google.failRowWhen((row) => row.gclid === 'Cj0-expired-click', { family: 'conversionUploadError', value: 'EXPIRED_EVENT', message: 'The click associated with the given identifier has expired.' });
    // Google answers a first purchase slowly; the two that follow queue up meanwhile and go in one batch.
    google.failNext(1, { delayMs: 1500 });
    const first = await purchase('Cj0-slow-click');
    await relay.waitFor(() => google.requests.length > 0, 10_000, 'the slow request');
    const good = await purchase('Cj0-good-click');
    const bad = await purchase('Cj0-expired-click');
    await waitForStatus(first, 'delivered');

    const letters = await relay.waitFor(async () => {
      const mine = (await relay.dlqMessages('google-ads')).filter((m) => m.attributes.conversionId === bad);
      return mine.length > 0 && mine;
    }, 15_000, 'the DLQ message');
    expect(letters[0].attributes).toMatchObject({
      destination: 'google-ads',
      errorCode: 'conversionUploadError.EXPIRED_EVENT',
      errorMessage: 'The click associated with the given identifier has expired.',
      attempts: '1',
    });
    await waitForStatus(good, 'delivered', 5_000);
    expect(uploadsOf(good)).toHaveLength(1);
    expect(uploadsOf(bad)).toHaveLength(0);
    // Both went in one request (one batch), and the good one was not sent again.
    expect(requestsFor(good)).toHaveLength(1);
    expect(requestsFor(good)[0]).toBe(requestsFor(bad)[0]);
    expect((await waitForStatus(bad, 'dead_lettered', 5_000)).errorCode).toBe('conversionUploadError.EXPIRED_EVENT');
  });

  it('refreshes the access token before it expires, and again when Google refuses it mid-run', async () => {
    // The cached token goes stale a few seconds after its refresh: the next batch gets a new one, unprompted.
    await new Promise((r) => setTimeout(r, (TOKEN_TTL_SECONDS - 120) * 1000 + 200));
    const first = await purchase('Cj0-token-1');
    await relay.waitFor(() => uploadsOf(first).length > 0, 15_000, 'the first upload');
    expect(google.tokenRequests.map((t) => t.status)).toEqual([200]);
    expect(requestsFor(first).map((r) => r.status)).toEqual([200]);

    // The token is revoked (or expired early): Google answers 401, the relay drops its token and retries.
    google.expireTokens();
    const second = await purchase('Cj0-token-2');
    await relay.waitFor(() => uploadsOf(second).length > 0, 15_000, 'the upload after the token expired');

    expect(requestsFor(second).map((r) => r.status)).toEqual([401, 200]);
    expect(google.tokenRequests.map((t) => t.status)).toEqual([200, 200]);
    expect(requestsFor(second)[1].headers.authorization).not.toBe(requestsFor(second)[0].headers.authorization);
    expect((await waitForStatus(second, 'delivered', 5_000)).attempts).toBe(2);
  });

  it('retries a click Google calls too recent after the waiting time, instead of dead-lettering it', async () => {
    google.failRowWhen((row) => row.gclid === 'Cj0-too-recent', { family: 'conversionUploadError', value: 'TOO_RECENT_EVENT', message: 'The click associated with the given identifier or iOS URL parameter occurred less than 6 hours ago, please retry after 6 hours have passed.' }, 1);
    const id = await purchase('Cj0-too-recent');

    await relay.waitFor(() => uploadsOf(id).length > 0, 20_000, 'the upload after the wait');

    const attempts = requestsFor(id);
    expect(attempts).toHaveLength(2);
    expect(attempts[0].response.partialFailureError.details[0].errors[0].errorCode).toEqual({ conversionUploadError: 'TOO_RECENT_EVENT' });
    // The wait is Google's (here shortened), longer than the 1 s first backoff.
    expect(attempts[1].at - attempts[0].at).toBeGreaterThanOrEqual(TOO_RECENT_RETRY_SECONDS * 1000 - 100);
    expect((await relay.dlqMessages('google-ads')).filter((m) => m.attributes.conversionId === id)).toEqual([]);
    expect(await waitForStatus(id, 'delivered', 5_000)).toMatchObject({ attempts: 2 });
  });

  it('retracts a refunded purchase, waiting until the purchase itself was uploaded', async () => {
    // The purchase is held back once ("too recent"); the refund arrives meanwhile and must wait for it.
    google.failRowWhen((row) => row.gclid === 'Cj0-refunded', { family: 'conversionUploadError', value: 'TOO_RECENT_EVENT' }, 1);
    const id = await purchase('Cj0-refunded');
    await relay.waitFor(() => requestsFor(id).length > 0, 15_000, 'the first upload attempt');
    await waitForStatus(id, 'retrying', 5_000);
    const refundId = `re_e2e_${id}`;
    await enqueue({
      eventId: refundId,
      eventName: 'Refund',
      occurredAt: new Date().toISOString(),
      value: 49.99,
      currency: 'USD',
      orderId: id,
      actionSource: 'system_generated',
      user: {},
      clicks: {},
      consent: { marketing: true, adUserData: true, adPersonalization: false, analytics: true },
      adjustment: { kind: 'refund', originalOrderId: id, originalEventId: id, full: true },
      source: { name: 'stripe', eventId: `evt_refund_${id}`, eventType: 'charge.refunded' },
    });

    await relay.waitFor(() => google.adjustments().some((a) => a.orderId === id), 25_000, 'the retraction');

    expect(google.adjustments().filter((a) => a.orderId === id)).toEqual([
      { conversionAction: PURCHASE_ACTION, adjustmentType: 'RETRACTION', adjustmentDateTime: expect.stringMatching(/-0[45]:00$/), orderId: id },
    ]);
    expect(google.uploads().find((u) => u.conversion.orderId === id)?.retracted).toBe(true);
    const uploadAt = requestsFor(id).find((r) => r.path.endsWith(':uploadClickConversions') && r.status === 200 && !r.response.partialFailureError)!.at;
    const retractAt = google.requests.find((r) => r.path.endsWith(':uploadConversionAdjustments'))!.at;
    expect(retractAt).toBeGreaterThan(uploadAt);
    const refundRow = await waitForStatus(refundId, 'delivered', 5_000);
    expect(refundRow.attempts).toBeGreaterThan(1);
  });

  it('skips a refund whose purchase never went to Google Ads, saying why', async () => {
    const refundId = `re_e2e_orphan_${Date.now()}`;
    await enqueue({
      eventId: refundId,
      eventName: 'Refund',
      occurredAt: new Date().toISOString(),
      actionSource: 'system_generated',
      user: {},
      clicks: {},
      consent: {},
      adjustment: { kind: 'refund', originalOrderId: 'cs_never_seen', full: true },
      source: { name: 'stripe', eventId: `evt_${refundId}`, eventType: 'charge.refunded' },
    });

    const row = await waitForStatus(refundId, 'skipped');
    expect(row.reason).toMatch(/no row in the ledger/);
    expect(google.requests.filter((r) => r.path.endsWith(':uploadConversionAdjustments'))).toHaveLength(0);
  });

  it('keeps OAuth secrets and tokens, and raw personal data, out of its logs and tables', async () => {
    const logs = relay.output.join('\n');
    const rows = JSON.stringify(await relay.ledger());
    for (const secret of [OAUTH.clientSecret, OAUTH.refreshToken, 'ya29.fake-']) {
      expect(logs).not.toContain(secret);
      expect(rows).not.toContain(secret);
    }
    for (const raw of ['jane.doe@googlemail.com', 'janedoe@googlemail.com', '4155550100']) {
      expect(logs.toLowerCase()).not.toContain(raw);
      expect(rows.toLowerCase()).not.toContain(raw);
    }
  });
});

describe('Google Ads without credentials (dry-run)', () => {
  let relay: RelayProcess;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'relay-dry-gads-'));
    relay = await startRelay({ STRIPE_WEBHOOK_SECRET: STRIPE_SECRET, GOOGLE_DATA_MANAGER_API_BASE_URL: 'http://127.0.0.1:9', GOOGLE_OAUTH_TOKEN_URL: 'http://127.0.0.1:9/token' }, dataDir);
  });
  afterAll(async () => {
    await relay?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('says so at start, and records the exact upload it would have made', async () => {
    // Named for the default path, the Data Manager API: the operating account, a refresh token or a service account.
    expect(relay.output.join('\n')).toContain(
      'google-ads: dry-run (set GOOGLE_ADS_CUSTOMER_ID (operating account: the one that owns the conversion actions), GOOGLE_ADS_CLIENT_ID + GOOGLE_ADS_CLIENT_SECRET + GOOGLE_ADS_REFRESH_TOKEN (OAuth refresh token for the scope https://www.googleapis.com/auth/datamanager) or GOOGLE_SERVICE_ACCOUNT_KEY, GOOGLE_ADS_CONVERSION_ACTIONS to send)',
    );
    const { id, payload } = checkoutCompleted();
    const res = await fetch(`${relay.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': sign(payload) }, body: payload });
    expect(res.status).toBe(200);

    const [row] = await relay.waitFor(async () => {
      const rows = await relay.ledgerFor(id, 'google-ads');
      return rows[0]?.status === 'dry_run' && rows;
    }, 15_000, 'the dry-run ledger row');
    const request = JSON.parse(row.request);
    // A new user sees the default path's request: the Data Manager API's, placeholders for the account and action.
    expect(request.url).toBe('https://datamanager.googleapis.com/v1/events:ingest');
    expect(request.body).toMatchObject({ destinations: [{ productDestinationId: '<GOOGLE_ADS_CONVERSION_ACTIONS[Purchase]>' }], events: [{ transactionId: id, conversionValue: 49.99, currency: 'USD', eventSource: 'OTHER' }] });
  });
});
