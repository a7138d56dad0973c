import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startMetaFake, type MetaFake } from '../fakes/meta-server.ts';
import { clickbankEncrypt, clickbankNotification } from '../support/clickbank.ts';
import { sha256 } from '../support/factories.ts';
import { collectVisit, eventsWithId, redeliver, requestsMentioning, useTempRelay, waitForEvents, waitForLedgerRow } from '../support/flows.ts';

/**
 * ClickBank Instant Notifications and affiliate postbacks, end to end through `npm start`'s runner (its own process)
 * with a fake Meta Conversions API that validates payloads as Meta documents. Notifications are encrypted here the
 * way ClickBank's algorithm specifies (test/support/clickbank.ts), not with the relay's code.
 */
const CLICKBANK_SECRET = 'E2ESECRETKEY0042';
const POSTBACK_TOKEN = 'pb_e2e_5f1c9a7e3b2d4c6a8e0f';
const PIXEL_ID = '1234567890123';
const META_TOKEN = 'EAAB-e2e-clickbank-token';
const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) conversion-relay-e2e-clickbank';

let receiptCounter = 0;
/** A fresh 8-character receipt, as ClickBank issues them. */
const newReceipt = () => `E2E${(Date.now() % 1e4).toString(36).toUpperCase()}${++receiptCounter}`.slice(0, 12);

