import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ga4Fake } from '../fakes/ga4-server.ts';
import type { GoogleAdsFake } from '../fakes/google-ads-server.ts';
import type { MetaFake } from '../fakes/meta-server.ts';
import { startStripeApiFake, type StripeApiFake } from '../fakes/stripe-api-server.ts';
import type { TikTokFake } from '../fakes/tiktok-server.ts';
import { cli } from '../support/cli.ts';
import { sha256, stripeEvent } from '../support/factories.ts';
import { postStripe } from '../support/flows.ts';
import { BACKFILL_DESTINATIONS, BACKFILL_UA, startBackfillE2e, type BackfillE2e } from '../support/backfill-e2e.ts';
import type { RelayProcess } from '../support/relay-process.ts';
import { stripeInvoice, stripePaymentIntent, stripeSession } from '../support/stripe-objects.ts';

/**
 * Issue 14 end to end: `conversion-relay backfill stripe` against a fake Stripe API (pagination, created filters,
 * 429s) and the local runner with Meta, TikTok, Google Ads and GA4 live against their fakes. A week of Stripe
 * history reaches each platform once per payment, with the clicks /collect stored joined in; a rerun and a late
 * webhook add nothing; each platform's age limit is kept (skipped with the reason); --dry-run queues nothing;
 * --undelivered catches up events whose webhooks failed. (ClickBank's backfill: clickbank-backfill.test.ts.)
 */
const STRIPE_SECRET = 'whsec_e2e_backfill';
const STRIPE_KEY = 'rk_live_e2e_backfill_readonly';
const DESTINATIONS = BACKFILL_DESTINATIONS;
const UA = BACKFILL_UA;

const run = Date.now().toString(36);
const nowS = () => Math.floor(Date.now() / 1000);
const HOUR = 3600;
const DAY = 86400;

