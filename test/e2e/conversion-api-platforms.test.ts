import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../support/factories.ts';
import { checkoutCompleted, collectVisit, postStripe, useTempRelay } from '../support/flows.ts';
import { CONVERSION_API_PLATFORMS, clickFor, startConversionApiPlatforms, type StartedPlatforms } from '../support/platforms.ts';

/**
 * Issue 12 end to end through `npm start`'s runner with every platform of test/support/platforms.ts (LinkedIn,
 * Pinterest, Snapchat, Reddit, …) configured against its fake: a landing with each one's click ID (and its pixel's
 * cookies) and one Stripe purchase reach all of them under one event ID with their click IDs and the hashed e-mail in
 * each one's form; an event every platform refuses lands in each platform's DLQ with that platform's reason, while a
 * platform that took it keeps it.
 */
const STRIPE_SECRET = 'whsec_e2e_conversion_api_platforms';
const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) conversion-relay-e2e-conversion-api';
const BUYER = { email: 'Jane.Doe+shop@Example.com', phone: '+1 (415) 555-0100', name: 'Jane Doe' };

describe('Stripe purchase → every Conversions-API platform through the local runner', () => {
  let platforms: StartedPlatforms;
  beforeAll(async () => {
    platforms = await startConversionApiPlatforms();
  });
  afterAll(async () => platforms?.close());
  const relay = useTempRelay('relay-e2e-capi-', () => ({ STRIPE_WEBHOOK_SECRET: STRIPE_SECRET, ...platforms.env, RELAY_RETRY_BASE_SECONDS: '1', RELAY_MAX_ATTEMPTS: '4' }));

  let landings = 0;
  /** Each platform's click ID on one landing: its parameter name and the landing's number. */
  const run = Date.now().toString(36);
  const clickValue = (landing: number) => (param: string) => `${param.replace(/_/g, '')}-${run}-${landing}`;
  /** A visitor lands with every platform's click ID and cookies, then pays: answers the order ID and the click IDs. */
  async function purchase(beforeWebhook: (orderId: string) => void = () => {}) {
    const clicks = clickValue(++landings);
    const { visitorId } = await collectVisit(relay, `https://shop.example.com/landing?${platforms.clickQuery(clicks)}`, { userAgent: BROWSER_UA, cookie: platforms.cookieHeader() });
    const checkout = checkoutCompleted('e2e_capi', 4999, BUYER, { customer: 'cus_e2e_capi', client_reference_id: visitorId });
    beforeWebhook(checkout.id);
    expect((await postStripe(relay, checkout.payload, { secret: STRIPE_SECRET })).status).toBe(200);
    return { orderId: checkout.id, clicks };
  }

  it('says at start that each platform is live', () => {
    for (const p of CONVERSION_API_PLATFORMS) expect(relay.output.join('\n')).toMatch(new RegExp(`${p.name}: live`));
  });

  it('delivers the purchase to every platform under one event ID, each with its click ID and its form of the hashed e-mail', async () => {
    const { orderId, clicks } = await purchase();
    const got = await relay.waitFor(() => {
      const byName = platforms.all().map((p) => [p.platform.name, p.fake.events().filter((e) => p.eventId(e) === orderId)] as const);
      return byName.every(([, events]) => events.length > 0) && Object.fromEntries(byName);
    }, 60_000, 'the purchase at every platform');

    for (const p of platforms.all()) {
      const [event] = got[p.platform.name];
      expect(got[p.platform.name], p.platform.name).toHaveLength(1);
      expect(p.clickId(event), `${p.platform.name} click ID`).toBe(clickFor(p.platform, clicks));
      expect(p.email(event), `${p.platform.name} e-mail`).toBe(sha256(p.platform.emailForm(BUYER.email)!));
      await relay.waitFor(async () => (await relay.ledgerFor(orderId, p.platform.name)).some((r) => r.status === 'delivered'), 30_000, `${p.platform.name} delivered in the ledger`);
    }
    // Each platform's own details: LinkedIn's rule URN and string amount, Pinterest's checkout and string value,
    // Snapchat's pixel cookie and seconds; Reddit's pixel cookie, WEBSITE, ms and value.
    expect(got.linkedin[0]).toMatchObject({ conversion: 'urn:lla:llaPartnerConversion:104012', conversionValue: { currencyCode: 'USD', amount: '49.99' } });
    expect(got.pinterest[0]).toMatchObject({ event_name: 'checkout', custom_data: { value: '49.99' }, user_data: { ph: [sha256('14155550100')] } });
    expect(got.snapchat[0]).toMatchObject({ event_name: 'PURCHASE', custom_data: { value: 49.99 }, user_data: { ph: [sha256('14155550100')] } });
    expect(got.snapchat[0].user_data).toMatchObject({ sc_cookie1: CONVERSION_API_PLATFORMS.find((p) => p.name === 'snapchat')!.cookies!._scid, client_user_agent: BROWSER_UA });
    expect(String(got.snapchat[0].event_time)).toHaveLength(10);
    expect(got.reddit[0]).toMatchObject({
      action_source: 'WEBSITE',
      type: { tracking_type: 'PURCHASE' },
      metadata: { conversion_id: orderId, value: 49.99, currency: 'USD', item_count: 1 },
      user: { uuid: CONVERSION_API_PLATFORMS.find((p) => p.name === 'reddit')!.cookies!._rdt_uuid, phone_number: sha256('+14155550100'), user_agent: BROWSER_UA },
    });
    expect(String(got.reddit[0].event_at)).toHaveLength(13);
  });

  it('dead-letters an event each platform refuses, with that platform’s reason; the one that took it keeps it', async () => {
    const [keeper, ...refusing] = platforms.all();
    const { orderId } = await purchase((id) => {
      for (const p of refusing) p.fake.failWhen((e) => p.eventId(e) === id, p.refusal.reply);
    });

    for (const p of refusing) {
      const message = await relay.waitFor(async () => (await relay.dlqMessages(p.platform.name)).find((m) => JSON.stringify(m.body).includes(orderId)), 60_000, `the refused event in the ${p.platform.name} DLQ`);
      expect(message.attributes.errorMessage, p.platform.name).toMatch(p.refusal.reason);
      expect(p.fake.events().some((e) => p.eventId(e) === orderId)).toBe(false);
    }
    await relay.waitFor(() => keeper.fake.events().some((e) => keeper.eventId(e) === orderId), 30_000, `${keeper.platform.name} still receives it`);
  });
});
