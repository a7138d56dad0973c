import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { metaError, startMetaFake, type MetaFake } from '../fakes/meta-server.ts';
import { sha256 } from '../support/factories.ts';
import {
  checkoutCompleted as paidCheckout,
  collectVisit,
  eventsWithId,
  postStripe,
  redeliver,
  requestsMentioning,
  stripeSignature,
  useTempRelay,
  waitForEvents,
  waitForLedgerRow,
} from '../support/flows.ts';
import type { RelayProcess } from '../support/relay-process.ts';

/**
 * End to end through `npm start`'s runner (its own process), with a fake Meta Conversions API that validates the
 * payload as Meta documents: a click is collected, Stripe reports the payment, Meta receives the conversion.
 */
const STRIPE_SECRET = 'whsec_e2e_test_secret';
const PIXEL_ID = '1234567890123';
const META_TOKEN = 'EAAB-e2e-access-token';
const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) conversion-relay-e2e';
const CUSTOMER = {
  email: 'Jane.Doe@Example.com',
  phone: '+1 (415) 555-0100',
  name: 'Jane Doe',
  address: { line1: '1 Market Street', line2: null, city: 'San Francisco', state: 'CA', postal_code: '94105-1234', country: 'US' },
};

/** A paid USD 49.99 checkout by CUSTOMER; `id` is its PaymentIntent, the purchase's event and order ID. */
const checkoutCompleted = (overrides: Record<string, unknown> = {}) => paidCheckout('e2e', 4999, CUSTOMER, overrides);

const sign = (payload: string, secret = STRIPE_SECRET) => stripeSignature(payload, secret);
const land = (relay: RelayProcess, url: string) => collectVisit(relay, url, { userAgent: BROWSER_UA, referrer: 'https://www.facebook.com/' });

