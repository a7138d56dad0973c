import { describe, expect, it } from 'vitest';
import type { SourceResult } from '#sources/types.ts';
import { NOW, sha256, signedStripeRequest, stripeEvent } from '../../../test/support/factories.ts';
import { TEST_VISITOR_ID as VISITOR_ID } from '../../../test/support/requests.ts';
import { asConversion, onlyConversion as only, skippedResult } from '../../../test/support/source-results.ts';
import { stripeCharge, stripeDispute, stripeInvoice, stripePaymentIntent, stripeSession, stripeSubscription } from '../../../test/support/stripe-objects.ts';
import { stripeSource } from './index.ts';

/**
 * The Stripe events beyond checkout: subscriptions, trials, PaymentIntents, refunds, disputes, Payment Links, and
 * the rule that one payment is one conversion whichever events report it. Objects are Stripe's published fixtures,
 * signed with the stripe package's test-header helper.
 */
const SECRET = 'whsec_events_secret';
const NOW_S = Math.floor(NOW.getTime() / 1000);
const PI = 'pi_1PgafyB7WZ01zgkWSjxsAJo3';
const INVOICE = 'in_1Pgc6tB7WZ01zgkWu9fdqL6I';

function deliver(type: string, object: object, settings: Record<string, string> = {}, id = `evt_${type}`): Promise<SourceResult> {
  return stripeSource.read(signedStripeRequest(stripeEvent(type, object, { id }), SECRET, { timestamp: NOW_S }), { STRIPE_WEBHOOK_SECRET: SECRET, ...settings }, NOW);
}

const skipReason = (result: SourceResult): string => skippedResult(result).reason;

const paidInvoice = (o: Record<string, unknown> = {}) =>
  stripeInvoice({
    status: 'paid',
    amount_paid: 2900,
    billing_reason: 'subscription_create',
    customer_email: 'Jenny.Rosen@Example.com',
    customer_name: 'Jenny Rosen',
    parent: { type: 'subscription_details', quote_details: null, subscription_details: { subscription: 'sub_1Pgc6rB7WZ01zgkWNy0Cn5nw', metadata: { visitor_id: VISITOR_ID } } },
    ...o,
  });

const paidCheckout = (o: Record<string, unknown> = {}) =>
  stripeSession({ status: 'complete', payment_status: 'paid', amount_total: 1099, currency: 'usd', customer_details: { email: 'jenny.rosen@example.com', name: 'Jenny Rosen', phone: null, address: null, tax_exempt: 'none', tax_ids: [] }, ...o });

describe('stripe: invoice.paid', () => {
  it('turns the first invoice of a subscription into Subscribe, keyed on the invoice', async () => {
    const subscribe = only(await deliver('invoice.paid', paidInvoice()));

    expect(subscribe).toMatchObject({ eventName: 'Subscribe', eventId: `${INVOICE}:subscribe`, orderId: INVOICE, value: 29, currency: 'USD', visitorId: VISITOR_ID });
    expect(subscribe.user.email).toBe(sha256('jenny.rosen@example.com'));
    expect(subscribe.user.externalId).toBe(sha256('cus_QXg1o8vcGmoR32'));
  });

  it('turns a renewal into a recurring Purchase keyed on its own invoice', async () => {
    const renewal = only(await deliver('invoice.paid', paidInvoice({ id: 'in_renewal_2', billing_reason: 'subscription_cycle' })));

    expect(renewal).toMatchObject({ eventName: 'Purchase', eventId: 'in_renewal_2', orderId: 'in_renewal_2', value: 29 });
  });

  it('skips renewals when RELAY_MAPPING turns subscription.renewal off, saying so', async () => {
    const settings = { RELAY_MAPPING: '{"sources":{"stripe":{"subscription.renewal":null}}}' };

    const reason = skipReason(await deliver('invoice.paid', paidInvoice({ billing_reason: 'subscription_cycle' }), settings));

    expect(reason).toMatch(/RELAY_MAPPING turns stripe trigger subscription\.renewal off/);
  });

  it('reports a one-off (manual) invoice as a Purchase', async () => {
    expect(only(await deliver('invoice.paid', paidInvoice({ billing_reason: 'manual' }))).eventName).toBe('Purchase');
  });

  it('skips a $0 first invoice (a trial: customer.subscription.created reports StartTrial)', async () => {
    expect(skipReason(await deliver('invoice.paid', paidInvoice({ amount_paid: 0 })))).toMatch(/nothing was paid/);
  });

  it('skips a proration invoice (subscription_update), naming the billing reason', async () => {
    expect(skipReason(await deliver('invoice.paid', paidInvoice({ billing_reason: 'subscription_update' })))).toMatch(/subscription_update is not a purchase/);
  });

  it('renames through RELAY_MAPPING (first payment reported as Purchase)', async () => {
    const settings = { RELAY_MAPPING: '{"sources":{"stripe":{"subscription.first_payment":"Purchase"}}}' };

    expect(only(await deliver('invoice.paid', paidInvoice(), settings))).toMatchObject({ eventName: 'Purchase', eventId: INVOICE });
  });
});

