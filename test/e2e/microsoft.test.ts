import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startMicrosoftFake, uetValidationError, type MicrosoftFake } from '../fakes/microsoft-server.ts';
import { sha256 } from '../support/factories.ts';
import { checkoutCompleted as paidCheckout, collectVisit, postStripe as postStripeWebhook, startTempRelay, stripeEventPayload, useTempRelay, waitForLedgerRow } from '../support/flows.ts';
import { stripeCharge } from '../support/stripe-objects.ts';
import type { RelayProcess } from '../support/relay-process.ts';

/**
 * Microsoft Advertising end to end through `npm start`'s runner: a Microsoft ad click (msclkid) lands with UET's
 * `_uetvid` cookie, Stripe reports the payment, and the UET Conversions API fake receives one custom `purchase` event
 * with every identifier the relay has (Microsoft's e-mail form, E.164 phone, msclkid, UET visitor ID, external ID, IP,
 * user agent); an event Microsoft refuses lands in the DLQ with Microsoft's reason while the next one is delivered;
 * without credentials the exact request is recorded (dry-run); half a configuration stops the relay, naming what is
 * missing. With MICROSOFT_UPLOAD_API=offline the purchase goes up as an offline conversion (OAuth refresh, developer
 * token) and Stripe's refund retracts it.
 */
const STRIPE_SECRET = 'whsec_e2e_microsoft';
const TAG_ID = '187012345';
const CAPI_TOKEN = 'uet-e2e-token';
const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) conversion-relay-e2e-microsoft';
const UETVID = 'b171a9b06ce011ecafcd1b209be8601b';
const CUSTOMER = { email: 'Jane.Doe+shop@Example.com', phone: '+1 (415) 555-0100', name: 'Jane Doe' };

let clicks = 0;
/** A fresh Microsoft click ID (32 hex digits, as auto-tagging appends it). */
const newMsclkid = () => `${Date.now().toString(16).padStart(16, '0')}${(++clicks).toString(16).padStart(16, '0')}`.slice(-32);

async function purchase(relay: RelayProcess, msclkid: string) {
  const { visitorId } = await collectVisit(relay, `https://shop.example.com/landing?msclkid=${msclkid}&utm_source=bing`, { userAgent: BROWSER_UA, cookie: `_uetvid=${UETVID}` });
  const { id, payload } = paidCheckout('ms', 4999, CUSTOMER, { client_reference_id: visitorId });
  expect((await postStripeWebhook(relay, payload, { secret: STRIPE_SECRET })).status).toBe(200);
  return { id, visitorId };
}

describe('Stripe purchase → Microsoft UET Conversions API through the local runner', () => {
  let fake: MicrosoftFake;
  beforeAll(async () => {
    fake = await startMicrosoftFake({ tagId: TAG_ID, capiToken: CAPI_TOKEN });
  });
  afterAll(() => fake?.close());
  const relay = useTempRelay('relay-e2e-ms-', () => ({
    STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
    MICROSOFT_UET_TAG_ID: TAG_ID,
    MICROSOFT_CAPI_TOKEN: CAPI_TOKEN,
    MICROSOFT_CAPI_BASE_URL: fake.baseUrl,
    RELAY_RETRY_BASE_SECONDS: '1',
    RELAY_MAX_ATTEMPTS: '4',
  }));
  beforeEach(() => fake.reset());

  it('delivers the purchase with every Microsoft signal under the order’s event ID', async () => {
    expect(relay.output.join('\n')).toMatch(/microsoft: live/);
    const msclkid = newMsclkid();
    const { id, visitorId } = await purchase(relay, msclkid);

    const event = await relay.waitFor(() => fake.events().find((e) => e.eventId === id), 30_000, 'the purchase at Microsoft');
    expect(event).toMatchObject({
      eventType: 'custom',
      eventName: 'purchase',
      adStorageConsent: 'G',
      eventSourceUrl: `https://shop.example.com/landing?msclkid=${msclkid}&utm_source=bing`,
      customData: { value: 49.99, currency: 'USD', transactionId: id, pageType: 'purchase', ecommTotalValue: 49.99 },
    });
    expect(String(event.eventTime)).toHaveLength(10);
    expect(event.userData).toEqual({
      msclkid,
      em: sha256('janedoe@example.com'), // Microsoft: dots and +alias dropped from the local part, any domain
      ph: sha256('+14155550100'), // E.164 with '+'
      anonymousId: UETVID,
      externalId: sha256(visitorId),
      clientIpAddress: '127.0.0.1',
      clientUserAgent: BROWSER_UA,
    });
    const [request] = fake.requests().filter((r) => JSON.stringify(r.body).includes(id));
    expect(request.headers.authorization).toBe(`Bearer ${CAPI_TOKEN}`);
    expect(request.body).toMatchObject({ continueOnValidationError: false, dataProvider: 'conversion-relay' });
    const row = await waitForLedgerRow(relay, id, 'delivered', { destination: 'microsoft', timeoutMs: 15_000 });
    expect(JSON.stringify(row)).not.toContain('janedoe');
  });

  it('dead-letters an event Microsoft refuses, with its reason, and still delivers the next one', async () => {
    const badClick = newMsclkid();
    fake.failWhen((e) => e.userData?.msclkid === badClick, { status: 400, body: uetValidationError(0, 'eventName', "'eventName' does not match a goal of this tag.", 'InvalidEventName') });
    const bad = await purchase(relay, badClick);

    const dlq = await relay.waitFor(async () => (await relay.dlqMessages('microsoft')).find((m) => JSON.stringify(m.body).includes(bad.id)), 40_000, 'the refused event in the Microsoft DLQ');
    expect(dlq.attributes).toMatchObject({ destination: 'microsoft', errorCode: 'InvalidEventName' });
    expect(dlq.attributes.errorMessage).toMatch(/data\[0\]\.eventName/);

    const good = await purchase(relay, newMsclkid());
    await relay.waitFor(() => fake.events().find((e) => e.eventId === good.id), 30_000, 'the next purchase at Microsoft');
    expect(fake.events().some((e) => e.eventId === bad.id)).toBe(false);
  });
});

