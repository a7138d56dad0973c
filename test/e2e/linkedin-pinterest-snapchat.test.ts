import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkedInError, startLinkedInFake, type LinkedInFake } from '../fakes/linkedin-server.ts';
import { startPinterestFake, type PinterestFake } from '../fakes/pinterest-server.ts';
import { snapchatInvalid, startSnapchatFake, type SnapchatFake } from '../fakes/snapchat-server.ts';
import { sha256, signedStripeRequest, stripeCheckoutSession, stripeEvent } from '../support/factories.ts';
import { startRelay, type RelayProcess } from '../support/relay-process.ts';

/**
 * Issue 12 end to end through `npm start`'s runner with LinkedIn, Pinterest and Snapchat configured against their
 * fakes: a landing with li_fat_id, epik and ScCid (+ the Snap Pixel's _scid cookie) and one Stripe purchase reach all
 * three under one event ID with their click IDs; an event a platform refuses lands in that platform's DLQ with the
 * platform's reason while the others still get it.
 */
const STRIPE_SECRET = 'whsec_e2e_li_pin_snap';
const LINKEDIN = { accessToken: 'li-e2e-token' };
const PINTEREST = { adAccountId: '549755885175', accessToken: 'pin-e2e-token' };
const SNAPCHAT = { pixelId: '5f3b1c2a-1d2e-4f5a-8b9c-0d1e2f3a4b5c', accessToken: 'snap-e2e-token' };
const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) conversion-relay-e2e-li-pin-snap';
const SCID_COOKIE = 'c2a1f0e4-1b2c-4d5e-8f90-a1b2c3d4e5f6';

let counter = 0;
const unique = (prefix: string) => `${prefix}_${Date.now()}_${++counter}`;

function checkoutCompleted(paymentIntent: string, visitorId: string): Stripe.Event {
  const session = stripeCheckoutSession({
    id: unique('cs_test_lps'),
    payment_intent: paymentIntent,
    mode: 'payment',
    status: 'complete',
    payment_status: 'paid',
    amount_total: 4999,
    amount_subtotal: 4999,
    currency: 'usd',
    client_reference_id: visitorId,
    customer: 'cus_e2e_lps',
    customer_details: { email: 'Jane.Doe@Example.com', phone: '+1 (415) 555-0100', name: 'Jane Doe' },
  });
  return stripeEvent('checkout.session.completed', session, { id: `evt_${session.id}`, created: Math.floor(Date.now() / 1000) });
}