describe('conversion-relay backfill stripe against the local runner', () => {
  let meta: MetaFake;
  let tiktok: TikTokFake;
  let google: GoogleAdsFake;
  let ga4: Ga4Fake;
  let stripeApi: StripeApiFake;
  let relay: RelayProcess;
  let e2e: BackfillE2e;
  let dataDir: string;
  let visitorId: string;
  const cliEnv = () => ({ STRIPE_API_KEY: STRIPE_KEY, STRIPE_API_BASE_URL: stripeApi.baseUrl });
  const backfill = (...args: string[]) => cli(['backfill', 'stripe', ...args], dataDir, cliEnv());

  // The payments of the week before the install, by what identifies them at the platforms.
  const ids = {
    clicked: `pi_bf_clicked_${run}`, // a Checkout 30 min ago by a visitor who came from an ad (its PaymentIntent is listed too)
    direct: `pi_bf_direct_${run}`, // a PaymentIntent two days ago, no Checkout, no browser
    invoice: `in_bf_manual_${run}`, // a manual invoice paid four days ago: older than GA4 takes
    old: `pi_bf_old_${run}`, // a Checkout ten days ago: outside --since 7d, older than Meta and TikTok take
    missed: `pi_bf_missed_${run}`, // a Checkout an hour ago whose webhook failed
  };
  const sessionOf = (pi: string, createdAgo: number, extra: Record<string, unknown> = {}) =>
    stripeSession({
      id: `cs_live_${pi}`,
      mode: 'payment',
      status: 'complete',
      payment_status: 'paid',
      amount_total: 4999,
      amount_subtotal: 4999,
      currency: 'usd',
      payment_intent: pi,
      livemode: true,
      created: nowS() - createdAgo,
      customer: `cus_${pi}`,
      customer_details: { email: `buyer.${pi}@example.com`, name: 'Jane Doe', phone: null, address: null, tax_exempt: 'none', tax_ids: [] },
      ...extra,
    });

  /** What each platform accepted for one payment, by the ID it keys on. */
  const received = (id: string) => e2e.received(id);
  const settled = (id: string) => e2e.settled(id);

  beforeAll(async () => {
    stripeApi = await startStripeApiFake({ apiKey: STRIPE_KEY });
    // The visitor came from an ad before buying: /collect stored the clicks the backfill must join.
    e2e = await startBackfillE2e({ name: 'backfill', sourceEnv: { STRIPE_WEBHOOK_SECRET: STRIPE_SECRET }, landingUrl: `https://shop.example/landing?fbclid=IwAR_backfill_${run}&gclid=Cj0KCQ_backfill_${run}` });
    ({ meta, tiktok, google, ga4, relay, dataDir, visitorId } = e2e);

    stripeApi.add(
      sessionOf(ids.clicked, 30 * 60, { client_reference_id: visitorId }),
      stripePaymentIntent({ id: ids.clicked, status: 'succeeded', amount: 4999, amount_received: 4999, currency: 'usd', livemode: true, created: nowS() - 30 * 60, customer: null, receipt_email: null }),
      stripePaymentIntent({ id: ids.direct, status: 'succeeded', amount: 2500, amount_received: 2500, currency: 'usd', livemode: true, created: nowS() - 2 * DAY, customer: `cus_${ids.direct}`, receipt_email: `direct.${run}@example.com`, shipping: null }),
      stripePaymentIntent({ id: `pi_bf_unpaid_${run}`, status: 'requires_payment_method', livemode: true, created: nowS() - DAY }),
      stripeInvoice({
        id: ids.invoice,
        status: 'paid',
        billing_reason: 'manual',
        amount_paid: 12000,
        currency: 'usd',
        livemode: true,
        created: nowS() - 4 * DAY - HOUR,
        status_transitions: { paid_at: nowS() - 4 * DAY, finalized_at: null, marked_uncollectible_at: null, voided_at: null },
        customer: `cus_${ids.invoice}`,
        customer_email: `invoice.${run}@example.com`,
        customer_phone: null,
        customer_address: null,
        parent: null,
      }),
      sessionOf(ids.old, 10 * DAY),
    );
  }, 120_000);

  afterAll(async () => {
    await e2e?.close();
    await stripeApi?.close();
  });

  it('--dry-run prints the plan per destination and queues nothing', async () => {
    const res = await backfill('--since', '7d', '--dry-run', '--json');
    expect(res.code, res.stderr).toBe(0);
    const plan = JSON.parse(res.stdout);
    expect(plan).toMatchObject({ dryRun: true, found: 3, alreadySent: 0, queued: 3 });
    expect(plan.read).toEqual({ 'checkout sessions': 1, invoices: 1, 'payment intents': 3 });
    expect(plan.notConversions).toEqual({ 'payment intent requires_payment_method': 1 });
    expect(plan.destinations.meta.queued).toBe(3);
    expect(plan.destinations.ga4.skipped['too old for ga4']).toMatchObject({ count: 1, example: expect.stringMatching(/^too old for ga4: occurred 9\d h ago, the platform accepts at most 71 h$/) });

    const table = await backfill('--since', '7d', '--dry-run');
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/\(dry run: nothing queued\)/);
    expect(table.stdout).toMatch(/found 3 conversions: 0 already sent, 3 would be queued/);
    expect(table.stdout).toMatch(/DESTINATION\s+WOULD QUEUE\s+SKIPPED/);
    expect(table.stdout).toMatch(/^ga4\s+2\s+1\s+1 × too old for ga4/m);

    for (const id of Object.values(ids)) expect(await relay.ledgerFor(id)).toEqual([]);
    for (const d of DESTINATIONS) expect(await relay.queueDepth(d)).toBe(0);
    expect(meta.events()).toEqual([]);
  });

  it('backfills 7 days: each platform gets each payment once, clicks from /collect joined; 429s are retried', async () => {
    stripeApi.rateLimit('/v1/checkout/sessions', 2);
    const res = await backfill('--since', '7d');
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/Stripe rate limit \(429\) on GET \/v1\/checkout\/sessions: retry 1 in/);
    expect(res.stderr).toMatch(/retry 2 in/);
    expect(stripeApi.requests.filter((r) => r.path === '/v1/checkout/sessions').map((r) => r.status).slice(-3)).toEqual([429, 429, 200]);
    expect(res.stdout).toMatch(/found 3 conversions: 0 already sent, 3 queued/);

    for (const id of [ids.clicked, ids.direct, ids.invoice]) await settled(id);
    await relay.waitFor(() => received(ids.clicked).ga4 === 1 && received(ids.direct).meta === 1, 30_000, 'deliveries');
    expect(received(ids.clicked)).toEqual({ meta: 1, tiktok: 1, 'google-ads': 1, ga4: 1 });
    expect(received(ids.direct)).toMatchObject({ meta: 1, tiktok: 1, 'google-ads': 1 });
    // Four days old: Meta, TikTok and Google take it; GA4 (72 h) does not, and the ledger says why.
    expect(received(ids.invoice)).toEqual({ meta: 1, tiktok: 1, 'google-ads': 1, ga4: 0 });
    const [ga4Row] = await relay.ledgerFor(ids.invoice, 'ga4');
    expect(ga4Row).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/^too old for ga4/) });
    // Outside the window: not read.
    expect(received(ids.old)).toEqual({ meta: 0, tiktok: 0, 'google-ads': 0, ga4: 0 });
    expect(await relay.ledgerFor(ids.old)).toEqual([]);

    // The click the visitor brought is joined, as for a live webhook; the payments without a browser still go where
    // the platform takes them, as server events.
    const clicked = meta.events().find((e) => e.event_id === ids.clicked)!;
    expect(clicked.user_data.fbc).toMatch(new RegExp(`^fb\\.1\\.\\d{13}\\.IwAR_backfill_${run}$`));
    expect(clicked).toMatchObject({ action_source: 'website', user_data: { client_user_agent: UA, em: [sha256(`buyer.${ids.clicked}@example.com`)] } });
    expect(google.conversions().find((c) => c.orderId === ids.clicked)).toMatchObject({ gclid: `Cj0KCQ_backfill_${run}` });
    const direct = meta.events().find((e) => e.event_id === ids.direct)!;
    expect(direct.action_source).toBe('system_generated');
    expect(direct.user_data.client_user_agent).toBeUndefined();
    // The ledger says where it came from: `status <id>` shows the backfill's source event.
    const [row] = await relay.ledgerFor(ids.direct, 'meta');
    expect(row).toMatchObject({ source: 'stripe', sourceEventId: `backfill:payment_intent.succeeded:${ids.direct}` });
  });

  it('a rerun adds nothing, and a webhook arriving after the backfill for the same payment is a duplicate', async () => {
    const before = Object.fromEntries(Object.values(ids).map((id) => [id, received(id)]));
    const res = await backfill('--since', '7d', '--json');
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ found: 3, alreadySent: 3, queued: 0, destinations: {} });

    const session = sessionOf(ids.clicked, 30 * 60, { client_reference_id: visitorId });
    const webhook = await postStripe(relay, JSON.stringify(stripeEvent('checkout.session.completed', session, { id: `evt_late_${run}`, created: nowS() })), { secret: STRIPE_SECRET });
    expect(webhook.status).toBe(200);
    expect(await webhook.json()).toMatchObject({ status: 'duplicate', conversions: [{ eventId: ids.clicked }] });

    await new Promise((r) => setTimeout(r, 2000));
    for (const d of DESTINATIONS) expect(await relay.queueDepth(d)).toBe(0);
    expect(Object.fromEntries(Object.values(ids).map((id) => [id, received(id)]))).toEqual(before);
  });

  it('keeps each destination\'s age limit: a 10-day-old payment is for Google Ads only', async () => {
    const res = await backfill('--since', '30d', '--dry-run', '--json');
    expect(res.code, res.stderr).toBe(0);
    const plan = JSON.parse(res.stdout);
    expect(plan).toMatchObject({ found: 4, alreadySent: 3, queued: 1 });
    expect(plan.destinations['google-ads']).toEqual({ queued: 1, skipped: {} });
    for (const [d, limit] of [['meta', 167], ['tiktok', 167], ['ga4', 71]] as const) {
      expect(plan.destinations[d]).toEqual({ queued: 0, skipped: { [`too old for ${d}`]: { count: 1, example: expect.stringMatching(new RegExp(`at most ${limit} h$`)) } } });
    }
  });

  it('--undelivered ingests the events Stripe could not deliver, once', async () => {
    const missed = sessionOf(ids.missed, HOUR);
    stripeApi.addEvent(stripeEvent('checkout.session.completed', missed, { id: `evt_missed_${run}`, created: nowS() - HOUR }), false);
    stripeApi.addEvent(stripeEvent('checkout.session.completed', sessionOf(`pi_bf_delivered_${run}`, HOUR), { id: `evt_delivered_${run}`, created: nowS() - HOUR }), true);
    const res = await backfill('--undelivered', '--json');
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ mode: 'undelivered', read: { 'undelivered events': 1 }, found: 1, queued: 1 });
    expect(stripeApi.requests.at(-1)?.query).toMatchObject({ delivery_success: 'false', types: expect.arrayContaining(['checkout.session.completed', 'invoice.paid']) });
    await relay.waitFor(() => received(ids.missed).meta === 1, 30_000, 'the missed purchase at Meta');
    const [row] = await relay.ledgerFor(ids.missed, 'meta');
    expect(row.sourceEventId).toBe(`evt_missed_${run}`);

    const again = await backfill('--undelivered', '--json');
    expect(JSON.parse(again.stdout)).toMatchObject({ found: 1, alreadySent: 1, queued: 0 });
  });

  it('says what to fix when the key is missing or lacks a permission', async () => {
    const noKey = await cli(['backfill', 'stripe'], dataDir, { STRIPE_API_BASE_URL: stripeApi.baseUrl });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/Set STRIPE_API_KEY .* restricted Stripe key with read access/);
    stripeApi.deny('/v1/disputes');
    const denied = await backfill('--since', '7d');
    expect(denied.code).toBe(2);
    expect(denied.stderr).toMatch(/Stripe refused the key: The provided key .* does not have the required permissions.*Read on .*Disputes/);
  });
});
