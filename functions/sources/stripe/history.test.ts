import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import type { ConversionDraft, SourceResult } from '#sources/types.ts';
import { NOW, signedStripeRequest, stripeEvent } from '../../../test/support/factories.ts';
import { TEST_VISITOR_ID as VISITOR_ID } from '../../../test/support/requests.ts';
import { onlyConversion as only } from '../../../test/support/source-results.ts';
import { stripeCharge, stripeDispute, stripeInvoice, stripePaymentIntent, stripeSession, stripeSubscription } from '../../../test/support/stripe-objects.ts';
import { asWebhookEvent, backfillEventId, needsChargeRefunds, type HistoryObject } from './history.ts';
import { readStripeEvent, stripeSource } from './index.ts';

/**
 * Backfill parity: an object listed from Stripe's API, wrapped as its webhook event, becomes the very conversion the
 * webhook made — same event ID, order, value, identifiers — so the ledger and the platforms keep one.
 */
const SECRET = 'whsec_history_secret';
const NOW_S = Math.floor(NOW.getTime() / 1000);
const SETTINGS = { STRIPE_WEBHOOK_SECRET: SECRET };

async function viaWebhook(type: string, object: object): Promise<SourceResult> {
  // A real webhook carries Stripe's own event ID, which a listed object does not have; its mode is its object's.
  const livemode = (object as { livemode?: boolean }).livemode ?? false;
  return stripeSource.read(signedStripeRequest(stripeEvent(type, object, { id: 'evt_1RealWebhookId', created: NOW_S - 3600, livemode }), SECRET, { timestamp: NOW_S }), SETTINGS, NOW);
}

function viaBackfill(object: HistoryObject): SourceResult {
  const wrapped = asWebhookEvent(object);
  if ('skip' in wrapped) throw new Error(`not wrapped: ${wrapped.skip}`);
  return readStripeEvent(wrapped.event, SETTINGS);
}

/** What must agree between the two paths: everything but where the event came from and when it was recorded. */
const essence = ({ source, occurredAt, ...rest }: ConversionDraft) => rest;

const customer = { email: 'Jenny.Rosen@Example.com', name: 'Jenny Rosen', phone: '+1 650 555 1212', address: null, tax_exempt: 'none', tax_ids: [] };
const paidSession = stripeSession({ id: 'cs_live_hist_1', mode: 'payment', status: 'complete', payment_status: 'paid', amount_total: 4999, currency: 'usd', payment_intent: 'pi_hist_1', client_reference_id: VISITOR_ID, customer_details: customer, livemode: true, created: NOW_S - 7200 });