describe('Stripe purchase → Meta CAPI through the local runner', () => {
  let meta: MetaFake;
  beforeAll(async () => {
    meta = await startMetaFake({ pixelId: PIXEL_ID, accessToken: META_TOKEN });
  });
  afterAll(() => meta?.close());
  beforeEach(() => meta.reset());

  /** The runner's settings for live delivery to the fake Meta, with `stripeSecrets` as STRIPE_WEBHOOK_SECRET. */
  const relayEnv = (stripeSecrets: string) => ({
    STRIPE_WEBHOOK_SECRET: stripeSecrets,
    META_PIXEL_ID: PIXEL_ID,
    META_ACCESS_TOKEN: META_TOKEN,
    META_API_BASE_URL: meta.baseUrl,
    RELAY_RETRY_BASE_SECONDS: '1',
    RELAY_MAX_ATTEMPTS: '4',
  });
  const relay = useTempRelay('relay-e2e-', () => relayEnv(`whsec_old_rotated_secret,${STRIPE_SECRET}`));
  const eventsFor = (eventId: string) => eventsWithId(meta.events(), eventId);
  const requestsFor = (eventId: string) => requestsMentioning(meta.requests, eventId);
  const waitForMeta = (eventId: string, timeoutMs: number, what: string) => waitForEvents(relay, () => meta.events(), eventId, timeoutMs, what);
  const metaLedgerRow = (eventId: string, status: string, timeoutMs: number) => waitForLedgerRow(relay, eventId, status, { destination: 'meta', timeoutMs });

  it('prints its routes and that Meta is live', () => {
    const banner = relay.output.join('\n');
    expect(banner).toContain('POST');
    expect(banner).toMatch(/\/collect/);
    expect(banner).toMatch(/\/webhooks\/stripe/);
    expect(banner).toMatch(/meta: live/);
  });

  it('delivers exactly one Meta event carrying the click’s fbc/fbp/IP/UA and the hashed customer data', async () => {
    const { visitorId, cookies } = await land(relay, 'https://shop.example.com/landing?fbclid=IwAR-e2e-Click_123&utm_source=facebook');
    expect(cookies._fbc).toMatch(/^fb\.1\.\d{13}\.IwAR-e2e-Click_123$/);
    const { id, payload } = checkoutCompleted({ client_reference_id: visitorId });

    const res = await postStripe(relay, payload, { secret: STRIPE_SECRET });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'accepted', conversions: [{ eventId: id }] });

    const [event] = await waitForMeta(id, 15_000, 'the Meta event');
    expect(eventsFor(id)).toHaveLength(1);
    expect(event).toMatchObject({
      event_name: 'Purchase',
      event_id: id,
      action_source: 'website',
      event_source_url: 'https://shop.example.com/landing?fbclid=IwAR-e2e-Click_123&utm_source=facebook',
      custom_data: { value: 49.99, currency: 'USD', order_id: id },
    });
    expect(event.user_data).toMatchObject({
      fbc: cookies._fbc,
      fbp: cookies._fbp,
      client_ip_address: '127.0.0.1',
      client_user_agent: BROWSER_UA,
      em: [sha256('jane.doe@example.com')],
      ph: [sha256('14155550100')],
      fn: [sha256('jane')],
      ln: [sha256('doe')],
      ct: [sha256('sanfrancisco')],
      st: [sha256('ca')],
      zp: [sha256('94105')],
      country: [sha256('us')],
    });
    const row = await metaLedgerRow(id, 'delivered', 5_000);
    expect(row).toMatchObject({ sk: 'D#meta', status: 'delivered', attempts: 1, orderId: id });
  });

  it('turns the same webhook delivered three times into one Meta event', async () => {
    const { id, payload } = checkoutCompleted();
    const statuses = await redeliver(3, () => postStripe(relay, payload, { secret: STRIPE_SECRET })); // Stripe re-signs each delivery
    expect(statuses).toEqual([
      [200, 'accepted'],
      [200, 'duplicate'],
      [200, 'duplicate'],
    ]);
    await waitForMeta(id, 15_000, 'the Meta event');
    await sleep(1500); // time for any second delivery to show up
    expect(eventsFor(id)).toHaveLength(1);
    expect(requestsFor(id)).toHaveLength(1);
  });

  it('rejects a bad signature with 400 and a JSON error, and enqueues nothing', async () => {
    const { id, payload } = checkoutCompleted();
    const res = await postStripe(relay, payload, { signature: sign(payload, 'whsec_not_the_right_secret') });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe('invalid_signature');
    expect(body.message).not.toContain(STRIPE_SECRET);
    expect(await relay.queueDepth('meta')).toBe(0);
    await sleep(800);
    expect(await relay.ledgerFor(id)).toEqual([]);
    expect(requestsFor(id)).toHaveLength(0);
  });

  it('retries Meta 500s with backoff and delivers once when Meta recovers', async () => {
    meta.failNext(2, { status: 500 });
    const { id, payload } = checkoutCompleted();
    expect((await postStripe(relay, payload, { secret: STRIPE_SECRET })).status).toBe(200);

    await waitForMeta(id, 20_000, 'delivery after two 500s');
    expect(eventsFor(id)).toHaveLength(1);
    const attempts = requestsFor(id);
    expect(attempts.map((r) => r.status)).toEqual([500, 500, 200]);
    // Growing visibility timeouts: the second retry waits longer than the first (1 s, then 2 s).
    expect(attempts[2].at - attempts[1].at).toBeGreaterThan(attempts[1].at - attempts[0].at);
    expect((await metaLedgerRow(id, 'delivered', 5_000)).attempts).toBe(3);
  });

  it('puts a permanently rejected conversion in the DLQ after one attempt, saying why', async () => {
    const { id, payload } = checkoutCompleted();
    meta.failWhen((e) => e.event_id === id, { status: 400, body: metaError(100, 'Invalid parameter', { subcode: 2804019 }) });
    expect((await postStripe(relay, payload, { secret: STRIPE_SECRET })).status).toBe(200);

    const letters = await relay.waitFor(async () => {
      const all = await relay.dlqMessages('meta');
      const mine = all.filter((m) => m.attributes.conversionId === id);
      return mine.length > 0 && mine;
    }, 15_000, 'the DLQ message');
    expect(letters).toHaveLength(1);
    expect(letters[0].attributes).toMatchObject({ destination: 'meta', errorCode: '100/2804019', attempts: '1', conversionId: id });
    expect(letters[0].attributes.errorMessage).toBeTruthy();
    expect(letters[0].body.eventId).toBe(id);
    expect(requestsFor(id)).toHaveLength(1);
    // The sender writes the ledger just after the DLQ.
    const row = await metaLedgerRow(id, 'dead_lettered', 5_000);
    expect(row).toMatchObject({ status: 'dead_lettered', errorCode: '100/2804019', attempts: 1 });
  });

  it('records an unrelated Stripe event as skipped with the reason', async () => {
    const payload = JSON.stringify({ id: 'evt_e2e_customer_created', object: 'event', type: 'customer.created', created: 1, livemode: false, data: { object: { id: 'cus_1', object: 'customer' } } });
    const res = await postStripe(relay, payload, { secret: STRIPE_SECRET });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'skipped', reason: expect.stringContaining('customer.created') });
    const rows = await relay.ledger();
    expect(rows.find((r) => r.pk === 'S#stripe#evt_e2e_customer_created')).toMatchObject({ status: 'skipped', reason: expect.stringContaining('not a conversion') });
  });

  it('keeps no raw personal data in tables, queues or logs', async () => {
    // Runs after the flows above, which carried CUSTOMER's e-mail, phone, name and address.
    const rows = JSON.stringify(await relay.ledger()).toLowerCase();
    const logs = relay.output.join('\n').toLowerCase();
    const dlq = JSON.stringify(await relay.dlqMessages('meta')).toLowerCase();
    for (const raw of ['jane.doe@example.com', 'jane doe', '415) 555', '4155550100', '1 market street', 'san francisco', '94105-1234']) {
      expect(rows).not.toContain(raw);
      expect(logs).not.toContain(raw);
      expect(dlq).not.toContain(raw);
    }
    expect(logs).not.toContain(META_TOKEN.toLowerCase());
    expect(logs).not.toContain(STRIPE_SECRET.toLowerCase());
  });

  it('loses nothing accepted when the runner is killed and restarted', async () => {
    meta.failNext(1000, { status: 503 });
    const { id, payload } = checkoutCompleted();
    expect((await postStripe(relay, payload, { secret: STRIPE_SECRET })).status).toBe(200);
    await metaLedgerRow(id, 'retrying', 15_000);

    await relay.kill();
    meta.reset(); // Meta is back
    await relay.restart(relayEnv(STRIPE_SECRET));
    await waitForMeta(id, 20_000, 'delivery after restart');
    expect(eventsFor(id)).toHaveLength(1);
  });
});

