import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClickbankOrdersFake, type ClickbankOrdersFake } from '../fakes/clickbank-orders-server.ts';
import type { Ga4Fake } from '../fakes/ga4-server.ts';
import type { GoogleAdsFake } from '../fakes/google-ads-server.ts';
import type { MetaFake } from '../fakes/meta-server.ts';
import type { TikTokFake } from '../fakes/tiktok-server.ts';
import { clickbankEncrypt, clickbankNotification, clickbankOrder } from '../support/clickbank.ts';
import { cli } from '../support/cli.ts';
import { sha256 } from '../support/factories.ts';
import { BACKFILL_DESTINATIONS, BACKFILL_UA, startBackfillE2e, type BackfillE2e } from '../support/backfill-e2e.ts';
import type { RelayProcess } from '../support/relay-process.ts';

/**
 * `conversion-relay backfill clickbank` end to end: a fake ClickBank Orders API (API key check, Page header and 206,
 * ClickBank's string-typed JSON, a 429) and the local runner with Meta, TikTok, Google Ads and GA4 live against their
 * fakes. A week of orders reaches each platform once per sale, with the clicks /collect stored joined in; a refund
 * keeps the webhook path's event ID; rebills and test orders are skipped with their reasons; a rerun and a late
 * Instant Notification for the same receipt add nothing; --dry-run queues nothing.
 */
const CLICKBANK_SECRET = 'E2EBACKFILLKEY01';
const CLICKBANK_KEY = 'API-E2EBACKFILLORDERS0001';
const DESTINATIONS = BACKFILL_DESTINATIONS;
const UA = BACKFILL_UA;

const run = Date.now().toString(36).toUpperCase();
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const ago = (ms: number) => new Date(Date.now() - ms);