describe('stripe: one payment, one conversion', () => {
  it('gives a Checkout payment and its payment_intent.succeeded the same event ID and order ID', async () => {
    const fromCheckout = only(await deliver('checkout.session.completed', paidCheckout(), {}, 'evt_1'));
    const fromIntent = only(await deliver('payment_intent.succeeded', stripePaymentIntent({ status: 'succeeded', amount_received: 1099, receipt_email: 'jenny.rosen@example.com' }), {}, 'evt_2'));

    expect(fromIntent).toMatchObject({ eventName: 'Purchase', eventId: fromCheckout.eventId, orderId: fromCheckout.orderId, value: fromCheckout.value, currency: 'USD' });
    expect(fromCheckout.eventId).toBe(PI);
  });

  it('gives a subscription-mode Checkout and the first invoice.paid the same Subscribe event ID', async () => {
    const session = paidCheckout({ mode: 'subscription', invoice: INVOICE, subscription: 'sub_1Pgc6rB7WZ01zgkWNy0Cn5nw', payment_intent: null, amount_total: 2900 });

    const fromCheckout = only(await deliver('checkout.session.completed', session, {}, 'evt_1'));
    const fromInvoice = only(await deliver('invoice.paid', paidInvoice(), {}, 'evt_2'));

    expect(fromCheckout).toMatchObject({ eventName: 'Subscribe', eventId: fromInvoice.eventId, orderId: INVOICE, value: 29 });
  });

  it('leaves an invoice’s PaymentIntent to invoice.paid (older API versions link them)', async () => {
    const reason = skipReason(await deliver('payment_intent.succeeded', stripePaymentIntent({ status: 'succeeded', invoice: INVOICE })));

    expect(reason).toMatch(/reported from invoice\.paid/);
  });

  it('reads a Payment Link checkout (payment_link set, visitor ID in client_reference_id) as a Purchase', async () => {
    const session = paidCheckout({ payment_link: 'plink_1PgagBB7WZ01zgkWv8g3gEa1', client_reference_id: VISITOR_ID });

    expect(only(await deliver('checkout.session.completed', session))).toMatchObject({ eventName: 'Purchase', eventId: PI, visitorId: VISITOR_ID });
  });
});

describe('stripe: customer.subscription.created', () => {
  it('turns a trialing subscription into StartTrial, without value or order', async () => {
    const trial = only(await deliver('customer.subscription.created', stripeSubscription({ status: 'trialing', metadata: { visitor_id: VISITOR_ID } })));

    expect(trial).toMatchObject({ eventName: 'StartTrial', eventId: 'sub_1Pgc6rB7WZ01zgkWNy0Cn5nw:starttrial', visitorId: VISITOR_ID });
    expect(trial.value).toBeUndefined();
    expect(trial.orderId).toBeUndefined();
    expect(trial.user.externalId).toBe(sha256('cus_QXg1o8vcGmoR32'));
  });

  it('skips a subscription created active (its first invoice.paid reports it)', async () => {
    expect(skipReason(await deliver('customer.subscription.created', stripeSubscription()))).toMatch(/status active, not in a trial/);
  });
});