describe('without Meta credentials (dry-run)', () => {
  const relay = useTempRelay('relay-dry-', () => ({ STRIPE_WEBHOOK_SECRET: STRIPE_SECRET, META_API_BASE_URL: 'http://127.0.0.1:9' }));

  it('says so at start, and records the exact request it would have sent', async () => {
    expect(relay.output.join('\n')).toMatch(/meta: dry-run \(set META_PIXEL_ID, META_ACCESS_TOKEN/);
    const { id, payload } = checkoutCompleted();
    expect((await postStripe(relay, payload, { secret: STRIPE_SECRET })).status).toBe(200);
    const row = await waitForLedgerRow(relay, id, 'dry_run', { destination: 'meta', timeoutMs: 15_000 });
    const request = JSON.parse(row.request);
    expect(request.url).toMatch(/\/v\d+\.\d+\/<META_PIXEL_ID>\/events$/);
    expect(request.body.data).toHaveLength(1);
    expect(request.body.data[0]).toMatchObject({ event_name: 'Purchase', event_id: id, custom_data: { value: 49.99, currency: 'USD' } });
    // The log line is written just after the ledger row: wait for it rather than race it.
    await relay.waitFor(() => relay.output.some((l) => l.includes('dry run: not sent') && l.includes(id)), 5_000, 'the dry-run log line');
  });
});
