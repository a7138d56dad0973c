import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGa4Fake, type Ga4Fake } from '../fakes/ga4-server.ts';
import { startGoogleAdsFake, type GoogleAdsFake } from '../fakes/google-ads-server.ts';
import { startMetaFake, type MetaFake } from '../fakes/meta-server.ts';
import { startTikTokFake, type TikTokFake } from '../fakes/tiktok-server.ts';
import { sha256, signedStripeRequest, stripeCheckoutSession, stripeEvent } from '../support/factories.ts';
import { coreDestinationEnv } from '../support/flows.ts';
import { CONVERSION_API_PLATFORMS, clickFor, startConversionApiPlatforms, type StartedPlatforms } from '../support/platforms.ts';
import { startRelay, type RelayProcess } from '../support/relay-process.ts';
import { stripeCharge } from '../support/stripe-objects.ts';

/**
 * Issue 4's and issue 12's "done when", end to end through `npm start`'s runner with every platform configured against
 * its fake: one visitor arrives from an ad with every click ID and browser cookie, Stripe reports the checkout, and
 * Meta, TikTok, Google Ads, GA4 and every platform of test/support/platforms.ts (LinkedIn, Pinterest, Snapchat,
 * Reddit, …) each receive the purchase under the same ID with every signal they accept; a redelivery changes nothing;
 * a full refund retracts the Google Ads conversion and reaches GA4 as a refund, and is recorded as skipped with the
 * reason at the platforms that cannot retract; a visitor who allowed analytics only reaches GA4 alone, anonymously.
 */
const STRIPE_SECRET = 'whsec_e2e_all_platforms';
const META = { pixelId: '1234567890123', accessToken: 'EAAB-e2e-all-meta-token' };
const TIKTOK = { pixelCode: 'C9Q2MJ3C77U4P674RPG1', accessToken: 'tt-e2e-all-access-token' };
const GA4 = { measurementId: 'G-E2EALL01', apiSecret: 'ga4-e2e-all-api-secret' };
const GOOGLE = { customerId: '1234567890', clientId: 'e2e-all.apps.googleusercontent.com', clientSecret: 'GOCSPX-e2e-all-secret', refreshToken: '1//e2e-all-refresh' };
const PURCHASE_ACTION = `customers/${GOOGLE.customerId}/conversionActions/111`;
const GA_COOKIE = 'GA1.1.1180343295.1772450000';
const GA_CLIENT_ID = '1180343295.1772450000';
const TTP_COOKIE = '2Qz0aBcDeFgHiJkLmNoPqRsT';
const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) conversion-relay-e2e-all-platforms';
/** The four with hand-written checks below, then every platform of the shared table. */
const FIRST_FOUR = ['meta', 'tiktok', 'google-ads', 'ga4'] as const;
const DESTINATIONS = [...FIRST_FOUR, ...CONVERSION_API_PLATFORMS.map((p) => p.name)];
const CLICK_RUN = Date.now().toString(36);
/** The click ID a landing carries for a table platform: its parameter and the landing's tag. */
const tableClick = (tag: string) => (param: string) => `${param.replace(/_/g, '')}-${CLICK_RUN}-${tag}`;

let counter = 0;
const unique = (prefix: string) => `${prefix}_${Date.now()}_${++counter}`;

/** A paid one-off Checkout; the purchase is keyed on its PaymentIntent. */
function checkoutCompleted(paymentIntent: string, visitorId: string, customer: { id: string; email: string; phone: string; name: string }) {
  const session = stripeCheckoutSession({
    id: unique('cs_test_all'),
    payment_intent: paymentIntent,
    mode: 'payment',
    status: 'complete',
    payment_status: 'paid',
    amount_total: 4999,
    amount_subtotal: 4999,
    currency: 'usd',
    client_reference_id: visitorId,
    customer: customer.id,
    customer_details: {
      email: customer.email,
      phone: customer.phone,
      name: customer.name,
      address: { line1: '1 Market Street', line2: null, city: 'San Francisco', state: 'CA', postal_code: '94105', country: 'US' },
    },
  });
  return stripeEvent('checkout.session.completed', session, { id: `evt_${session.id}`, created: Math.floor(Date.now() / 1000) });
}