describe('ClickBank and postbacks → Meta CAPI through the local runner', () => {
  let meta: MetaFake;
  beforeAll(async () => {
    meta = await startMetaFake({ pixelId: PIXEL_ID, accessToken: META_TOKEN });
  });
  afterAll(() => meta?.close());
  beforeEach(() => meta.reset());
  const relay = useTempRelay('relay-e2e-cb-', () => ({
    CLICKBANK_SECRET_KEY: CLICKBANK_SECRET,
    POSTBACK_TOKEN,
    META_PIXEL_ID: PIXEL_ID,
    META_ACCESS_TOKEN: META_TOKEN,
    META_API_BASE_URL: meta.baseUrl,
    RELAY_RETRY_BASE_SECONDS: '1',
    RELAY_MAX_ATTEMPTS: '3',
  }));
  // If the relay ever dies mid-suite, every later test fails on ECONNREFUSED: say why, once, with its last lines.
  let stopping = false;
  beforeAll(() => {
    relay.child.once('exit', (code, signal) => {
      if (!stopping) console.error(`relay exited unexpectedly (code ${code}, signal ${signal}):\n${relay.output.slice(-40).join('\n')}`);
    });
  });
  afterAll(() => {
    stopping = true; // after hooks run in reverse: before useTempRelay stops the relay
  });

  const land = (url: string) => collectVisit(relay, url, { userAgent: BROWSER_UA, referrer: 'https://www.facebook.com/' });

  const postClickbank = (body: unknown) =>
    fetch(`${relay.url}/webhooks/clickbank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const notify = (overrides: Record<string, unknown>, secret = CLICKBANK_SECRET) => postClickbank(clickbankEncrypt(clickbankNotification(overrides), secret));
  const eventsFor = (eventId: string) => eventsWithId(meta.events(), eventId);
  const requestsFor = (eventId: string) => requestsMentioning(meta.requests, eventId);
  const waitForMeta = (eventId: string, what: string) => waitForEvents(relay, () => meta.events(), eventId, 15_000, what);
  // Meta's row: TikTok and GA4 (no credentials here: dry-run) have rows of their own.
  const ledgerRow = (eventId: string, status: string) => waitForLedgerRow(relay, eventId, status, { destination: 'meta' });

  it('prints the ClickBank and postback routes', () => {
    const banner = relay.output.join('\n');
    expect(banner).toMatch(/POST \S+\/webhooks\/clickbank\s+\(clickbank\)/);
    expect(banner).toMatch(/GET \S+\/postback\s+\(postback\)/);
    expect(banner).toMatch(/POST \S+\/postback\s+\(postback\)/);
  });

  it('turns a ClickBank SALE whose hop link carried the visitor ID into one Meta Purchase with the click’s fbc', async () => {
    const { visitorId, cookies } = await land('https://offer.example.com/?fbclid=IwAR-cb-Click_42&hop=someaff');
    const receipt = newReceipt();
    // The hop link carried ?tid=<visitor ID without hyphens>; ClickBank upper-cases tracking IDs.
    const res = await notify({ receipt, trackingCodes: [visitorId.replaceAll('-', '').toUpperCase()] });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'accepted', conversions: [{ eventId: receipt }] });

    const [event] = await waitForMeta(receipt, 'the Meta event');
    expect(event).toMatchObject({
      event_name: 'Purchase',
      event_id: receipt,
      action_source: 'website',
      event_source_url: 'https://offer.example.com/?fbclid=IwAR-cb-Click_42&hop=someaff',
      custom_data: { value: 47, currency: 'USD', order_id: receipt },
    });
    expect(event.user_data).toMatchObject({
      fbc: cookies._fbc,
      fbp: cookies._fbp,
      client_user_agent: BROWSER_UA,
      em: [sha256('maria.gonzalez@example.net')],
      ph: [sha256('15125550147')],
      fn: [sha256('maria')],
      external_id: [sha256(visitorId)],
    });
    expect(cookies._fbc).toMatch(/\.IwAR-cb-Click_42$/);
    expect(await ledgerRow(receipt, 'delivered')).toMatchObject({ orderId: receipt, source: 'clickbank', sourceEventId: `${receipt}:SALE` });
  });

  it('finds the visitor through the vendor variable cr_vid as well', async () => {
    const { visitorId, cookies } = await land('https://offer.example.com/?fbclid=IwAR-cb-Vendor_7');
    const receipt = newReceipt();
    expect((await notify({ receipt, vendorVariables: { cr_vid: visitorId } })).status).toBe(200);
    const [event] = await waitForMeta(receipt, 'the Meta event');
    expect(event.user_data.fbc).toBe(cookies._fbc);
  });

  it('turns one notification delivered three times (ClickBank retrying) into one Meta event', async () => {
    const receipt = newReceipt();
    const statuses = await redeliver(3, (attempt) => notify({ receipt, attemptCount: attempt })); // each delivery encrypted afresh, new IV
    expect(statuses).toEqual([
      [200, 'accepted'],
      [200, 'duplicate'],
      [200, 'duplicate'],
    ]);
    await waitForMeta(receipt, 'the Meta event');
    await sleep(1500); // time for any second delivery to show up
    expect(eventsFor(receipt)).toHaveLength(1);
    expect(requestsFor(receipt)).toHaveLength(1);
  });

  it('records a TEST notification as dry_run with the exact Meta request, and sends nothing to Meta', async () => {
    const receipt = newReceipt();
    const res = await notify({ receipt, transactionType: 'TEST_SALE' });
    expect(res.status).toBe(200);

    const row = await ledgerRow(receipt, 'dry_run');
    expect(row.reason).toMatch(/test event/);
    const request = JSON.parse(row.request);
    // The exact events, with the credentials left out (the record is logged and kept).
    expect(request.url).toMatch(/\/v26\.0\/<META_PIXEL_ID>\/events$/);
    expect(JSON.stringify(request)).not.toContain(META_TOKEN);
    expect(request.body.data).toHaveLength(1);
    expect(request.body.data[0]).toMatchObject({ event_name: 'Purchase', event_id: receipt, custom_data: { value: 47, currency: 'USD' } });
    await sleep(1000);
    expect(requestsFor(receipt)).toHaveLength(0);
  });

  it('records a refund as an adjustment linked to the sale’s order, skipped for Meta with the reason', async () => {
    const receipt = newReceipt();
    expect((await notify({ receipt })).status).toBe(200);
    await ledgerRow(receipt, 'delivered');

    const res = await notify({ receipt, transactionType: 'RFND', totalOrderAmount: -47.0, totalAccountAmount: -35.12 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { conversions: { eventId: string; routes: unknown[] }[] };
    const refundId = `${receipt}:rfnd`;
    expect(body.conversions).toEqual([{ eventId: refundId, routes: expect.arrayContaining([{ destination: 'meta', status: 'skipped', reason: expect.stringMatching(/no way to retract/) }]) }]);

    const [refund] = await relay.ledgerFor(refundId, 'meta');
    const [sale] = await relay.ledgerFor(receipt, 'meta');
    expect(refund).toMatchObject({ status: 'skipped', eventName: 'Refund', orderId: receipt, sourceEventId: `${receipt}:RFND` });
    expect(sale).toMatchObject({ status: 'delivered', eventName: 'Purchase', orderId: receipt });
    await sleep(800);
    expect(requestsFor(refundId)).toHaveLength(0);
    expect(await relay.queueDepth('meta')).toBe(0);
  });

  it('answers 200 to a subscription cancellation and records it as skipped with the reason', async () => {
    const receipt = newReceipt();
    const res = await notify({ receipt, transactionType: 'CANCEL-REBILL' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/cancelled/) });
    const rows = await relay.ledger();
    expect(rows.find((r) => r.pk === `S#clickbank#${receipt}:CANCEL-REBILL`)).toMatchObject({ status: 'skipped', eventType: 'CANCEL-REBILL' });
  });

  it('stores an unknown transaction type as skipped, logs it as such, and forwards nothing', async () => {
    const receipt = newReceipt();
    const res = await notify({ receipt, transactionType: 'JV_SALE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'skipped', reason: 'unknown transaction type JV_SALE: recorded, not forwarded' });
    expect((await relay.ledger()).find((r) => r.pk === `S#clickbank#${receipt}:JV_SALE`)).toMatchObject({ status: 'skipped', eventType: 'JV_SALE' });
    await relay.waitFor(() => relay.output.some((l) => l.includes('source event skipped') && l.includes(`${receipt}:JV_SALE`) && l.includes('unknown transaction type')), 5_000, 'the log line');
    expect(await relay.ledgerFor(receipt)).toEqual([]);
  });

  it('answers 400 to a notification encrypted with another secret and keeps nothing', async () => {
    const receipt = newReceipt();
    const res = await notify({ receipt }, 'NOTTHESECRET0000');
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe('decryption_failed');
    expect(body.message).not.toContain(CLICKBANK_SECRET);
    expect(await relay.queueDepth('meta')).toBe(0);
    await sleep(500);
    expect(await relay.ledgerFor(receipt)).toEqual([]);
    expect((await relay.ledger()).some((r) => JSON.stringify(r).includes(receipt))).toBe(false);
  });

  it('answers 400 to a body that is not an Instant Notification', async () => {
    const res = await fetch(`${relay.url}/webhooks/clickbank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"ctransreceipt":"X"' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'malformed_body' });
  });

  it('turns a GET postback with the token into a Meta event carrying the visitor’s clicks', async () => {
    const { visitorId, cookies } = await land('https://lp.example.com/?fbclid=IwAR-pb-Click_9&utm_source=fb');
    const txid = `TX-${Date.now()}`;
    const res = await fetch(`${relay.url}/postback?clickid=${visitorId}&payout=12.50&txid=${txid}&status=approved&currency=EUR&token=${POSTBACK_TOKEN}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'accepted', conversions: [{ eventId: txid }] });

    const [event] = await waitForMeta(txid, 'the Meta event');
    expect(event).toMatchObject({ event_name: 'Purchase', action_source: 'website', custom_data: { value: 12.5, currency: 'EUR', order_id: txid } });
    expect(event.user_data).toMatchObject({ fbc: cookies._fbc, fbp: cookies._fbp, client_user_agent: BROWSER_UA, external_id: [sha256(visitorId)] });

    // The network fires the same postback again: one conversion.
    const again = await fetch(`${relay.url}/postback?clickid=${visitorId}&payout=12.50&txid=${txid}&status=approved&currency=EUR&token=${POSTBACK_TOKEN}`);
    expect(await again.json()).toMatchObject({ status: 'duplicate' });
  });

  it('takes a POSTed JSON lead with a bearer token', async () => {
    const { visitorId } = await land('https://lp.example.com/?fbclid=IwAR-pb-Lead_3');
    const txid = `LD-${Date.now()}`;
    const res = await fetch(`${relay.url}/postback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${POSTBACK_TOKEN}` },
      body: JSON.stringify({ clickid: visitorId, txid, event: 'lead' }),
    });
    expect(res.status).toBe(200);
    const [event] = await waitForMeta(`${txid}:lead`, 'the Meta lead');
    expect(event.event_name).toBe('Lead');
  });

  it('answers 401 to a postback with a wrong or missing token and keeps nothing', async () => {
    const { visitorId } = await land('https://lp.example.com/?fbclid=IwAR-pb-Bad_1');
    const txid = `BAD-${Date.now()}`;
    const wrong = await fetch(`${relay.url}/postback?clickid=${visitorId}&txid=${txid}&payout=5&token=not-the-token`);
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_token' });
    const missing = await fetch(`${relay.url}/postback?clickid=${visitorId}&txid=${txid}&payout=5`);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ error: 'missing_token' });
    // A repeated parameter arrives comma-joined (API Gateway's rule, which the runner follows): no token guessing by repetition.
    const repeated = await fetch(`${relay.url}/postback?clickid=${visitorId}&txid=${txid}&token=guess&token=${POSTBACK_TOKEN}`);
    expect(repeated.status).toBe(401);
    expect(await relay.queueDepth('meta')).toBe(0);
    expect(await relay.ledgerFor(txid)).toEqual([]);
  });

  it('records a rejected postback as skipped', async () => {
    const { visitorId } = await land('https://lp.example.com/?fbclid=IwAR-pb-Rej_1');
    const txid = `REJ-${Date.now()}`;
    const res = await fetch(`${relay.url}/postback?clickid=${visitorId}&txid=${txid}&status=rejected&token=${POSTBACK_TOKEN}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'skipped', reason: expect.stringContaining('rejected') });
    expect(await relay.ledgerFor(txid)).toEqual([]);
  });

  it('keeps no raw personal data, secret or token in tables or logs', async () => {
    // Runs after the flows above, which carried the ClickBank customer's e-mail, phone, name and address.
    const rows = JSON.stringify(await relay.ledger()).toLowerCase();
    const logs = relay.output.join('\n').toLowerCase();
    for (const raw of ['maria.gonzalez@example.net', 'gonzalez', '555-0147', '5125550147', 'evergreen', 'austin', '78701-2001']) {
      expect(rows, raw).not.toContain(raw);
      expect(logs, raw).not.toContain(raw);
    }
    for (const secret of [CLICKBANK_SECRET, POSTBACK_TOKEN, META_TOKEN]) expect(logs).not.toContain(secret.toLowerCase());
  });
});