describe('Stripe purchase → LinkedIn, Pinterest and Snapchat through the local runner', () => {
  let linkedin: LinkedInFake;
  let pinterest: PinterestFake;
  let snapchat: SnapchatFake;
  let relay: RelayProcess;
  let dataDir: string;

  async function land(url: string) {
    const res = await fetch(`${relay.url}/collect`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': BROWSER_UA, cookie: `_scid=${SCID_COOKIE}` },
      body: JSON.stringify({ url, referrer: 'https://www.linkedin.com/' }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { visitorId: string }).visitorId;
  }

  async function purchase(orderId: string) {
    const visitorId = await land(`https://shop.example.com/landing?li_fat_id=df5gf5-gh6t7-ph4j7h-${orderId}&epik=dj0yJnU9b2JD-${orderId}&ScCid=sc-${orderId}`);
    const req = signedStripeRequest(checkoutCompleted(orderId, visitorId), STRIPE_SECRET);
    const res = await fetch(`${relay.url}${req.path}`, { method: 'POST', headers: req.headers as Record<string, string>, body: req.body.toString('utf8') });
    expect(res.status).toBe(200);
  }

  beforeAll(async () => {
    [linkedin, pinterest, snapchat] = await Promise.all([startLinkedInFake(LINKEDIN), startPinterestFake(PINTEREST), startSnapchatFake(SNAPCHAT)]);
    dataDir = mkdtempSync(path.join(tmpdir(), 'relay-e2e-lps-'));
    relay = await startRelay(
      {
        STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
        LINKEDIN_CONVERSION_RULES: 'Purchase=104012',
        LINKEDIN_ACCESS_TOKEN: LINKEDIN.accessToken,
        LINKEDIN_API_BASE_URL: linkedin.baseUrl,
        PINTEREST_AD_ACCOUNT_ID: PINTEREST.adAccountId,
        PINTEREST_ACCESS_TOKEN: PINTEREST.accessToken,
        PINTEREST_API_BASE_URL: pinterest.baseUrl,
        SNAPCHAT_PIXEL_ID: SNAPCHAT.pixelId,
        SNAPCHAT_ACCESS_TOKEN: SNAPCHAT.accessToken,
        SNAPCHAT_API_BASE_URL: snapchat.baseUrl,
        RELAY_RETRY_BASE_SECONDS: '1',
        RELAY_MAX_ATTEMPTS: '4',
      },
      dataDir,
    );
  });
  afterAll(async () => {
    await relay?.stop();
    await Promise.all([linkedin?.close(), pinterest?.close(), snapchat?.close()]);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('delivers the purchase to all three under one event ID, each with its click ID and hashed e-mail', async () => {
    const orderId = unique('pi_e2e_lps');
    await purchase(orderId);

    const got = await relay.waitFor(() => {
      const r = {
        linkedin: linkedin.events().filter((e) => e.eventId === orderId),
        pinterest: pinterest.events().filter((e) => e.event_id === orderId),
        snapchat: snapchat.events().filter((e) => e.event_id === orderId),
      };
      return r.linkedin.length && r.pinterest.length && r.snapchat.length ? r : undefined;
    }, 60_000, 'the purchase at LinkedIn, Pinterest and Snapchat');

    const email = sha256('jane.doe@example.com');
    expect(got.linkedin[0]).toMatchObject({ conversion: 'urn:lla:llaPartnerConversion:104012', conversionValue: { currencyCode: 'USD', amount: '49.99' } });
    expect(got.linkedin[0].user.userIds).toEqual(
      expect.arrayContaining([
        { idType: 'SHA256_EMAIL', idValue: email },
        { idType: 'LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID', idValue: `df5gf5-gh6t7-ph4j7h-${orderId}` },
      ]),
    );
    expect(got.pinterest[0]).toMatchObject({ event_name: 'checkout', custom_data: { value: '49.99' }, user_data: { em: [email], ph: [sha256('14155550100')], click_id: `dj0yJnU9b2JD-${orderId}` } });
    expect(got.snapchat[0]).toMatchObject({
      event_name: 'PURCHASE',
      custom_data: { value: 49.99 },
      user_data: { em: [email], ph: [sha256('14155550100')], sc_click_id: `sc-${orderId}`, sc_cookie1: SCID_COOKIE, client_user_agent: BROWSER_UA },
    });
    expect(String(got.snapchat[0].event_time)).toHaveLength(10);
    for (const d of ['linkedin', 'pinterest', 'snapchat']) {
      await relay.waitFor(async () => (await relay.ledgerFor(orderId, d)).some((r) => r.status === 'delivered'), 30_000, `${d} delivered in the ledger`);
    }
  });

  it('dead-letters an event LinkedIn and Snapchat refuse, with their reasons, while Pinterest still gets it', async () => {
    const orderId = unique('pi_e2e_lps_bad');
    linkedin.failWhen((e) => e.eventId === orderId, { status: 422, body: linkedInError(422, 'UNPROCESSABLE_ENTITY', 'Index: 0, ERROR :: /conversion :: rule not found\n') });
    snapchat.failWhen((e) => e.event_id === orderId, { status: 400, body: snapchatInvalid('event_time is invalid') });
    await purchase(orderId);

    const dlq = await relay.waitFor(async () => {
      const [li, snap] = await Promise.all([relay.dlqMessages('linkedin'), relay.dlqMessages('snapchat')]);
      const mine = (ms: typeof li) => ms.find((m) => JSON.stringify(m.body).includes(orderId));
      return mine(li) && mine(snap) ? { li: mine(li)!, snap: mine(snap)! } : undefined;
    }, 60_000, 'the refused event in the LinkedIn and Snapchat DLQs');
    expect(dlq.li.attributes.errorMessage).toMatch(/rule not found/);
    expect(dlq.snap.attributes.errorMessage).toMatch(/event_time is invalid/);
    await relay.waitFor(() => pinterest.events().some((e) => e.event_id === orderId), 30_000, 'Pinterest still receives it');
  });
});