/** Stripe's report of a full refund of the payment; Checkout copies the customer's e-mail into the billing details. */
function chargeRefunded(paymentIntent: string, customer: { id: string; email: string }) {
  const charge = stripeCharge({
    id: `ch_${paymentIntent}`,
    payment_intent: paymentIntent,
    customer: customer.id,
    amount: 4999,
    amount_captured: 4999,
    amount_refunded: 4999,
    refunded: true,
    currency: 'usd',
    billing_details: { email: customer.email, phone: null, name: null, address: null, tax_id: null },
  });
  return stripeEvent('charge.refunded', charge, { id: `evt_refund_${paymentIntent}`, created: Math.floor(Date.now() / 1000) });
}

describe('Stripe purchase → Meta, TikTok, Google Ads and GA4 through the local runner', () => {
  let meta: MetaFake;
  let tiktok: TikTokFake;
  let google: GoogleAdsFake;
  let ga4: Ga4Fake;
  let platforms: StartedPlatforms;
  let relay: RelayProcess;
  let dataDir: string;

  /** Every platform's copy of one purchase, by the ID each platform keys it on. */
  const received = (id: string) => ({
    meta: meta.events().filter((e) => e.event_id === id),
    tiktok: tiktok.events().filter((e) => e.event_id === id),
    googleAds: google.conversions().filter((c) => c.orderId === id),
    ga4: ga4.hits().filter((h) => h.event.name === 'purchase' && h.event.params.transaction_id === id),
    ...Object.fromEntries(platforms.all().map((p) => [p.platform.name, p.fake.events().filter((e) => p.eventId(e) === id)])),
  });
  const counts = (r: ReturnType<typeof received>) => DESTINATIONS.map((d) => (r as Record<string, unknown[]>)[d === 'google-ads' ? 'googleAds' : d].length);

  async function postStripe(event: Stripe.Event) {
    const req = signedStripeRequest(event, STRIPE_SECRET);
    const res = await fetch(`${relay.url}${req.path}`, { method: 'POST', headers: req.headers as Record<string, string>, body: req.body.toString('utf8') });
    expect(res.status).toBe(200);
    return (await res.json()) as { status: string; conversions: { eventId: string }[] };
  }

  async function land(url: string, extra: Record<string, unknown> = {}) {
    const res = await fetch(`${relay.url}/collect`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': BROWSER_UA, cookie: [`_ga=${GA_COOKIE}; _ttp=${TTP_COOKIE}`, platforms.cookieHeader()].filter(Boolean).join('; ') },
      body: JSON.stringify({ url, referrer: 'https://www.google.com/', ...extra }),
    });
    expect(res.status).toBe(200);
    const cookies = Object.fromEntries(res.headers.getSetCookie().map((c) => c.split(';')[0].split('=') as [string, string]));
    return { visitorId: ((await res.json()) as { visitorId: string }).visitorId, cookies };
  }

  /** The conversion's ledger rows of all four destinations, once each has reached a final status. */
  const settledRows = (eventId: string, what: string) =>
    relay.waitFor(async () => {
      const rows = await relay.ledgerFor(eventId);
      const byDestination = Object.fromEntries(DESTINATIONS.map((d) => [d, rows.filter((r) => r.sk === `D#${d}`)]));
      const settled = DESTINATIONS.every((d) => byDestination[d].length === 1 && ['delivered', 'skipped', 'dead_lettered', 'dry_run'].includes(byDestination[d][0].status));
      return settled && (byDestination as Record<string, Record<string, any>[]>);
    }, 60_000, what);

  beforeAll(async () => {
    [meta, tiktok, google, ga4] = await Promise.all([
      startMetaFake(META),
      startTikTokFake(TIKTOK),
      startGoogleAdsFake({ ...GOOGLE, conversionActions: ['111'] }),
      startGa4Fake(GA4),
    ]);
    platforms = await startConversionApiPlatforms();
    dataDir = mkdtempSync(path.join(tmpdir(), 'relay-e2e-all-'));
    relay = await startRelay(
      {
        STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
        ...coreDestinationEnv({ meta: { creds: META, baseUrl: meta.baseUrl }, tiktok: { creds: TIKTOK, baseUrl: tiktok.baseUrl }, google: { creds: GOOGLE, baseUrl: google.baseUrl, tokenUrl: google.tokenUrl }, ga4: { creds: GA4, baseUrl: ga4.baseUrl } }),
        ...platforms.env,
        RELAY_RETRY_BASE_SECONDS: '1',
        RELAY_MAX_ATTEMPTS: '6',
      },
      dataDir,
    );
  });
  afterAll(async () => {
    await relay?.stop();
    await Promise.all([meta?.close(), tiktok?.close(), google?.close(), ga4?.close(), platforms?.close()]);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('says at start that every platform is live', () => {
    const banner = relay.output.join('\n');
    for (const d of DESTINATIONS) expect(banner).toMatch(new RegExp(`${d}: live`));
  });

  // One purchase runs through the next three tests: the purchase, its redelivery, its refund.
  const buyer = { id: 'cus_e2e_all_buyer', email: 'Jane.Doe@Example.com', phone: '+1 (415) 555-0100', name: 'Jane Doe' };
  const orderId = unique('pi_e2e_all');
  let purchase: Stripe.Event;

  it('delivers the purchase to every platform under one ID, each with its click ID and every identifier it accepts', async () => {
    const landingUrl = `https://shop.example.com/landing?fbclid=IwAR-all_Click-1&gclid=Cj0KCQiA-all_gclid-1&ttclid=E.C.P.all-Click_1&${platforms.clickQuery(tableClick('1'))}&utm_source=ads`;
    const before = Date.now();
    const { visitorId, cookies } = await land(landingUrl);
    const after = Date.now();
    // Meta's fbc carries the click's time: the landing's.
    const fbc = /^fb\.1\.(\d{13})\.IwAR-all_Click-1$/.exec(cookies._fbc);
    expect(fbc).not.toBeNull();
    expect(Number(fbc![1])).toBeGreaterThanOrEqual(before);
    expect(Number(fbc![1])).toBeLessThanOrEqual(after);

    purchase = checkoutCompleted(orderId, visitorId, buyer);
    expect(await postStripe(purchase)).toMatchObject({ status: 'accepted', conversions: [{ eventId: orderId }] });

    const got = await relay.waitFor(() => {
      const r = received(orderId);
      return counts(r).every((n) => n > 0) ? r : undefined;
    }, 60_000, 'the purchase at every platform');
    expect(counts(got)).toEqual(DESTINATIONS.map(() => 1));

    const email = sha256('jane.doe@example.com');
    const externalId = sha256(buyer.id);
    expect(got.meta[0]).toMatchObject({
      event_name: 'Purchase',
      event_id: orderId,
      action_source: 'website',
      event_source_url: landingUrl,
      custom_data: { value: 49.99, currency: 'USD', order_id: orderId },
      user_data: {
        fbc: cookies._fbc,
        fbp: cookies._fbp,
        client_ip_address: '127.0.0.1',
        client_user_agent: BROWSER_UA,
        em: [email],
        ph: [sha256('14155550100')],
        fn: [sha256('jane')],
        ln: [sha256('doe')],
        ct: [sha256('sanfrancisco')],
        st: [sha256('ca')],
        zp: [sha256('94105')],
        country: [sha256('us')],
        external_id: [externalId],
      },
    });
    expect(got.tiktok[0]).toMatchObject({
      event: 'Purchase',
      event_id: orderId,
      properties: { value: 49.99, currency: 'USD', order_id: orderId },
      limited_data_use: false,
      user: { ttclid: 'E.C.P.all-Click_1', ttp: TTP_COOKIE, email, phone: sha256('+14155550100'), external_id: externalId, ip: '127.0.0.1', user_agent: BROWSER_UA },
    });
    expect(got.googleAds[0]).toMatchObject({
      gclid: 'Cj0KCQiA-all_gclid-1',
      conversionAction: PURCHASE_ACTION,
      conversionValue: 49.99,
      currencyCode: 'USD',
      orderId,
      consent: { adUserData: 'GRANTED', adPersonalization: 'GRANTED' },
      userIdentifiers: [
        { userIdentifierSource: 'FIRST_PARTY', hashedEmail: email },
        { userIdentifierSource: 'FIRST_PARTY', hashedPhoneNumber: sha256('+14155550100') },
      ],
    });
    const [hit] = got.ga4;
    expect(hit.clientId).toBe(GA_CLIENT_ID);
    expect(hit.userId).toBe(externalId);
    expect(hit.event).toMatchObject({ name: 'purchase', params: { transaction_id: orderId, value: 49.99, currency: 'USD' } });
    expect(hit.body).toMatchObject({
      ip_override: '127.0.0.1',
      consent: { ad_user_data: 'GRANTED', ad_personalization: 'GRANTED' },
      user_data: {
        sha256_email_address: [email],
        sha256_phone_number: [sha256('+14155550100')],
        address: [{ sha256_first_name: sha256('jane'), sha256_last_name: sha256('doe'), country: 'us' }],
      },
    });
    expect(ga4.dropped()).toEqual([]);
    // Every table platform: its click ID from the same landing, and the buyer's e-mail hashed in its own form.
    for (const p of platforms.all()) {
      const [event] = (got as Record<string, any[]>)[p.platform.name];
      expect(p.clickId(event), `${p.platform.name} click ID`).toBe(clickFor(p.platform, tableClick('1')));
      expect(p.email(event), `${p.platform.name} e-mail`).toBe(sha256(p.platform.emailForm(buyer.email)!));
    }

    // The ledger: one delivered row per destination, listing the signals sent there.
    const rows = await settledRows(orderId, 'the purchase’s ledger rows');
    for (const d of DESTINATIONS) expect(rows[d][0]).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(rows.meta[0].signals).toEqual(expect.arrayContaining(['fbc', 'fbp', 'client_ip_address', 'client_user_agent', 'em', 'ph', 'fn', 'ln', 'ct', 'st', 'zp', 'country', 'external_id']));
    expect(rows.tiktok[0].signals).toEqual(expect.arrayContaining(['ttclid', 'ttp', 'email', 'phone', 'external_id', 'ip', 'user_agent']));
    expect(rows['google-ads'][0].signals).toEqual(['gclid', 'hashedEmail', 'hashedPhoneNumber', 'orderId']);
    expect(rows.ga4[0].signals).toEqual(expect.arrayContaining(['client_id', 'user_id', 'ip_override', 'sha256_email_address', 'sha256_phone_number', 'address.sha256_first_name']));
  });

  it('turns the same webhook delivered again into no second event anywhere', async () => {
    expect(purchase).toBeDefined();
    expect(await postStripe(purchase)).toMatchObject({ status: 'duplicate', conversions: [{ eventId: orderId }] });
    // Nothing was queued for it: every queue drains, and each platform still holds the one event.
    await relay.waitFor(async () => (await Promise.all(DESTINATIONS.map((d) => relay.queueDepth(d)))).every((n) => n === 0), 30_000, 'the queues to drain');
    expect(counts(received(orderId))).toEqual(DESTINATIONS.map(() => 1));
    const rows = await relay.ledgerFor(orderId);
    for (const d of DESTINATIONS) expect(rows.filter((row) => row.sk === `D#${d}`)).toHaveLength(1);
  });

  it('retracts the Google Ads conversion on a full refund, reports it to GA4, and records why Meta and TikTok got nothing', async () => {
    expect(purchase).toBeDefined();
    const refund = chargeRefunded(orderId, buyer);
    const { conversions } = await postStripe(refund);
    const refundId = conversions[0].eventId;
    expect(refundId).not.toBe(orderId);

    const rows = await settledRows(refundId, 'the refund’s ledger rows');
    expect(rows['google-ads'][0]).toMatchObject({ status: 'delivered', signals: ['orderId'] });
    expect(google.adjustments().filter((a) => a.orderId === orderId)).toEqual([
      { conversionAction: PURCHASE_ACTION, adjustmentType: 'RETRACTION', adjustmentDateTime: expect.stringMatching(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/), orderId },
    ]);
    expect(google.uploads().find((u) => u.conversion.orderId === orderId)?.retracted).toBe(true);
    const uploadAt = google.requests.find((r) => r.path.endsWith(':uploadClickConversions') && JSON.stringify(r.body).includes(orderId))!.at;
    const retractAt = google.requests.find((r) => r.path.endsWith(':uploadConversionAdjustments') && JSON.stringify(r.body).includes(orderId))!.at;
    expect(retractAt).toBeGreaterThan(uploadAt);

    expect(rows.meta[0]).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/Meta has no way to retract/) });
    expect(rows.tiktok[0]).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/TikTok has no way to retract/) });
    expect(meta.events().filter((e) => e.event_id === refundId)).toEqual([]);
    expect(tiktok.events().filter((e) => e.event_id === refundId)).toEqual([]);
    for (const p of platforms.all()) {
      expect(rows[p.platform.name][0], p.platform.name).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/has no way to retract a conversion: the refund is recorded, not sent/) });
      expect(p.fake.events().filter((e) => p.eventId(e) === refundId)).toEqual([]);
    }

    expect(rows.ga4[0].status).toBe('delivered');
    const refunds = ga4.hits().filter((h) => h.event.name === 'refund' && h.event.params.transaction_id === orderId);
    expect(refunds).toHaveLength(1);
    expect(refunds[0].clientId).toBe(GA_CLIENT_ID);
    expect(refunds[0].event.params).toMatchObject({ transaction_id: orderId, value: 49.99, currency: 'USD' });
  });

  it('sends an analytics-only visitor’s purchase to GA4 alone, without identifiers, and records the consent reasons', async () => {
    const shopper = { id: 'cus_e2e_all_analytics', email: 'only.analytics@example.com', phone: '+1 (415) 555-0199', name: 'Ana Lytics' };
    const { visitorId } = await land(`https://shop.example.com/landing?fbclid=IwAR-all_Click-2&gclid=Cj0-all_gclid-2&ttclid=E.C.P.all-Click_2&${platforms.clickQuery(tableClick('2'))}`, {
      consent: { marketing: false, analytics: true },
    });
    const id = unique('pi_e2e_all_analytics');
    expect(await postStripe(checkoutCompleted(id, visitorId, shopper))).toMatchObject({ status: 'accepted', conversions: [{ eventId: id }] });

    const rows = await settledRows(id, 'the analytics-only purchase’s ledger rows');
    expect(rows.ga4[0].status).toBe('delivered');
    for (const d of DESTINATIONS.filter((name) => name !== 'ga4')) {
      expect(rows[d][0]).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/^consent: analytics only/) });
    }
    const r = received(id);
    expect(counts(r)).toEqual(DESTINATIONS.map((d) => (d === 'ga4' ? 1 : 0)));
    const [hit] = r.ga4;
    expect(hit.clientId).toBe(GA_CLIENT_ID);
    expect(hit.body).not.toHaveProperty('user_id');
    expect(hit.body).not.toHaveProperty('user_data');
    expect(hit.body).not.toHaveProperty('ip_override');
    expect(hit.body.consent).toEqual({ ad_user_data: 'DENIED', ad_personalization: 'DENIED' });
    expect(rows.ga4[0].signals).toEqual(['client_id']);
  });

  it('keeps tokens, secrets and raw personal data out of its logs and ledger', async () => {
    const everything = (relay.output.join('\n') + JSON.stringify(await relay.ledger())).toLowerCase();
    for (const secret of [META.accessToken, TIKTOK.accessToken, GA4.apiSecret, GOOGLE.clientSecret, GOOGLE.refreshToken, STRIPE_SECRET, 'ya29.fake-', ...platforms.secrets]) {
      expect(everything).not.toContain(secret.toLowerCase());
    }
    for (const raw of ['jane.doe@example.com', 'only.analytics@example.com', '4155550100', '4155550199']) expect(everything).not.toContain(raw);
  });
});
