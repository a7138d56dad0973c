import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGa4Fake, type Ga4Fake } from '../fakes/ga4-server.ts';
import { startMetaFake, type MetaFake } from '../fakes/meta-server.ts';
import { startTikTokFake, tiktokError, type TikTokFake } from '../fakes/tiktok-server.ts';
import { sha256 } from '../support/factories.ts';
import {
  checkoutCompleted as paidCheckout,
  collectVisit,
  eventsWithId,
  postStripe as postStripeWebhook,
  requestsMentioning,
  useTempRelay,
  waitForEvents,
  waitForLedgerRow,
} from '../support/flows.ts';
import type { RelayProcess } from '../support/relay-process.ts';

/**
 * End to end through `npm start`'s runner (its own process) with fake Meta, TikTok and GA4 APIs that validate requests
 * as the platforms document: a TikTok ad click lands with GA's `_ga` and TikTok's `_ttp` cookies, Stripe reports the
 * payment, and each platform receives the conversion with the same event / transaction ID.
 */
const STRIPE_SECRET = 'whsec_e2e_tiktok_ga4';
const META = { pixelId: '1234567890123', accessToken: 'EAAB-e2e-meta-token' };
const TIKTOK = { pixelCode: 'C9Q2MJ3C77U4P674RPG0', accessToken: 'tt-e2e-access-token' };
const GA4 = { measurementId: 'G-E2ETEST01', apiSecret: 'ga4-e2e-api-secret' };
const GA_COOKIE = 'GA1.1.1180343295.1772450000';
const TTP_COOKIE = '2Qz0aBcDeFgHiJkLmNoPqRsT';
const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) conversion-relay-e2e';
const CUSTOMER = { email: 'Jane.Doe@Example.com', phone: '+1 (415) 555-0100', name: 'Jane Doe', address: { line1: '1 Market Street', line2: null, city: 'San Francisco', state: 'CA', postal_code: '94105', country: 'US' } };

/** A paid USD 49.99 checkout by CUSTOMER; `id` is its PaymentIntent, the purchase's event / transaction ID. */
const checkoutCompleted = (overrides: Record<string, unknown> = {}) => paidCheckout('ttga', 4999, CUSTOMER, overrides);

async function postStripe(relay: RelayProcess, payload: string) {
  expect((await postStripeWebhook(relay, payload, { secret: STRIPE_SECRET })).status).toBe(200);
}

async function land(relay: RelayProcess, url: string, cookie: string) {
  return (await collectVisit(relay, url, { userAgent: BROWSER_UA, cookie })).visitorId;
}

const ledgerRow = (relay: RelayProcess, id: string, destination: string, status: string) => waitForLedgerRow(relay, id, status, { destination, timeoutMs: 20_000 });

