import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startDataManagerFake, type DataManagerFake } from '../fakes/data-manager-server.ts';
import { cli } from '../support/cli.ts';
import { stripeEvent } from '../support/factories.ts';
import { startRelay, type RelayProcess } from '../support/relay-process.ts';
import { stripeSession } from '../support/stripe-objects.ts';

/**
 * End to end through `npm start`'s runner with a fake Data Manager API (the default Google Ads path) that validates
 * as Google documents: a Google ad click is collected, Stripe reports the payment, one event reaches Google with every
 * signal; an event Google's fast-fail refuses is isolated while the rest of its batch goes through; a request Google
 * refuses while processing it shows up in `status` and the DLQ; a refund restates the conversion.
 */
const STRIPE_SECRET = 'whsec_e2e_dm_secret';
const ACCOUNT = '1234567890';
const MANAGER = '9876543210';
const OAUTH = { clientId: 'e2e-dm.apps.googleusercontent.com', clientSecret: 'GOCSPX-e2e-dm-secret', refreshToken: '1//e2e-dm-refresh' };
const STATUS_CHECK_SECONDS = 2;
const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) conversion-relay-e2e-dm';
const CUSTOMER = { email: 'Jane.Doe+shop@GMail.com', phone: '+1 (415) 555-0100', name: 'Jane Doe', address: { line1: '1 Market Street', line2: null, city: 'San Francisco', state: 'CA', postal_code: '94105', country: 'US' } };
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

let counter = 0;
/** A paid checkout for the customer, as a signed-ready Stripe event (shared envelope and session factories). */
function checkoutCompleted(overrides: Record<string, unknown> = {}) {
  const id = `cs_test_dm_${Date.now()}_${++counter}`;
  const session = stripeSession({ id, payment_intent: id, amount_total: 4999, amount_subtotal: 4999, currency: 'usd', payment_status: 'paid', status: 'complete', customer_details: { ...stripeSession().customer_details, ...CUSTOMER }, ...overrides });
  return { id, payload: JSON.stringify(stripeEvent('checkout.session.completed', session, { id: `evt_dm_${id}`, created: Math.floor(Date.now() / 1000) })) };
}
const sign = (payload: string) => Stripe.webhooks.generateTestHeaderString({ payload, secret: STRIPE_SECRET });

