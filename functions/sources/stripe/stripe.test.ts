import { describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { RequestError } from '#core/errors.ts';
import { eventIdFor } from '#core/event-id.ts';
import type { Settings, SourceResult } from '#sources/types.ts';
import { NOW, sha256, signedStripeRequest, stripeCheckoutSession, stripeEvent } from '../../../test/support/factories.ts';
import { TEST_VISITOR_ID as VISITOR_ID, tampered } from '../../../test/support/requests.ts';
import { asConversion, onlyConversion, readFailure as readError } from '../../../test/support/source-results.ts';
import { stripeSource } from './index.ts';

const SECRET = 'whsec_test_secret';
const SETTINGS = { STRIPE_WEBHOOK_SECRET: SECRET };
const NOW_S = Math.floor(NOW.getTime() / 1000);

/** What a customer typed at checkout; the expected hashes below are of Meta's documented normalized forms. */
const CUSTOMER = {
  email: ' Jenny.Rosen@Example.com ',
  phone: '+1 650-555-1212',
  name: 'Jenny Rosen',
  address: { line1: '510 Townsend St', line2: null, city: 'San Francisco', state: 'CA', postal_code: '94103-1234', country: 'US' },
};

/** Stripe's sample session, completed and paid by CUSTOMER. */
function paidSession(overrides: Parameters<typeof stripeCheckoutSession>[0] = {}): Stripe.Checkout.Session {
  return stripeCheckoutSession({
    status: 'complete',
    payment_status: 'paid',
    amount_total: 1999,
    currency: 'usd',
    client_reference_id: VISITOR_ID,
    customer: 'cus_Q1w2e3R4t5',
    customer_details: CUSTOMER,
    ...overrides,
  });
}

/** Signs the event with the stripe package's own helper and reads it as Stripe would deliver it. */
function deliver(event: Stripe.Event, settings: Settings = SETTINGS, secret = SECRET): Promise<SourceResult> {
  return stripeSource.read(signedStripeRequest(event, secret, { timestamp: NOW_S }), settings, NOW);
}

describe('stripe source: checkout.session.completed', () => {
  it('turns a paid checkout into one Purchase in major units with an upper-case currency', async () => {
    // Prepare
    const session = paidSession();

    // Act
    const purchase = onlyConversion(await deliver(stripeEvent('checkout.session.completed', session)));

    // Assess
    expect(purchase.eventName).toBe('Purchase');
    expect(purchase.value).toBe(19.99);
    expect(purchase.currency).toBe('USD');
  });

  it('uses the PaymentIntent ID as order ID and event ID (payment_intent.succeeded carries the same one)', async () => {
    const session = paidSession();

    const purchase = onlyConversion(await deliver(stripeEvent('checkout.session.completed', session)));

    expect(purchase.orderId).toBe('pi_1PgafyB7WZ01zgkWSjxsAJo3');
    expect(purchase.eventId).toBe(eventIdFor('pi_1PgafyB7WZ01zgkWSjxsAJo3'));
  });

  it('falls back to the Checkout Session ID when the session has no PaymentIntent (nothing else reports it)', async () => {
    const session = paidSession({ payment_intent: null });

    const purchase = onlyConversion(await deliver(stripeEvent('checkout.session.completed', session)));

    expect(purchase.orderId).toBe('cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY');
    expect(purchase.eventId).toBe(eventIdFor(session.id));
  });

  it('takes the time and the source from the event envelope', async () => {
    const event = stripeEvent('checkout.session.completed', paidSession(), { id: 'evt_abc', created: NOW_S - 30 });

    const purchase = onlyConversion(await deliver(event));

    expect(purchase.occurredAt).toBe(new Date((NOW_S - 30) * 1000).toISOString());
    expect(purchase.source).toEqual({ name: 'stripe', eventId: 'evt_abc', eventType: 'checkout.session.completed', livemode: true });
  });

  it('flags a test-mode event (livemode: false) as a test, recorded and never sent, unless STRIPE_SEND_TEST_EVENTS=true', async () => {
    const event = stripeEvent('checkout.session.completed', paidSession(), { livemode: false });

    expect(onlyConversion(await deliver(event)).test).toBe(true);
    expect(onlyConversion(await deliver(event, { ...SETTINGS, STRIPE_SEND_TEST_EVENTS: 'true' })).test).toBeUndefined();
    expect(onlyConversion(await deliver(stripeEvent('checkout.session.completed', paidSession()))).test).toBeUndefined();
    await expect(deliver(event, { ...SETTINGS, STRIPE_SEND_TEST_EVENTS: 'yes' })).rejects.toThrow(/STRIPE_SEND_TEST_EVENTS must be true or false/);
  });

  it('hashes the customer’s e-mail, phone, name and address (SHA-256 of the documented normalized forms)', async () => {
    const purchase = onlyConversion(await deliver(stripeEvent('checkout.session.completed', paidSession())));

    expect(purchase.user).toMatchObject({
      email: sha256('jenny.rosen@example.com'),
      phone: 'e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176', // Meta's vector for 16505551212
      phoneE164: sha256('+16505551212'),
      firstName: sha256('jenny'),
      lastName: sha256('rosen'),
      street: sha256('510 townsend st'),
      city: sha256('sanfrancisco'),
      state: sha256('ca'),
      zip: sha256('94103'),
      country: '79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621', // Meta's vector for us
      externalId: sha256('cus_Q1w2e3R4t5'),
    });
    for (const key of ['email', 'phone', 'phoneE164', 'firstName', 'lastName', 'street', 'city', 'state', 'zip', 'country', 'externalId'] as const) {
      expect(purchase.user[key], key).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('falls back to customer_email when the details carry no e-mail', async () => {
    const session = paidSession({ customer_email: 'buyer@example.org', customer_details: { email: null } });

    const purchase = onlyConversion(await deliver(stripeEvent('checkout.session.completed', session)));

    expect(purchase.user.email).toBe(sha256('buyer@example.org'));
  });

  it('returns no raw personal data anywhere in the result', async () => {
    const result = await deliver(stripeEvent('checkout.session.completed', paidSession()));

    const text = JSON.stringify(result).toLowerCase();
    for (const raw of ['jenny', 'rosen', '@example.com', '650-555-1212', '6505551212', 'townsend', 'san francisco', 'sanfrancisco', '94103']) {
      expect(text, raw).not.toContain(raw);
    }
  });

  it('produces a draft that becomes a valid Conversion once clicks and consent are attached', async () => {
    const purchase = onlyConversion(await deliver(stripeEvent('checkout.session.completed', paidSession())));

    expect(() => asConversion(purchase)).not.toThrow();
  });

  it('converts a zero-decimal currency without dividing (JPY 500 → 500)', async () => {
    const session = paidSession({ amount_total: 500, currency: 'jpy' });

    const purchase = onlyConversion(await deliver(stripeEvent('checkout.session.completed', session)));

    expect(purchase.value).toBe(500);
    expect(purchase.currency).toBe('JPY');
  });

  it('reads the visitor ID from client_reference_id', async () => {
    const purchase = onlyConversion(await deliver(stripeEvent('checkout.session.completed', paidSession())));

    expect(purchase.visitorId).toBe(VISITOR_ID);
  });

  it('reads the visitor ID from metadata.visitor_id when client_reference_id is empty', async () => {
    const session = paidSession({ client_reference_id: null, metadata: { visitor_id: VISITOR_ID } });

    const purchase = onlyConversion(await deliver(stripeEvent('checkout.session.completed', session)));

    expect(purchase.visitorId).toBe(VISITOR_ID);
  });

  it('ignores a visitor ID of the wrong shape', async () => {
    const session = paidSession({ client_reference_id: '<script>x</script>', metadata: { visitor_id: 'short' } });

    const purchase = onlyConversion(await deliver(stripeEvent('checkout.session.completed', session)));

    expect(purchase.visitorId).toBeUndefined();
  });

  it('skips an unpaid checkout, saying checkout.session.async_payment_succeeded will follow', async () => {
    // Stripe's sample session is itself unpaid (payment_status "unpaid").
    const result = await deliver(stripeEvent('checkout.session.completed', stripeCheckoutSession()));

    expect(result.kind).toBe('skipped');
    expect(result.kind === 'skipped' && result.reason).toMatch(/checkout\.session\.async_payment_succeeded/);
  });

  it('skips a checkout that needed no payment (free trial), with the reason', async () => {
    const session = paidSession({ mode: 'subscription', payment_status: 'no_payment_required', amount_total: 0 });

    const result = await deliver(stripeEvent('checkout.session.completed', session));

    expect(result.kind).toBe('skipped');
    expect(result.kind === 'skipped' && result.reason).toMatch(/no_payment_required/);
  });

  it('skips a setup-mode checkout (no payment collected)', async () => {
    const session = paidSession({ mode: 'setup', payment_status: 'no_payment_required', amount_total: null });

    const result = await deliver(stripeEvent('checkout.session.completed', session));

    expect(result.kind).toBe('skipped');
    expect(result.kind === 'skipped' && result.reason).toMatch(/setup/);
  });
});

describe('stripe source: checkout.session.async_payment_succeeded', () => {
  it('reports the Purchase, with the event ID the completed event would have had', async () => {
    // Prepare
    const session = paidSession();

    // Act
    const completed = onlyConversion(await deliver(stripeEvent('checkout.session.completed', session, { id: 'evt_1' })));
    const late = onlyConversion(await deliver(stripeEvent('checkout.session.async_payment_succeeded', session, { id: 'evt_2' })));

    // Assess
    expect(late.eventName).toBe('Purchase');
    expect(late.value).toBe(19.99);
    expect(late.eventId).toBe(completed.eventId);
    expect(late.source.eventType).toBe('checkout.session.async_payment_succeeded');
  });
});

describe('stripe source: other event types', () => {
  it('skips an event type that is not a conversion, naming it in the reason', async () => {
    const event = stripeEvent('customer.created', { id: 'cus_NffrFeUfNV2Hib', object: 'customer' }, { id: 'evt_cust' });

    const result = await deliver(event);

    expect(result).toMatchObject({ kind: 'skipped', sourceEventId: 'evt_cust', eventType: 'customer.created' });
    expect(result.kind === 'skipped' && result.reason).toMatch(/customer\.created/);
  });
});

describe('stripe source: signature verification', () => {
  it('rejects a request signed with another secret: 400 invalid_signature', async () => {
    const err = await readError(deliver(stripeEvent('checkout.session.completed', paidSession()), SETTINGS, 'whsec_someone_else'));

    expect(err).toBeInstanceOf(RequestError);
    expect(err).toMatchObject({ status: 400, code: 'invalid_signature' });
  });

  it('rejects a body changed after signing: 400 invalid_signature', async () => {
    // Prepare
    const request = tampered(signedStripeRequest(stripeEvent('checkout.session.completed', paidSession()), SECRET, { timestamp: NOW_S }), '"amount_total":1999', '"amount_total":1');

    // Act
    const err = await readError(stripeSource.read(request, SETTINGS, NOW));

    // Assess
    expect(err).toMatchObject({ status: 400, code: 'invalid_signature' });
  });

  it('rejects a request without the Stripe-Signature header: 400', async () => {
    const request = signedStripeRequest(stripeEvent('checkout.session.completed', paidSession()), SECRET, { timestamp: NOW_S });
    delete request.headers['stripe-signature'];

    const err = await readError(stripeSource.read(request, SETTINGS, NOW));

    expect(err).toBeInstanceOf(RequestError);
    expect(err).toMatchObject({ status: 400 });
  });

  it('rejects a signature whose timestamp is more than 300 s old (Stripe’s default tolerance)', async () => {
    const request = signedStripeRequest(stripeEvent('checkout.session.completed', paidSession()), SECRET, { timestamp: NOW_S - 301 });

    const err = await readError(stripeSource.read(request, SETTINGS, NOW));

    expect(err).toMatchObject({ status: 400, code: 'invalid_signature' });
  });

  it('rejects a signature dated more than 300 s in the future (a pre-dated replay): 400 invalid_signature', async () => {
    const request = signedStripeRequest(stripeEvent('checkout.session.completed', paidSession()), SECRET, { timestamp: NOW_S + 301 });

    const err = await readError(stripeSource.read(request, SETTINGS, NOW));

    expect(err).toMatchObject({ status: 400, code: 'invalid_signature' });
  });

  it('rejects a genuinely signed checkout whose amount is not an integer of minor units: 422, not a retryable 500', async () => {
    const event = stripeEvent('checkout.session.completed', paidSession({ amount_total: 12.5 }));

    const err = await readError(deliver(event, SETTINGS, SECRET));

    expect(err).toMatchObject({ status: 422, code: 'unreadable_event' });
  });

  it('accepts a signature just inside the tolerance, measured from the given clock', async () => {
    const request = signedStripeRequest(stripeEvent('checkout.session.completed', paidSession()), SECRET, { timestamp: NOW_S - 299 });

    const result = await stripeSource.read(request, SETTINGS, NOW);

    expect(result.kind).toBe('conversions');
  });

  it('accepts an event signed with the second of several comma-separated secrets (rotation)', async () => {
    const settings = { STRIPE_WEBHOOK_SECRET: 'whsec_old_secret, whsec_new_secret' };

    const result = await deliver(stripeEvent('checkout.session.completed', paidSession()), settings, 'whsec_new_secret');

    expect(result.kind).toBe('conversions');
  });

  it('rejects an event signed with none of several secrets', async () => {
    const settings = { STRIPE_WEBHOOK_SECRET: 'whsec_old_secret,whsec_new_secret' };

    const err = await readError(deliver(stripeEvent('checkout.session.completed', paidSession()), settings, 'whsec_other'));

    expect(err).toMatchObject({ status: 400, code: 'invalid_signature' });
  });

  it('rejects a header with only a v0 (test-mode legacy) signature: 400 invalid_signature, as Stripe’s verifier does', async () => {
    const request = signedStripeRequest(stripeEvent('checkout.session.completed', paidSession()), SECRET, { timestamp: NOW_S });
    request.headers['stripe-signature'] = request.headers['stripe-signature']!.replace('v1=', 'v0=');

    const err = await readError(stripeSource.read(request, SETTINGS, NOW));

    expect(err).toMatchObject({ status: 400, code: 'invalid_signature' });
  });

  it('accepts a header whose matching v1 signature follows one that does not (Stripe sends one per active secret)', async () => {
    const request = signedStripeRequest(stripeEvent('checkout.session.completed', paidSession()), SECRET, { timestamp: NOW_S });
    request.headers['stripe-signature'] = request.headers['stripe-signature']!.replace('v1=', `v1=${'0'.repeat(64)},v1=`);

    const result = await stripeSource.read(request, SETTINGS, NOW);

    expect(result.kind).toBe('conversions');
  });

  it('rejects a correctly signed body that is not JSON: 400 malformed_body', async () => {
    const request = signedStripeRequest(stripeEvent('checkout.session.completed', paidSession()), SECRET, { timestamp: NOW_S, payload: 'not json' });

    const err = await readError(stripeSource.read(request, SETTINGS, NOW));

    expect(err).toMatchObject({ status: 400, code: 'malformed_body' });
  });

  it.each(['null', '"evt"', '[]', '{}'])('rejects a correctly signed body that is not a Stripe event (%s): 400 malformed_event', async (payload) => {
    const request = signedStripeRequest(stripeEvent('checkout.session.completed', paidSession()), SECRET, { timestamp: NOW_S, payload });

    const err = await readError(stripeSource.read(request, SETTINGS, NOW));

    expect(err).toMatchObject({ status: 400, code: 'malformed_event' });
  });

  it('throws a plain Error (a 500, so Stripe retries) when STRIPE_WEBHOOK_SECRET is not configured', async () => {
    for (const settings of [{}, { STRIPE_WEBHOOK_SECRET: '' }, { STRIPE_WEBHOOK_SECRET: ' , ' }]) {
      const err = await readError(deliver(stripeEvent('checkout.session.completed', paidSession()), settings));

      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(RequestError);
    }
  });
});
