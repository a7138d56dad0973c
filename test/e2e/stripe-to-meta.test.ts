import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { metaError, startMetaFake, type MetaFake } from '../fakes/meta-server.ts';
import { PROJECT_ROOT, startRelay, type RelayProcess } from '../support/relay-process.ts';

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
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A checkout.session fixture from Stripe's published fixtures, made paid and given an amount and a customer. */
const fixture = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/stripe/checkout.session.json'), 'utf8'));
let sessionCounter = 0;
function checkoutCompleted(overrides: Record<string, unknown> = {}) {
  const id = `cs_test_e2e_${Date.now()}_${++sessionCounter}`;
  const session = {
    ...fixture,
    id,
    amount_total: 4999,
    amount_subtotal: 4999,
    currency: 'usd',
    payment_status: 'paid',
    status: 'complete',
    customer_details: { ...fixture.customer_details, ...CUSTOMER },
    ...overrides,
  };
  const event = {
    id: `evt_e2e_${id}`,
    object: 'event',
    api_version: '2026-10-28.endive',
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'checkout.session.completed',
    data: { object: session },
  };
  return { id, payload: JSON.stringify(event) };
}

const sign = (payload: string, secret = STRIPE_SECRET) => Stripe.webhooks.generateTestHeaderString({ payload, secret });