describe('Microsoft without credentials, and with half of them', () => {
  const relay = useTempRelay('relay-e2e-ms-dry-', () => ({ STRIPE_WEBHOOK_SECRET: STRIPE_SECRET, MICROSOFT_CAPI_BASE_URL: 'http://127.0.0.1:9' }));

  it('dry-run: says so at start and records the exact UET request, with placeholders for the tag and token', async () => {
    expect(relay.output.join('\n')).toMatch(/microsoft: dry-run \(set MICROSOFT_UET_TAG_ID, MICROSOFT_CAPI_TOKEN to send\)/);
    const { id } = await purchase(relay, newMsclkid());
    const row = await waitForLedgerRow(relay, id, 'dry_run', { destination: 'microsoft', timeoutMs: 20_000 });
    const request = JSON.parse(row.request);
    expect(request.url).toBe('https://capi.uet.microsoft.com/v1/<MICROSOFT_UET_TAG_ID>/events');
    expect(request.headers.authorization).toBe('Bearer <MICROSOFT_CAPI_TOKEN>');
    expect(request.body.data[0]).toMatchObject({ eventId: id, eventName: 'purchase', userData: { em: sha256('janedoe@example.com'), anonymousId: UETVID } });
  });

  it('refuses to start when only part of a path is configured, naming what is missing', async () => {
    await expect(startTempRelay('relay-e2e-ms-half-', { STRIPE_WEBHOOK_SECRET: STRIPE_SECRET, MICROSOFT_UET_TAG_ID: TAG_ID })).rejects.toThrow(
      /Microsoft Advertising \(the UET Conversions API\) is configured only in part: MICROSOFT_CAPI_TOKEN is missing/,
    );
  });
});

describe('Microsoft offline conversions (MICROSOFT_UPLOAD_API=offline) through the local runner', () => {
  const OFFLINE = { developerToken: 'dev-e2e', customerId: '1234567', accountId: '7654321', clientId: 'app-e2e', clientSecret: 'secret-e2e', refreshToken: 'refresh-e2e', goals: ['Offline purchase'] };
  let fake: MicrosoftFake;
  beforeAll(async () => {
    fake = await startMicrosoftFake({ tagId: TAG_ID, capiToken: CAPI_TOKEN, offline: OFFLINE });
  });
  afterAll(() => fake?.close());
  const relay = useTempRelay('relay-e2e-ms-offline-', () => ({
    STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
    MICROSOFT_UPLOAD_API: 'offline',
    MICROSOFT_DEVELOPER_TOKEN: OFFLINE.developerToken,
    MICROSOFT_CUSTOMER_ID: OFFLINE.customerId,
    MICROSOFT_ACCOUNT_ID: OFFLINE.accountId,
    MICROSOFT_CLIENT_ID: OFFLINE.clientId,
    MICROSOFT_CLIENT_SECRET: OFFLINE.clientSecret,
    MICROSOFT_REFRESH_TOKEN: OFFLINE.refreshToken,
    MICROSOFT_CONVERSION_GOALS: 'Purchase=Offline purchase',
    MICROSOFT_CAMPAIGN_API_BASE_URL: fake.baseUrl,
    MICROSOFT_OAUTH_TOKEN_URL: fake.tokenUrl,
    RELAY_RETRY_BASE_SECONDS: '1',
    RELAY_MAX_ATTEMPTS: '4',
  }));

  it('uploads the purchase as an offline conversion, then retracts it when Stripe reports the refund', async () => {
    const msclkid = newMsclkid();
    const { id } = await purchase(relay, msclkid);
    const upload = await relay.waitFor(() => fake.offlineRows().find((r) => r.operation === 'OfflineConversions' && r.MicrosoftClickId === msclkid), 30_000, 'the offline conversion');
    expect(upload).toMatchObject({ ConversionName: 'Offline purchase', ConversionValue: 49.99, ConversionCurrencyCode: 'USD', HashedEmailAddress: sha256('janedoe@example.com'), HashedPhoneNumber: sha256('+14155550100') });
    expect(fake.tokenRequests()[0]).toMatchObject({ grant_type: 'refresh_token', client_id: OFFLINE.clientId, client_secret: OFFLINE.clientSecret, scope: 'https://ads.microsoft.com/msads.manage offline_access' });
    await waitForLedgerRow(relay, id, 'delivered', { destination: 'microsoft', timeoutMs: 15_000 });

    const charge = stripeCharge({
      id: `ch_${id}`,
      payment_intent: id,
      amount: 4999,
      amount_captured: 4999,
      amount_refunded: 4999,
      refunded: true,
      currency: 'usd',
      billing_details: { email: CUSTOMER.email, phone: null, name: null, address: null, tax_id: null },
    });
    expect((await postStripeWebhook(relay, stripeEventPayload('charge.refunded', charge, `evt_refund_${id}`), { secret: STRIPE_SECRET })).status).toBe(200);
    const retraction = await relay.waitFor(() => fake.offlineRows().find((r) => r.operation === 'OfflineConversionAdjustments' && r.MicrosoftClickId === msclkid), 30_000, 'the retraction');
    expect(retraction).toMatchObject({ AdjustmentType: 'Retract', ConversionName: 'Offline purchase', ConversionTime: upload.ConversionTime });
  });
});