describe('Stripe purchase → Meta, TikTok and GA4 through the local runner', () => {
  let meta: MetaFake;
  let tiktok: TikTokFake;
  let ga4: Ga4Fake;
  const tiktokEventsFor = (id: string) => eventsWithId(tiktok.events(), id);
  const tiktokRequestsFor = (id: string) => requestsMentioning(tiktok.requests, id);

  beforeAll(async () => {
    [meta, tiktok, ga4] = await Promise.all([startMetaFake(META), startTikTokFake(TIKTOK), startGa4Fake(GA4)]);
  });
  afterAll(() => Promise.all([meta?.close(), tiktok?.close(), ga4?.close()]));
  const relay = useTempRelay('relay-ttga-', () => ({
    STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
    META_PIXEL_ID: META.pixelId,
    META_ACCESS_TOKEN: META.accessToken,
    META_API_BASE_URL: meta.baseUrl,
    TIKTOK_PIXEL_CODE: TIKTOK.pixelCode,
    TIKTOK_ACCESS_TOKEN: TIKTOK.accessToken,
    TIKTOK_API_BASE_URL: tiktok.baseUrl,
    GA4_MEASUREMENT_ID: GA4.measurementId,
    GA4_API_SECRET: GA4.apiSecret,
    GA4_API_BASE_URL: ga4.baseUrl,
    RELAY_RETRY_BASE_SECONDS: '1',
    RELAY_MAX_ATTEMPTS: '4',
  }));
  beforeEach(() => {
    meta.reset();
    tiktok.reset();
    ga4.reset();
  });

  it('says at start that all three platforms are live', () => {
    const banner = relay.output.join('\n');
    expect(banner).toMatch(/meta: live/);
    expect(banner).toMatch(/tiktok: live/);
    expect(banner).toMatch(/ga4: live/);
  });

  it('delivers one purchase to each platform with consistent IDs, the TikTok click and the GA client', async () => {
    const visitorId = await land(relay, 'https://shop.example.com/landing?ttclid=E.C.P.e2e-Click_42&utm_source=tiktok', `_ga=${GA_COOKIE}; _ttp=${TTP_COOKIE}`);
    const { id, payload } = checkoutCompleted({ client_reference_id: visitorId });
    await postStripe(relay, payload);

    const [tt] = await waitForEvents(relay, () => tiktok.events(), id, 20_000, 'the TikTok event');
    expect(tiktokEventsFor(id)).toHaveLength(1);
    expect(tiktok.accepted().find((a) => a.event.event_id === id)).toMatchObject({ pixelCode: TIKTOK.pixelCode, testEventCode: undefined });
    expect(tt).toMatchObject({
      event: 'Purchase',
      event_id: id,
      properties: { value: 49.99, currency: 'USD', order_id: id },
      page: { url: 'https://shop.example.com/landing?ttclid=E.C.P.e2e-Click_42&utm_source=tiktok' },
      limited_data_use: false,
      user: {
        ttclid: 'E.C.P.e2e-Click_42',
        ttp: TTP_COOKIE,
        email: sha256('jane.doe@example.com'),
        phone: sha256('+14155550100'), // TikTok: E.164 with '+'
        ip: '127.0.0.1',
        user_agent: BROWSER_UA,
      },
    });

    const hit = await relay.waitFor(() => ga4.hits().find((h) => h.event.params.transaction_id === id), 20_000, 'the GA4 purchase');
    expect(hit.clientId).toBe('1180343295.1772450000'); // from the _ga cookie
    expect(hit.event).toMatchObject({ name: 'purchase', params: { transaction_id: id, value: 49.99, currency: 'USD' } });
    expect(hit.body).toMatchObject({ ip_override: '127.0.0.1', consent: { ad_user_data: 'GRANTED' }, user_data: { sha256_email_address: [sha256('jane.doe@example.com')], sha256_phone_number: [sha256('+14155550100')] } });
    expect(ga4.dropped()).toEqual([]);

    await relay.waitFor(() => meta.events().some((e) => e.event_id === id), 20_000, 'the Meta event');

    const tiktokRow = await ledgerRow(relay, id, 'tiktok', 'delivered');
    expect(tiktokRow.signals).toEqual(expect.arrayContaining(['ttclid', 'ttp', 'email', 'phone', 'external_id', 'ip', 'user_agent']));
    const ga4Row = await ledgerRow(relay, id, 'ga4', 'delivered');
    expect(ga4Row.signals).toEqual(expect.arrayContaining(['client_id', 'ip_override', 'sha256_email_address', 'sha256_phone_number']));
  });

  it('retries TikTok’s rate limit (code 40100 under HTTP 200) and delivers once', async () => {
    tiktok.failNext(1, { body: tiktokError(40100, 'Too many requests. Please retry in some time.') });
    const { id, payload } = checkoutCompleted();
    await postStripe(relay, payload);

    await waitForEvents(relay, () => tiktok.events(), id, 20_000, 'delivery after the rate limit');
    expect(tiktokEventsFor(id)).toHaveLength(1);
    expect(tiktokRequestsFor(id).map((r) => r.response.code)).toEqual([40100, 0]);
    expect((await ledgerRow(relay, id, 'tiktok', 'delivered')).attempts).toBe(2);
  });

  it('dead-letters the one conversion TikTok refuses and delivers the others of the batch', async () => {
    const orders = [checkoutCompleted(), checkoutCompleted(), checkoutCompleted()];
    const bad = orders[1].id;
    tiktok.failWhen((e) => e.event_id === bad, { body: tiktokError(40002, `Invalid value for event_id ${bad}`) });
    await Promise.all(orders.map((o) => postStripe(relay, o.payload)));

    const letter = await relay.waitFor(async () => (await relay.dlqMessages('tiktok')).find((m) => m.attributes.conversionId === bad), 20_000, 'the TikTok DLQ message');
    expect(letter.attributes).toMatchObject({ destination: 'tiktok', errorCode: '40002', attempts: '1' });
    for (const good of [orders[0].id, orders[2].id]) {
      await ledgerRow(relay, good, 'tiktok', 'delivered');
      expect(tiktokEventsFor(good)).toHaveLength(1);
    }
    expect(tiktokEventsFor(bad)).toHaveLength(0);
    expect((await ledgerRow(relay, bad, 'tiktok', 'dead_lettered')).errorCode).toBe('40002');
    // GA4 and Meta are unaffected by TikTok's refusal.
    await ledgerRow(relay, bad, 'ga4', 'delivered');
  });

  it('keeps tokens and secrets out of logs and the ledger', async () => {
    const everything = relay.output.join('\n') + JSON.stringify(await relay.ledger());
    for (const secret of [TIKTOK.accessToken, GA4.apiSecret, META.accessToken]) expect(everything).not.toContain(secret);
    expect(everything.toLowerCase()).not.toContain('jane.doe@example.com');
  });
});