describe('Stripe purchase → Meta CAPI through the local runner', () => {
  let meta: MetaFake;
  let relay: RelayProcess;
  let dataDir: string;

  const postStripe = (payload: string, signature: string) =>
    fetch(`${relay.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body: payload });

  async function land(url: string) {
    const res = await fetch(`${relay.url}/collect`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': BROWSER_UA },
      body: JSON.stringify({ url, referrer: 'https://www.facebook.com/' }),
    });
    expect(res.status).toBe(200);
    const cookies = Object.fromEntries(res.headers.getSetCookie().map((c) => c.split(';')[0].split('=') as [string, string]));
    return { visitorId: ((await res.json()) as { visitorId: string }).visitorId, cookies };
  }

  const eventsFor = (eventId: string) => meta.events().filter((e) => e.event_id === eventId);
  const requestsFor = (eventId: string) => meta.requests.filter((r) => JSON.stringify(r.body ?? '').includes(eventId));

  beforeAll(async () => {
    meta = await startMetaFake({ pixelId: PIXEL_ID, accessToken: META_TOKEN });
    dataDir = mkdtempSync(path.join(tmpdir(), 'relay-e2e-'));
    relay = await startRelay(
      {
        STRIPE_WEBHOOK_SECRET: `whsec_old_rotated_secret,${STRIPE_SECRET}`,
        META_PIXEL_ID: PIXEL_ID,
        META_ACCESS_TOKEN: META_TOKEN,
        META_API_BASE_URL: meta.baseUrl,
        RELAY_RETRY_BASE_SECONDS: '1',
        RELAY_MAX_ATTEMPTS: '4',
      },
      dataDir,
    );
  });
  afterAll(async () => {
    await relay?.stop();
    await meta?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  beforeEach(() => meta.reset());

  it('prints its routes and that Meta is live', () => {
    const banner = relay.output.join('\n');
    expect(banner).toContain('POST');
    expect(banner).toMatch(/\/collect/);
    expect(banner).toMatch(/\/webhooks\/stripe/);
    expect(banner).toMatch(/meta: live/);
  });

  it('delivers exactly one Meta event carrying the click’s fbc/fbp/IP/UA and the hashed customer data', async () => {
    const { visitorId, cookies } = await land('https://shop.example.com/landing?fbclid=IwAR-e2e-Click_123&utm_source=facebook');
    expect(cookies._fbc).toMatch(/^fb\.1\.\d{13}\.IwAR-e2e-Click_123$/);
    const { id, payload } = checkoutCompleted({ client_reference_id: visitorId });

    const res = await postStripe(payload, sign(payload));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'accepted', conversions: [{ eventId: id }] });

    const [event] = await relay.waitFor(() => eventsFor(id).length > 0 && eventsFor(id), 15_000, 'the Meta event');
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
    const [row] = await relay.waitFor(async () => {
      const rows = await relay.ledgerFor(id, 'meta');
      return rows[0]?.status === 'delivered' && rows;
    }, 5_000, 'the ledger to say delivered');
    expect(row).toMatchObject({ sk: 'D#meta', status: 'delivered', attempts: 1, orderId: id });
  });

  it('turns the same webhook delivered three times into one Meta event', async () => {
    const { id, payload } = checkoutCompleted();
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const res = await postStripe(payload, sign(payload)); // Stripe re-signs each delivery
      statuses.push([res.status, ((await res.json()) as { status: string }).status]);
    }
    expect(statuses).toEqual([
      [200, 'accepted'],
      [200, 'duplicate'],
      [200, 'duplicate'],
    ]);
    await relay.waitFor(() => eventsFor(id).length > 0, 15_000, 'the Meta event');
    await new Promise((r) => setTimeout(r, 1500)); // time for any second delivery to show up
    expect(eventsFor(id)).toHaveLength(1);
    expect(requestsFor(id)).toHaveLength(1);
  });

  it('rejects a bad signature with 400 and a JSON error, and enqueues nothing', async () => {
    const { id, payload } = checkoutCompleted();
    const res = await postStripe(payload, sign(payload, 'whsec_not_the_right_secret'));
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe('invalid_signature');
    expect(body.message).not.toContain(STRIPE_SECRET);
    expect(await relay.queueDepth('meta')).toBe(0);
    await new Promise((r) => setTimeout(r, 800));
    expect(await relay.ledgerFor(id)).toEqual([]);
    expect(requestsFor(id)).toHaveLength(0);
  });

  it('retries Meta 500s with backoff and delivers once when Meta recovers', async () => {
    meta.failNext(2, { status: 500 });
    const { id, payload } = checkoutCompleted();
    expect((await postStripe(payload, sign(payload))).status).toBe(200);

    await relay.waitFor(() => eventsFor(id).length > 0, 20_000, 'delivery after two 500s');
    expect(eventsFor(id)).toHaveLength(1);
    const attempts = requestsFor(id);
    expect(attempts.map((r) => r.status)).toEqual([500, 500, 200]);
    // Growing visibility timeouts: the second retry waits longer than the first (1 s, then 2 s).
    expect(attempts[2].at - attempts[1].at).toBeGreaterThan(attempts[1].at - attempts[0].at);
    const rows = await relay.waitFor(async () => {
      const r = await relay.ledgerFor(id, 'meta');
      return r[0]?.status === 'delivered' && r;
    }, 5_000, 'ledger delivered');
    expect(rows[0].attempts).toBe(3);
  });

  it('puts a permanently rejected conversion in the DLQ after one attempt, saying why', async () => {
    const { id, payload } = checkoutCompleted();
    meta.failWhen((e) => e.event_id === id, { status: 400, body: metaError(100, 'Invalid parameter', { subcode: 2804019 }) });
    expect((await postStripe(payload, sign(payload))).status).toBe(200);

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
    const [row] = await relay.waitFor(async () => {
      const rows = await relay.ledgerFor(id, 'meta');
      return rows[0]?.status === 'dead_lettered' && rows;
    }, 5_000, 'the ledger to say dead_lettered');
    expect(row).toMatchObject({ status: 'dead_lettered', errorCode: '100/2804019', attempts: 1 });
  });

  it('records an unrelated Stripe event as skipped with the reason', async () => {
    const payload = JSON.stringify({ id: 'evt_e2e_customer_created', object: 'event', type: 'customer.created', created: 1, livemode: false, data: { object: { id: 'cus_1', object: 'customer' } } });
    const res = await postStripe(payload, sign(payload));
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
    expect((await postStripe(payload, sign(payload))).status).toBe(200);
    await relay.waitFor(async () => (await relay.ledgerFor(id, 'meta'))[0]?.status === 'retrying', 15_000, 'a failed attempt');

    await relay.kill();
    meta.reset(); // Meta is back
    relay = await startRelay(
      {
        STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
        META_PIXEL_ID: PIXEL_ID,
        META_ACCESS_TOKEN: META_TOKEN,
        META_API_BASE_URL: meta.baseUrl,
        RELAY_RETRY_BASE_SECONDS: '1',
        RELAY_MAX_ATTEMPTS: '4',
      },
      dataDir,
    );
    await relay.waitFor(() => eventsFor(id).length > 0, 20_000, 'delivery after restart');
    expect(eventsFor(id)).toHaveLength(1);
  });
});

describe('without Meta credentials (dry-run)', () => {
  let relay: RelayProcess;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'relay-dry-'));
    relay = await startRelay({ STRIPE_WEBHOOK_SECRET: STRIPE_SECRET, META_API_BASE_URL: 'http://127.0.0.1:9' }, dataDir);
  });
  afterAll(async () => {
    await relay?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('says so at start, and records the exact request it would have sent', async () => {
    expect(relay.output.join('\n')).toMatch(/meta: dry-run \(set META_PIXEL_ID, META_ACCESS_TOKEN/);
    const { id, payload } = checkoutCompleted();
    expect((await postStripe(relay, payload)).status).toBe(200);
    const [row] = await relay.waitFor(async () => {
      const rows = await relay.ledgerFor(id, 'meta');
      return rows[0]?.status === 'dry_run' && rows;
    }, 15_000, 'the dry-run ledger row');
    const request = JSON.parse(row.request);
    expect(request.url).toMatch(/\/v\d+\.\d+\/<META_PIXEL_ID>\/events$/);
    expect(request.body.data).toHaveLength(1);
    expect(request.body.data[0]).toMatchObject({ event_name: 'Purchase', event_id: id, custom_data: { value: 49.99, currency: 'USD' } });
    expect(relay.output.some((l) => l.includes('dry run: not sent') && l.includes(id))).toBe(true);
  });

  function postStripe(r: RelayProcess, payload: string) {
    return fetch(`${r.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': sign(payload) }, body: payload });
  }
});