describe('conversion-relay backfill clickbank against the local runner', () => {
  let meta: MetaFake;
  let tiktok: TikTokFake;
  let google: GoogleAdsFake;
  let ga4: Ga4Fake;
  let orders: ClickbankOrdersFake;
  let relay: RelayProcess;
  let e2e: BackfillE2e;
  let dataDir: string;
  let visitorId: string;
  const backfill = (...args: string[]) => cli(['backfill', 'clickbank', ...args], dataDir, { CLICKBANK_API_KEY: CLICKBANK_KEY, CLICKBANK_API_BASE_URL: orders.baseUrl });

  // The receipts of the week before the install.
  const receipts = {
    clicked: `CBA${run}`, // a sale 30 min ago by a visitor who came from an ad (cr_vid on the order form)
    direct: `CBB${run}`, // a sale two days ago, refunded yesterday; no browser context
    old: `CBO${run}`, // a sale ten days ago: outside --since 7d
  };
  const refundId = `${receipts.direct}:rfnd`;

  const received = (id: string) => e2e.received(id);
  const settled = (id: string) => e2e.settled(id);

  beforeAll(async () => {
    orders = await startClickbankOrdersFake({ apiKey: CLICKBANK_KEY });
    // The visitor came from an ad before buying: /collect stored the clicks the backfill must join.
    e2e = await startBackfillE2e({ name: 'cb-backfill', sourceEnv: { CLICKBANK_SECRET_KEY: CLICKBANK_SECRET }, landingUrl: `https://offer.example/landing?fbclid=IwAR_cbbackfill_${run}&gclid=Cj0KCQ_cbbackfill_${run}` });
    ({ meta, tiktok, google, ga4, relay, dataDir, visitorId } = e2e);

    orders.add(
      clickbankOrder({ receipt: receipts.clicked, email: `buyer.a.${run}@example.com`, vendorVariables: { item: [{ name: 'cr_vid', value: visitorId }] } }, ago(30 * MINUTE)),
      clickbankOrder({ receipt: receipts.direct, email: `buyer.b.${run}@example.com`, totalOrderAmount: '25.00', lineItemData: [{ itemNo: '7', productTitle: 'Guide', customerAmount: '25.00', accountAmount: '18.00', quantity: 1, recurring: false }] }, ago(2 * DAY)),
      clickbankOrder({ receipt: receipts.direct, transactionType: 'RFND', email: `buyer.b.${run}@example.com`, totalOrderAmount: '-25.00', lineItemData: [{ itemNo: '7', customerAmount: '-25.00', accountAmount: '-18.00', quantity: 1 }] }, ago(DAY)),
      clickbankOrder({ receipt: `${receipts.clicked}-B002`, transactionType: 'BILL', lineItemData: [{ itemNo: '9', recurring: true, processedPayments: 2, customerAmount: '19.00' }] }, ago(3 * DAY)),
      clickbankOrder({ receipt: `CBT${run}`, transactionType: 'TEST_SALE', paytmentMethod: 'TEST' }, ago(HOUR)),
      clickbankOrder({ receipt: receipts.old, email: `buyer.o.${run}@example.com` }, ago(10 * DAY)),
    );
  }, 120_000);

  afterAll(async () => {
    await e2e?.close();
    await orders?.close();
  });

  it('--dry-run prints the plan per destination and queues nothing', async () => {
    const res = await backfill('--since', '7d', '--dry-run', '--json');
    expect(res.code, res.stderr).toBe(0);
    const plan = JSON.parse(res.stdout);
    expect(plan).toMatchObject({ source: 'clickbank', dryRun: true, found: 3, alreadySent: 0, queued: 3, skippedEverywhere: 0 });
    expect(plan.read).toEqual({ 'SALE orders': 2, 'RFND orders': 1, 'BILL orders': 1, 'TEST_SALE orders': 1 });
    expect(plan.notConversions).toEqual({ 'rebill (BILL)': 1, 'test order': 1 });
    expect(plan.destinations.meta.queued).toBe(2);
    expect(plan.destinations.meta.skipped).toMatchObject({ 'Meta has no way to retract a conversion': { count: 1 } });

    const table = await backfill('--since', '7d', '--dry-run');
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^ClickBank orders .* \(dry run: nothing queued\)$/m);
    expect(table.stdout).toMatch(/not conversions: 1 × rebill \(BILL\); 1 × test order/);
    expect(table.stdout).toMatch(/DESTINATION\s+WOULD QUEUE\s+SKIPPED/);

    for (const id of [...Object.values(receipts), refundId]) expect(await relay.ledgerFor(id)).toEqual([]);
    for (const d of DESTINATIONS) expect(await relay.queueDepth(d)).toBe(0);
    expect(meta.events()).toEqual([]);
  });

  it('backfills 7 days: each platform gets each sale once, clicks from /collect joined; the refund keeps the webhook path\'s event ID; a 429 is retried', async () => {
    orders.rateLimit(1);
    const res = await backfill('--since', '7d');
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/ClickBank rate limit on GET \/rest\/1\.3\/orders2\/list: retry 1 in/);
    expect(orders.requests.map((r) => r.status).slice(-2)).toEqual([429, 200]);
    expect(res.stdout).toMatch(/found 3 conversions: 0 already sent, 3 queued, 0 skipped by every destination/);

    const rows = { clicked: await settled(receipts.clicked), direct: await settled(receipts.direct), refund: await settled(refundId) };
    await relay.waitFor(() => received(receipts.clicked).ga4 === 1 && received(receipts.direct).meta === 1, 30_000, 'deliveries');
    // The visitor's sale reaches all four, once.
    expect(received(receipts.clicked)).toEqual({ meta: 1, tiktok: 1, 'google-ads': 1, ga4: 1 });
    // Every platform has each sale exactly as often as the ledger says it was delivered there: once, or not at all
    // with the reason.
    for (const [key, id] of [['clicked', receipts.clicked], ['direct', receipts.direct]] as const) {
      const got = received(id);
      for (const d of DESTINATIONS) expect(got[d as keyof typeof got], `${id} at ${d}`).toBe(rows[key].find((r) => r.sk === `D#${d}`)?.status === 'delivered' ? 1 : 0);
    }
    expect(received(receipts.direct)).toMatchObject({ meta: 1, tiktok: 1 });
    // Outside the window: not read.
    expect(await relay.ledgerFor(receipts.old)).toEqual([]);

    const clicked = meta.events().find((e) => e.event_id === receipts.clicked)!;
    expect(clicked.user_data.fbc).toMatch(new RegExp(`^fb\\.1\\.\\d{13}\\.IwAR_cbbackfill_${run}$`));
    expect(clicked).toMatchObject({ event_name: 'Purchase', action_source: 'website', custom_data: { value: 47, currency: 'USD' }, user_data: { client_user_agent: UA, em: [sha256(`buyer.a.${run}@example.com`.toLowerCase())] } });
    expect(google.conversions().find((c) => c.orderId === receipts.clicked)).toMatchObject({ gclid: `Cj0KCQ_cbbackfill_${run}` });
    expect(meta.events().find((e) => e.event_id === receipts.direct)).toMatchObject({ action_source: 'system_generated', custom_data: { value: 25 } });

    // The refund is `<receipt>:rfnd`, as its INS notification would be, linked to the sale; Meta cannot retract it.
    expect(rows.refund.find((r) => r.sk === 'D#meta')).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/no way to retract/) });
    const [row] = await relay.ledgerFor(receipts.direct, 'meta');
    expect(row).toMatchObject({ source: 'clickbank', sourceEventId: `backfill:${receipts.direct}:SALE` });
    // Neither the rebill nor the test order left a trace.
    expect(await relay.ledgerFor(`${receipts.clicked}-B002:bill`)).toEqual([]);
    expect(meta.events().filter((e) => String(e.event_id).startsWith('CBT'))).toEqual([]);
  });

  it('a rerun adds nothing, and an Instant Notification arriving afterwards for the same receipt is a duplicate', async () => {
    const ids = [receipts.clicked, receipts.direct, refundId];
    const before = Object.fromEntries(ids.map((id) => [id, received(id)]));
    const res = await backfill('--since', '7d', '--json');
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ found: 3, alreadySent: 3, queued: 0, destinations: {} });

    const notify = (overrides: Record<string, unknown>, at: Date) =>
      fetch(`${relay.url}/webhooks/clickbank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(clickbankEncrypt(clickbankNotification(overrides, at), CLICKBANK_SECRET)) });
    const sale = await notify({ receipt: receipts.clicked, vendorVariables: { cr_vid: visitorId } }, ago(30 * MINUTE));
    expect(sale.status).toBe(200);
    expect(await sale.json()).toMatchObject({ status: 'duplicate', conversions: [{ eventId: receipts.clicked }] });
    const refund = await notify({ receipt: receipts.direct, transactionType: 'RFND', totalOrderAmount: -25 }, ago(DAY));
    expect(await refund.json()).toMatchObject({ status: 'duplicate', conversions: [{ eventId: refundId }] });

    await new Promise((r) => setTimeout(r, 2000));
    for (const d of DESTINATIONS) expect(await relay.queueDepth(d)).toBe(0);
    expect(Object.fromEntries(ids.map((id) => [id, received(id)]))).toEqual(before);
  });

  it('keeps no raw customer data: not in the ledger, the relay\'s logs or the CLI\'s output', async () => {
    const outputs = [await backfill('--since', '30d', '--dry-run'), await backfill('--since', '7d', '--json')].map((r) => r.stdout + r.stderr);
    const everything = [JSON.stringify(await relay.ledger()), relay.output.join('\n'), ...outputs].join('\n').toLowerCase();
    for (const raw of [`buyer.a.${run}@example.com`, `buyer.b.${run}@example.com`, `buyer.o.${run}@example.com`, 'gonzalez', '78701-2001']) expect(everything).not.toContain(raw.toLowerCase());
    expect(everything).not.toContain(CLICKBANK_KEY.toLowerCase());
  });

  it('keeps each destination\'s age limit: the 10-day-old sale is for Google Ads only', async () => {
    const res = await backfill('--since', '30d', '--dry-run', '--json');
    expect(res.code, res.stderr).toBe(0);
    const plan = JSON.parse(res.stdout);
    expect(plan).toMatchObject({ found: 4, alreadySent: 3, queued: 1 });
    for (const d of ['meta', 'tiktok', 'ga4']) expect(Object.keys(plan.destinations[d].skipped)).toEqual([`too old for ${d}`]);
  });

  it('says what to fix when the key is missing or lacks the Orders read permission', async () => {
    const noKey = await cli(['backfill', 'clickbank'], dataDir, { CLICKBANK_API_BASE_URL: orders.baseUrl });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/Set CLICKBANK_API_KEY .*"Orders\/Tickets API Read"/);
    const undelivered = await backfill('--undelivered');
    expect(undelivered.code).toBe(2);
    expect(undelivered.stderr).toMatch(/--undelivered reads Stripe's events/);
    orders.deny();
    const denied = await backfill('--since', '7d');
    expect(denied.code).toBe(2);
    expect(denied.stderr).toMatch(/ClickBank refused the key \(403: .*\)\. Give the API key "Orders\/Tickets API Read"/);
    expect(denied.stderr + denied.stdout).not.toContain(CLICKBANK_KEY);
  });
});