describe('stripe: refunds and chargebacks', () => {
  const refunded = (o: Record<string, unknown> = {}) =>
    stripeCharge({ payment_intent: PI, amount: 1099, amount_refunded: 1099, refunded: true, customer: 'cus_QXg1o8vcGmoR32', ...o });

  it('turns a full refund into a Refund adjustment linked to the purchase by order ID and event ID', async () => {
    const refund = only(await deliver('charge.refunded', refunded()));

    expect(refund).toMatchObject({
      eventName: 'Refund',
      eventId: `${PI}:refund:1099`,
      orderId: PI,
      value: 10.99,
      currency: 'USD',
      adjustment: { kind: 'refund', originalOrderId: PI, originalEventId: PI, full: true, remainingValue: 0 },
    });
  });

  it('tells a partial refund from a full one (amount_refunded < amount), with the value that remains', async () => {
    const refund = only(await deliver('charge.refunded', refunded({ amount_refunded: 300, refunded: false })));

    expect(refund.adjustment).toMatchObject({ full: false, remainingValue: 7.99 });
    expect(refund.value).toBe(3);
  });

  it('gives each further partial refund its own event ID, and a redelivery the same one', async () => {
    const first = only(await deliver('charge.refunded', refunded({ amount_refunded: 300, refunded: false }), {}, 'evt_a'));
    const again = only(await deliver('charge.refunded', refunded({ amount_refunded: 300, refunded: false }), {}, 'evt_a'));
    const second = only(await deliver('charge.refunded', refunded({ amount_refunded: 600, refunded: false }), {}, 'evt_b'));

    expect(again.eventId).toBe(first.eventId);
    expect(second.eventId).not.toBe(first.eventId);
  });

  it('links a refund of an invoice payment to the invoice (older API versions carry charge.invoice)', async () => {
    const refund = only(await deliver('charge.refunded', refunded({ invoice: INVOICE })));

    expect(refund.adjustment).toMatchObject({ originalOrderId: INVOICE });
    expect(refund.adjustment?.originalEventId).toBeUndefined();
  });

  it('turns a dispute into a Chargeback adjustment linked to the PaymentIntent', async () => {
    const chargeback = only(await deliver('charge.dispute.created', stripeDispute({ payment_intent: PI, amount: 1099 })));

    expect(chargeback).toMatchObject({
      eventName: 'Chargeback',
      eventId: `${PI}:chargeback:dp_1Pgc71B7WZ01zgkWMevJiAUx`,
      value: 10.99,
      adjustment: { kind: 'chargeback', originalOrderId: PI, originalEventId: PI, full: true },
    });
  });

  it('links a dispute without a PaymentIntent to its charge', async () => {
    const chargeback = only(await deliver('charge.dispute.created', stripeDispute()));

    expect(chargeback.adjustment).toMatchObject({ originalOrderId: 'ch_1PgafuB7WZ01zgkWXYmPNZs8' });
  });

  it('produces valid Conversions for every new event type', async () => {
    const drafts = [
      only(await deliver('charge.refunded', refunded())),
      only(await deliver('charge.dispute.created', stripeDispute({ payment_intent: PI }))),
      only(await deliver('invoice.paid', paidInvoice())),
      only(await deliver('customer.subscription.created', stripeSubscription({ status: 'trialing' }))),
      only(await deliver('payment_intent.succeeded', stripePaymentIntent({ status: 'succeeded', amount_received: 1099 }))),
    ];
    for (const d of drafts) expect(() => asConversion(d), d.eventName).not.toThrow();
  });
});
