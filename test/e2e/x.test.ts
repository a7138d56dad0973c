import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startXFake, xErrorBody, type XFake } from '../fakes/x-server.ts';
import { sha256 } from '../support/factories.ts';
import { checkoutCompleted as paidCheckout, collectVisit, postStripe as postStripeWebhook, useTempRelay, waitForLedgerRow } from '../support/flows.ts';
import type { RelayProcess } from '../support/relay-process.ts';

/**
 * The X Conversion API end to end through `npm start`'s runner (its own process) against a fake that verifies every
 * request's OAuth 1.0a signature: a landing with twclid (or X's `_twclid` cookie) and a Stripe purchase reach X with
 * every identifier, grouped as X documents; a conversion X refuses is isolated from the others of its batch; a
 * signature X refuses (rotated keys) dead-letters with X's reason; without credentials X runs in dry-run.
 */
const STRIPE_SECRET = 'whsec_e2e_x';
const X = {
  pixelId: 'o8z6j',
  eventId: 'o87ne',
  credentials: { consumerKey: 'x-e2e-consumer-key', consumerSecret: 'x-e2e-consumer-secret', token: '18ce55-x-e2e-token', tokenSecret: 'x-e2e-token-secret' },
};
const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) conversion-relay-e2e-x';
const CUSTOMER = { email: 'Jane.Doe@Example.com', phone: '+1 (415) 555-0100', name: 'Jane Doe' };

let clicks = 0;
const twclid = () => `26l6412g5p4iyj65a2oic2ayg${++clicks}`;

/** A browser landing and its checkout: `id` is the purchase's event ID (its PaymentIntent); `post` sends Stripe's webhook. */
async function landAndCheckout(relay: RelayProcess, landing: { url: string; cookie?: string }) {
  const { visitorId } = await collectVisit(relay, landing.url, { userAgent: BROWSER_UA, referrer: 'https://x.com/', ...(landing.cookie && { cookie: landing.cookie }) });
  const order = paidCheckout('x', 4999, CUSTOMER, { client_reference_id: visitorId });
  return { id: order.id, post: async () => expect((await postStripeWebhook(relay, order.payload, { secret: STRIPE_SECRET })).status).toBe(200) };
}

async function purchase(relay: RelayProcess, landing: { url: string; cookie?: string }) {
  const order = await landAndCheckout(relay, landing);
  await order.post();
  return order.id;
}