describe('stripe history: objects wrapped as their webhook events', () => {
  it('a Checkout Session becomes checkout.session.completed: the same Purchase as the webhook, keyed on its PaymentIntent', async () => {
    const hook = only(await viaWebhook('checkout.session.completed', paidSession));
    const back = only(viaBackfill(paidSession));
    expect(back.eventId).toBe('pi_hist_1');
    expect(essence(back)).toEqual(essence(hook));
    expect(back.source).toEqual({ name: 'stripe', eventId: backfillEventId('checkout.session.completed', 'cs_live_hist_1'), eventType: 'checkout.session.completed', livemode: true });
    expect(back.occurredAt).toBe(new Date(paidSession.created * 1000).toISOString());
  });

  it('its PaymentIntent, listed too, is the same conversion (one payment, one event ID)', () => {
    const intent = stripePaymentIntent({ id: 'pi_hist_1', status: 'succeeded', amount: 4999, amount_received: 4999, currency: 'usd', livemode: true });
    expect(only(viaBackfill(intent)).eventId).toBe(only(viaBackfill(paidSession)).eventId);
  });

  it('a PaymentIntent takes its latest charge\'s time when expanded, and only a succeeded one is a conversion', async () => {
    const intent = stripePaymentIntent({ id: 'pi_hist_2', status: 'succeeded', amount: 1500, amount_received: 1500, currency: 'eur', created: NOW_S - 9000, latest_charge: stripeCharge({ created: NOW_S - 8000 }) });
    expect(essence(only(viaBackfill(intent)))).toEqual(essence(only(await viaWebhook('payment_intent.succeeded', intent))));
    expect(only(viaBackfill(intent)).occurredAt).toBe(new Date((NOW_S - 8000) * 1000).toISOString());
    expect(asWebhookEvent(stripePaymentIntent({ status: 'requires_payment_method' }))).toEqual({ skip: 'payment intent requires_payment_method: no payment succeeded' });
  });

  it('a paid invoice becomes invoice.paid at its paid_at; an open one is not a conversion', async () => {
    const invoice = stripeInvoice({ id: 'in_hist_1', status: 'paid', amount_paid: 2900, billing_reason: 'subscription_create', customer_email: 'jenny@example.com', status_transitions: { paid_at: NOW_S - 500, finalized_at: null, marked_uncollectible_at: null, voided_at: null } });
    const back = only(viaBackfill(invoice));
    expect(essence(back)).toEqual(essence(only(await viaWebhook('invoice.paid', invoice))));
    expect(back.eventId).toBe('in_hist_1:subscribe');
    expect(back.occurredAt).toBe(new Date((NOW_S - 500) * 1000).toISOString());
    expect(asWebhookEvent(stripeInvoice({ status: 'open' }))).toMatchObject({ skip: expect.stringMatching(/invoice open: not paid/) });
  });

  it('a refund (listed with its charge expanded) becomes charge.refunded: the same retraction as the webhook', async () => {
    const charge = stripeCharge({ id: 'ch_hist_1', payment_intent: 'pi_hist_1', amount: 4999, amount_refunded: 4999, refunded: true, currency: 'usd' });
    const refund = { id: 're_hist_1', object: 'refund', amount: 4999, status: 'succeeded', created: NOW_S - 60, charge } as unknown as Stripe.Refund;
    const back = only(viaBackfill(refund));
    expect(essence(back)).toEqual(essence(only(await viaWebhook('charge.refunded', charge))));
    expect(back.adjustment).toMatchObject({ kind: 'refund', originalEventId: 'pi_hist_1', full: true });
    expect(asWebhookEvent({ ...refund, charge: 'ch_hist_1' } as Stripe.Refund)).toMatchObject({ skip: expect.stringMatching(/expand data\.charge/) });
    expect(asWebhookEvent({ ...refund, status: 'failed' } as Stripe.Refund)).toEqual({ skip: 'refund failed' });
  });

  it('a subscription that began with a trial becomes customer.subscription.created as it was then (trialing): the same StartTrial', async () => {
    const created = NOW_S - 5 * 86400;
    const sub = stripeSubscription({ id: 'sub_hist_trial', status: 'canceled', created, trial_start: created, trial_end: created + 3 * 86400, metadata: { visitor_id: VISITOR_ID }, livemode: true });
    const back = only(viaBackfill(sub));
    expect(essence(back)).toEqual(essence(only(await viaWebhook('customer.subscription.created', { ...sub, status: 'trialing' }))));
    expect(back).toMatchObject({ eventId: 'sub_hist_trial:starttrial', eventName: 'StartTrial', visitorId: VISITOR_ID, occurredAt: new Date(created * 1000).toISOString() });
    // No trial at creation (none at all, or one an update added later): its first paid invoice reports it.
    expect(asWebhookEvent(stripeSubscription({ status: 'active', created, trial_start: null, trial_end: null }))).toMatchObject({ skip: expect.stringMatching(/^subscription created without a trial/) });
    expect(asWebhookEvent(stripeSubscription({ status: 'trialing', created, trial_start: created + 86400, trial_end: created + 8 * 86400 }))).toMatchObject({ skip: expect.stringMatching(/^subscription created without a trial/) });
  });

  it('each partial refund becomes the charge.refunded it sent: amount_refunded up to it (failed ones not counted) in the event ID', async () => {
    const charge = stripeCharge({ id: 'ch_hist_2', payment_intent: 'pi_hist_2', amount: 5000, amount_refunded: 2500, refunded: false, currency: 'usd' });
    const refund = (id: string, amount: number, created: number, status = 'succeeded') => ({ id, object: 'refund', amount, status, created, charge: 'ch_hist_2' }) as unknown as Stripe.Refund;
    // Newest first, as Stripe lists them.
    const refunds = [refund('re_b', 1500, NOW_S - 60), refund('re_x', 700, NOW_S - 120, 'failed'), refund('re_a', 1000, NOW_S - 300)];
    const withList = (r: Stripe.Refund) => ({ ...r, charge: { ...charge, refunds: { object: 'list', data: refunds, has_more: false, url: '/v1/charges/ch_hist_2/refunds' } } }) as Stripe.Refund;
    const first = only(viaBackfill(withList(refunds[2])));
    expect(essence(first)).toEqual(essence(only(await viaWebhook('charge.refunded', { ...charge, amount_refunded: 1000 }))));
    expect(first.eventId).toBe('pi_hist_2:refund:1000');
    expect(only(viaBackfill(withList(refunds[0]))).eventId).toBe('pi_hist_2:refund:2500');
    // Without the charge's refunds the backfill cannot tell; with the charge's whole refunded amount in one refund it can.
    expect(needsChargeRefunds({ ...refunds[0], charge })).toBe(true);
    expect(asWebhookEvent({ ...refunds[0], charge })).toMatchObject({ skip: expect.stringMatching(/without the list of its refunds/) });
    expect(needsChargeRefunds({ ...refunds[0], amount: 2500, charge })).toBe(false);
    expect(needsChargeRefunds(withList(refunds[0]))).toBe(false);
  });

  it('an event listed from /v1/events is read as it is, under its own ID', () => {
    const invoice = stripeInvoice({ id: 'in_hist_ev', status: 'paid', amount_paid: 900, billing_reason: 'manual', customer_email: 'ev@example.com' });
    const event = stripeEvent('invoice.paid', invoice, { id: 'evt_hist_paid' });
    expect(asWebhookEvent(event)).toEqual({ event });
  });

  it('a dispute becomes charge.dispute.created, keyed on the dispute as the webhook is', async () => {
    const dispute = stripeDispute({ id: 'dp_hist_1', payment_intent: 'pi_hist_1', amount: 4999, currency: 'usd' });
    const back = only(viaBackfill(dispute));
    expect(essence(back)).toEqual(essence(only(await viaWebhook('charge.dispute.created', dispute))));
    expect(back.eventId).toMatch(/:dp_hist_1$/);
  });

  it('an open or expired session is not a conversion; a test-mode object is marked test, as its webhook is', () => {
    expect(asWebhookEvent(stripeSession({ status: 'expired' }))).toEqual({ skip: 'checkout session expired: not completed' });
    expect(only(viaBackfill({ ...paidSession, livemode: false })).test).toBe(true);
    expect(only(viaBackfill(paidSession)).test).toBeUndefined();
  });
});