describe('without TikTok credentials, and GA4 in its test mode (GA4_VALIDATE)', () => {
  let ga4: Ga4Fake;
  beforeAll(async () => {
    ga4 = await startGa4Fake(GA4);
  });
  afterAll(() => ga4?.close());
  const relay = useTempRelay('relay-ttga-dry-', () => ({
    STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
    GA4_MEASUREMENT_ID: GA4.measurementId,
    GA4_API_SECRET: GA4.apiSecret,
    GA4_API_BASE_URL: ga4.baseUrl,
    GA4_VALIDATE: 'true',
  }));

  it('records the exact TikTok request it would have sent, and sends GA4 events to the validation server only', async () => {
    expect(relay.output.join('\n')).toMatch(/tiktok: dry-run \(set TIKTOK_PIXEL_CODE, TIKTOK_ACCESS_TOKEN/);
    const visitorId = await land(relay, 'https://shop.example.com/?ttclid=E.C.P.dry', `_ga=${GA_COOKIE}`);
    const { id, payload } = checkoutCompleted({ client_reference_id: visitorId });
    await postStripe(relay, payload);

    const row = await ledgerRow(relay, id, 'tiktok', 'dry_run');
    const request = JSON.parse(row.request);
    expect(request.url).toMatch(/\/open_api\/v1\.3\/event\/track\/$/);
    expect(request.body).toMatchObject({ event_source: 'web', event_source_id: '<TIKTOK_PIXEL_CODE>', data: [{ event: 'Purchase', event_id: id, user: { ttclid: 'E.C.P.dry' } }] });

    await ledgerRow(relay, id, 'ga4', 'delivered');
    expect(ga4.requests.map((r) => r.path)).toEqual(['/debug/mp/collect']);
    expect(ga4.requests[0].body).toMatchObject({ client_id: '1180343295.1772450000', validation_behavior: 'ENFORCE_RECOMMENDATIONS', events: [{ name: 'purchase' }] });
    expect(ga4.requests[0].response).toEqual({ validationMessages: [] });
    expect(ga4.hits()).toEqual([]);
  });
});