describe('Stripe purchase → Google Ads through the Data Manager API (default path), local runner', () => {
  let google: DataManagerFake;
  let relay: RelayProcess;
  let dataDir: string;

  async function purchase(gclid: string) {
    const land = await fetch(`${relay.url}/collect`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': BROWSER_UA },
      body: JSON.stringify({ url: `https://shop.example.com/landing?gclid=${gclid}`, referrer: 'https://www.google.com/', consent: { ad_user_data: 'granted', ad_personalization: 'denied' } }),
    });
    const { visitorId } = (await land.json()) as { visitorId: string };
    const { id, payload } = checkoutCompleted({ client_reference_id: visitorId });
    const res = await fetch(`${relay.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': sign(payload) }, body: payload });
    expect(res.status).toBe(200);
    return id;
  }
  const eventsOf = (orderId: string) => google.events().filter((k) => k.event.transactionId === orderId);
  const row = async (eventId: string) => (await relay.ledgerFor(eventId, 'google-ads'))[0];
  const waitForRow = (eventId: string, pred: (r: any) => boolean, what: string, timeoutMs = 20_000) =>
    relay.waitFor(async () => {
      const r = await row(eventId);
      return r && pred(r) && r;
    }, timeoutMs, what);

  beforeAll(async () => {
    google = await startDataManagerFake({ accountId: ACCOUNT, loginAccountId: MANAGER, ...OAUTH, conversionActions: ['111'] });
    dataDir = mkdtempSync(path.join(tmpdir(), 'relay-e2e-dm-'));
    relay = await startRelay(
      {
        STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
        GOOGLE_ADS_CUSTOMER_ID: '123-456-7890',
        GOOGLE_ADS_LOGIN_CUSTOMER_ID: '987-654-3210',
        GOOGLE_ADS_CLIENT_ID: OAUTH.clientId,
        GOOGLE_ADS_CLIENT_SECRET: OAUTH.clientSecret,
        GOOGLE_ADS_REFRESH_TOKEN: OAUTH.refreshToken,
        GOOGLE_ADS_CONVERSION_ACTIONS: 'Purchase=111',
        GOOGLE_DATA_MANAGER_API_BASE_URL: google.baseUrl,
        GOOGLE_OAUTH_TOKEN_URL: google.tokenUrl,
        GOOGLE_ADS_STATUS_CHECK_SECONDS: String(STATUS_CHECK_SECONDS),
        // Google's 6 h after a too-recent click, shortened for the test.
        GOOGLE_ADS_TOO_RECENT_RETRY_SECONDS: '2',
        RELAY_RETRY_BASE_SECONDS: '1',
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

  it('sends one Data Manager event with every signal, then records Google’s final SUCCESS with the request ID', async () => {
    const id = await purchase('Cj0KCQiA-dm-1');

    await relay.waitFor(() => eventsOf(id).length > 0, 15_000, 'the Data Manager event');
    const [kept] = eventsOf(id);
    expect(kept.event).toMatchObject({
      transactionId: id,
      eventSource: 'WEB',
      conversionValue: 49.99,
      currency: 'USD',
      adIdentifiers: { gclid: 'Cj0KCQiA-dm-1', landingPageDeviceInfo: { userAgent: BROWSER_UA } },
      eventDeviceInfo: { userAgent: BROWSER_UA, ipAddress: '127.0.0.1' },
      // Data Manager's e-mail form: gmail dots and the +tag dropped.
      userData: { userIdentifiers: [{ emailAddress: sha256('janedoe@gmail.com') }, { phoneNumber: sha256('+14155550100') }] },
      consent: { adUserData: 'CONSENT_GRANTED', adPersonalization: 'CONSENT_DENIED' },
    });
    const ingest = google.requests.find((r) => r.path === '/v1/events:ingest')!;
    expect(ingest.body.destinations).toEqual([{ reference: 'action-111', operatingAccount: { accountType: 'GOOGLE_ADS', accountId: ACCOUNT }, loginAccount: { accountType: 'GOOGLE_ADS', accountId: MANAGER }, productDestinationId: '111' }]);
    expect(ingest.headers).not.toHaveProperty('developer-token');

    const final = await waitForRow(id, (r) => typeof r.note === 'string', 'Google’s final status on the ledger row');
    expect(final).toMatchObject({ status: 'delivered', requestId: ingest.response.requestId, note: expect.stringContaining('SUCCESS'), platformStatus: 'succeeded' });
    // The follow-up rewrites the row whole: the match record stays, so the quality report still counts the event.
    expect(final.m).toMatchObject({ c: 'gclid', k: expect.stringContaining('em') });
    expect(google.requests.some((r) => r.method === 'GET' && r.path === '/v1/requestStatus:retrieve')).toBe(true);
  });

  it('isolates an event Google’s fast-fail refuses and sends the rest of the batch again, at once', async () => {
    google.rejectEventWhen((e) => e.adIdentifiers?.gclid === 'Cj0-dm-bad', 'INVALID_GCLID', 'The gclid could not be decoded.');
    const good = await purchase('Cj0-dm-good');
    const bad = await purchase('Cj0-dm-bad');

    const letters = await relay.waitFor(async () => {
      const mine = (await relay.dlqMessages('google-ads')).filter((m) => m.attributes.conversionId === bad);
      return mine.length > 0 && mine;
    }, 15_000, 'the bad event in the DLQ');
    expect(letters[0].attributes).toMatchObject({ errorCode: 'INVALID_GCLID', errorMessage: expect.stringContaining('The gclid could not be decoded.') });
    await relay.waitFor(() => eventsOf(good).length > 0, 15_000, 'the good event');
    expect(eventsOf(bad)).toHaveLength(0);
    expect((await row(good)).status).toBe('delivered');
  });

  it('shows an asynchronous refusal in `status` and puts the conversion in the DLQ with Google’s reason', async () => {
    google.refuseEventWhen((e) => e.adIdentifiers?.gclid === 'Cj0-dm-late-refusal', 'PROCESSING_ERROR_REASON_CLICK_NOT_FOUND');
    const id = await purchase('Cj0-dm-late-refusal');

    const refused = await waitForRow(id, (r) => r.status === 'dead_lettered', 'the refusal on the ledger row', 25_000);
    expect(refused).toMatchObject({
      errorCode: 'PROCESSING_ERROR_REASON_CLICK_NOT_FOUND',
      errorMessage: expect.stringContaining('refused it: 1 × PROCESSING_ERROR_REASON_CLICK_NOT_FOUND'),
      requestId: expect.any(String),
      platformStatus: 'failed',
      platformReasons: [{ reason: 'PROCESSING_ERROR_REASON_CLICK_NOT_FOUND', count: 1 }],
    });
    const [letter] = (await relay.dlqMessages('google-ads')).filter((m) => m.attributes.conversionId === id);
    expect(letter.attributes.errorCode).toBe('PROCESSING_ERROR_REASON_CLICK_NOT_FOUND');
    expect((typeof letter.body === 'string' ? JSON.parse(letter.body) : letter.body).eventId).toBe(id);

    const { code, stdout } = await cli(['status', id], dataDir);
    expect(code).toBe(0);
    expect(stdout).toMatch(/google-ads.*dead_lettered.*PROCESSING_ERROR_REASON_CLICK_NOT_FOUND/);

    // `quality` shows Google's verdict beside the relay's score: the request that succeeded (first test) and this one.
    const quality = await cli(['quality', '--since', '1h', '--destination', 'google-ads', '--json', '--offline'], dataDir);
    expect(quality.code).toBe(0);
    const [g] = JSON.parse(quality.stdout).destinations;
    const purchases = g.requests.byEvent.find((r: any) => r.eventName === 'Purchase');
    expect(purchases.failed).toBeGreaterThanOrEqual(1);
    expect(purchases.requests).toBe(purchases.pending + purchases.succeeded + purchases.partial + purchases.failed + purchases.unconfirmed);
    expect(g.requests.failureReasons).toContainEqual({ reason: 'PROCESSING_ERROR_REASON_CLICK_NOT_FOUND', count: expect.any(Number) });
    const text = await cli(['quality', '--since', '1h', '--destination', 'google-ads', '--offline'], dataDir);
    expect(text.stdout).toMatch(/EVENT\s+REQUESTS\s+EVENTS\s+PENDING\s+SUCCEEDED\s+PARTIAL\s+FAILED\s+UNCONFIRMED/);
    expect(text.stdout).toMatch(new RegExp(`Purchase\\s+${purchases.requests}\\s+${purchases.events}\\s+${purchases.pending}\\s+${purchases.succeeded}\\s+${purchases.partial}\\s+${purchases.failed}\\s`));
    expect(text.stdout).toMatch(/\d+\s+PROCESSING_ERROR_REASON_CLICK_NOT_FOUND/);
  });

  it('sends a conversion again when Google reports its click too recent (TOO_RECENT_CLICK) instead of dead-lettering it', async () => {
    let refusals = 0;
    google.refuseEventWhen((e) => e.adIdentifiers?.gclid === 'Cj0-dm-too-recent' && refusals++ === 0, 'PROCESSING_ERROR_REASON_TOO_RECENT_CLICK');
    const id = await purchase('Cj0-dm-too-recent');

    const final = await waitForRow(id, (r) => r.status === 'delivered' && typeof r.note === 'string' && eventsOf(id).length === 2, 'the second upload’s final status', 30_000);
    // First upload refused while processing (click too recent), second one accepted; same transaction ID.
    expect(eventsOf(id).map((k) => k.refusedFor ?? 'kept')).toEqual(['PROCESSING_ERROR_REASON_TOO_RECENT_CLICK', 'kept']);
    expect(final).toMatchObject({ status: 'delivered', attempts: 2, note: expect.stringContaining('SUCCESS') });
    expect(final.requestId).toBe(google.requests.filter((r) => r.path === '/v1/events:ingest').at(-1)!.response.requestId);
    expect((await relay.dlqMessages('google-ads')).filter((m) => m.attributes.conversionId === id)).toEqual([]);
  });

  it('restates a fully refunded purchase to 0 after it was delivered, and says in the ledger that it cannot retract', async () => {
    const id = await purchase('Cj0-dm-refunded');
    await waitForRow(id, (r) => r.status === 'delivered', 'the purchase delivered');
    const refundId = `re_dm_${id}`;
    const sqs = new SQSClient({ endpoint: relay.sqsUrl, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    // A Stripe charge.refunded as ingest maps it (hashed e-mail of the buyer, the original's order and event ID).
    const refund = {
      eventId: refundId,
      eventName: 'Refund',
      occurredAt: new Date().toISOString(),
      value: 49.99,
      currency: 'USD',
      orderId: id,
      actionSource: 'system_generated',
      user: { email: sha256('jane.doe+shop@gmail.com'), emailGoogle: sha256('janedoe+shop@gmail.com'), emailDataManager: sha256('janedoe@gmail.com') },
      clicks: {},
      consent: { marketing: true, adUserData: true, adPersonalization: false, analytics: true },
      adjustment: { kind: 'refund', originalOrderId: id, originalEventId: id, full: true, remainingValue: 0 },
      source: { name: 'stripe', eventId: `evt_refund_${id}`, eventType: 'charge.refunded' },
    };
    await relay.accepted(refund, ['google-ads']);
    await sqs.send(new SendMessageCommand({ QueueUrl: `${relay.sqsUrl}/000000000000/google-ads`, MessageBody: JSON.stringify(refund), MessageAttributes: { conversionId: { DataType: 'String', StringValue: refundId } } }));

    const refunded = await waitForRow(refundId, (r) => r.status === 'delivered', 'the refund delivered');
    expect(refunded.note).toMatch(/cannot retract a conversion.*restated the value to 0/);
    expect(google.adjustments().map((a) => [a.event.transactionId, a.event.conversionValue])).toEqual([[id, 0]]);
    expect(eventsOf(id)[0].restatedValue).toBe(0);
  });

  it('keeps raw personal data and OAuth secrets out of its logs and tables', async () => {
    const logs = relay.output.join('\n');
    const rows = JSON.stringify(await relay.ledger());
    for (const s of [OAUTH.clientSecret, OAUTH.refreshToken, 'ya29.dm-fake-', 'jane.doe+shop@gmail.com', 'janedoe@gmail.com', '4155550100']) {
      expect(logs.toLowerCase()).not.toContain(s.toLowerCase());
      expect(rows.toLowerCase()).not.toContain(s.toLowerCase());
    }
  });
});