describe('Stripe purchase → X Conversion API through the local runner', () => {
  let x: XFake;
  beforeAll(async () => {
    x = await startXFake({ pixelId: X.pixelId, eventIds: [X.eventId], credentials: X.credentials });
  });
  afterAll(() => x?.close());
  const relay = useTempRelay('relay-x-', () => ({
    STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
    X_CONSUMER_KEY: X.credentials.consumerKey,
    X_CONSUMER_SECRET: X.credentials.consumerSecret,
    X_ACCESS_TOKEN: X.credentials.token,
    X_ACCESS_TOKEN_SECRET: X.credentials.tokenSecret,
    X_PIXEL_ID: X.pixelId,
    X_EVENT_IDS: `Purchase=${X.eventId}`,
    X_API_BASE_URL: x.baseUrl,
    RELAY_RETRY_BASE_SECONDS: '1',
    RELAY_MAX_ATTEMPTS: '4',
  }));
  beforeEach(() => {
    x.reset();
    x.setCredentials(X.credentials);
  });
  const conversionsFor = (id: string) => x.events().filter((c) => c.conversion_id === id);

  it('delivers the purchase with every identifier: twclid in clear, e-mail and E.164 phone hashed, IP + UA together', async () => {
    expect(relay.output.join('\n')).toMatch(/\bx: live/);
    const click = twclid();
    const id = await purchase(relay, { url: `https://shop.example.com/landing?twclid=${click}` });

    const [got] = await relay.waitFor(() => conversionsFor(id).length > 0 && conversionsFor(id), 30_000, 'the purchase at X');
    expect(got).toMatchObject({ event_id: X.eventId, conversion_id: id, value: '49.99', price_currency: 'USD' });
    expect(got.conversion_time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(got.identifiers).toEqual([
      { twclid: click },
      { hashed_email: sha256('jane.doe@example.com') },
      { hashed_phone_number: sha256('+14155550100') },
      { ip_address: '127.0.0.1', user_agent: BROWSER_UA },
    ]);
    const row = await waitForLedgerRow(relay, id, 'delivered', { destination: 'x', timeoutMs: 20_000 });
    expect(row.m?.k ?? JSON.stringify(row)).toContain('twclid');

    const everything = relay.output.join('\n') + JSON.stringify(await relay.ledger());
    for (const secret of [X.credentials.consumerSecret, X.credentials.tokenSecret]) expect(everything).not.toContain(secret);
    expect(everything.toLowerCase()).not.toContain('jane.doe@example.com');
  });

  it('isolates the one conversion X refuses (X fails the whole request) and delivers the others; twclid from X’s _twclid cookie', async () => {
    const cookieClick = twclid();
    const orders = await Promise.all([0, 1, 2].map(() => landAndCheckout(relay, { url: 'https://shop.example.com/checkout', cookie: `_twclid=${cookieClick}` })));
    const ids = orders.map((o) => o.id);
    const bad = ids[1];
    x.failWhen((c) => c.conversion_id === bad, { status: 400, body: xErrorBody([{ code: 'INVALID_PARAMETER', message: `conversion_id (${bad}) is invalid`, parameter: 'conversion_id' }]) });
    await Promise.all(orders.map((o) => o.post()));

    const letter = await relay.waitFor(async () => (await relay.dlqMessages('x')).find((m) => m.attributes.conversionId === bad), 30_000, 'the X DLQ message');
    expect(letter.attributes).toMatchObject({ destination: 'x', errorCode: 'INVALID_PARAMETER', errorMessage: `conversion_id (${bad}) is invalid` });
    for (const good of [ids[0], ids[2]]) {
      await waitForLedgerRow(relay, good, 'delivered', { destination: 'x', timeoutMs: 20_000 });
      expect(conversionsFor(good)).toHaveLength(1);
      expect(conversionsFor(good)[0].identifiers[0]).toEqual({ twclid: cookieClick });
    }
    expect(conversionsFor(bad)).toHaveLength(0);
  });

  it('dead-letters with X’s reason when X refuses the signature (keys regenerated), without retrying', async () => {
    x.setCredentials({ ...X.credentials, consumerSecret: 'regenerated-in-the-developer-portal' });
    const id = await purchase(relay, { url: `https://shop.example.com/landing?twclid=${twclid()}` });

    const letter = await relay.waitFor(async () => (await relay.dlqMessages('x')).find((m) => m.attributes.conversionId === id), 30_000, 'the X DLQ message');
    expect(letter.attributes).toMatchObject({ destination: 'x', errorCode: 'UNAUTHORIZED_ACCESS', errorMessage: 'This request is not properly authenticated', attempts: '1' });
    expect(x.requests().filter((r) => JSON.stringify(r.body).includes(id)).map((r) => r.status)).toEqual([401]);
    expect(conversionsFor(id)).toHaveLength(0);
  });
});

describe('without X credentials', () => {
  const relay = useTempRelay('relay-x-dry-', () => ({ STRIPE_WEBHOOK_SECRET: STRIPE_SECRET }));

  it('records the exact X request it would have sent, unsigned, with placeholders', async () => {
    expect(relay.output.join('\n')).toMatch(/\bx: dry-run \(set X_CONSUMER_KEY, X_CONSUMER_SECRET, X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET, X_PIXEL_ID, X_EVENT_IDS/);
    const click = twclid();
    const id = await purchase(relay, { url: `https://shop.example.com/landing?twclid=${click}` });

    const row = await waitForLedgerRow(relay, id, 'dry_run', { destination: 'x', timeoutMs: 20_000 });
    const request = JSON.parse(row.request);
    expect(request.url).toBe('https://ads-api.x.com/12/measurement/conversions/<X_PIXEL_ID>');
    expect(request.headers.authorization).toMatch(/oauth_signature="<signed when sent>"/);
    expect(request.body).toMatchObject({ conversions: [{ event_id: '<X_EVENT_ID>', conversion_id: id, value: '49.99' }] });
    expect(request.body.conversions[0].identifiers.slice(0, 3)).toEqual([{ twclid: click }, { hashed_email: sha256('jane.doe@example.com') }, { hashed_phone_number: sha256('+14155550100') }]);
  });
});
