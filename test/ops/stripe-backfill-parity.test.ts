import type Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Conversion } from '#core/conversion.ts';
import { ingestOptions } from '#handlers/ingest-ports.ts';
import { asWebhookEvent } from '#sources/stripe/history.ts';
import { readStripeEvent } from '#sources/stripe/index.ts';
import { backfill, type HistoryItem } from '../../lib/ops/backfill.ts';
import { stripeForBackfill, stripeHistory } from '../../lib/ops/stripe-history.ts';
import { startStripeApiFake, type StripeApiFake } from '../fakes/stripe-api-server.ts';
import { stripeEvent } from '../support/factories.ts';
import { memoryIngestPorts } from '../support/memory-ingest-ports.ts';
import { stripeCharge, stripeInvoice, stripeSession, stripeSubscription } from '../support/stripe-objects.ts';

/**
 * The Stripe backfill against the fake Stripe API, compared with the webhooks Stripe sent for the same objects: the
 * cases where today's state of an object is not what its webhook carried — a trial (the subscription is `active` or
 * `canceled` now, it was `trialing`), an invoice paid long after it was created, a charge refunded several times (its
 * amount_refunded is the total now, each webhook carried the total then). The backfill must give the same conversions
 * under the same event IDs, so the ledger and the platforms keep one of each.
 */
const KEY = 'rk_test_parity_backfill';
const NOW = new Date();
const S = Math.floor(NOW.getTime() / 1000);
const DAY = 86400;
const SETTINGS = { STRIPE_SEND_TEST_EVENTS: 'true' };
const WEEK = { gte: S - 7 * DAY, lte: S };

/** Feeds history items through the ingest pipeline (in memory) as the CLI does; a rerun passes the same ports. */
async function ingestAll(items: AsyncIterable<HistoryItem>, ports = memoryIngestPorts()) {
  const summary = await backfill(items, { source: 'stripe', ports: ports.ports, options: (at) => ingestOptions(SETTINGS, { ageCheckedAt: at }), known: async () => false, dryRun: false, now: () => NOW });
  return { summary, ports, conversions: ports.enqueued.map((e) => e.conversion) };
}

/** What the webhook path makes of the events Stripe sent (their own IDs and times), through the same pipeline. */
async function viaWebhooks(...events: Stripe.Event[]): Promise<Conversion[]> {
  async function* items(): AsyncGenerator<HistoryItem> {
    for (const event of events) yield { kind: 'webhooks', read: () => readStripeEvent(event, SETTINGS) };
  }
  return (await ingestAll(items())).conversions;
}

/** What must agree between the two paths: everything but the source event (and the time, compared on its own). */
const essence = ({ source, occurredAt, ...rest }: Conversion) => rest;
const byId = (list: Conversion[]) => [...list].sort((a, b) => a.eventId.localeCompare(b.eventId));
const timeOf = (list: Conversion[]) => Object.fromEntries(list.map((c) => [c.eventId, c.occurredAt]));

describe('Stripe backfill: the same conversions as the webhooks', () => {
  let fake: StripeApiFake;
  let stripe: Stripe;

  beforeAll(async () => {
    fake = await startStripeApiFake({ apiKey: KEY });
    stripe = stripeForBackfill({ settings: { STRIPE_API_KEY: KEY, STRIPE_API_BASE_URL: fake.baseUrl, STRIPE_BACKFILL_RATE: '1000' } });
  });
  afterAll(async () => fake?.close());
  beforeEach(() => fake.reset());

  /** One backfill of `window` as the CLI runs it: each listed object wrapped as its webhook event and read as one. */
  function run(window: { gte: number; lte: number }, ports = memoryIngestPorts()) {
    async function* items(): AsyncGenerator<HistoryItem> {
      for await (const { kind, object } of stripeHistory(stripe, window, NOW)) {
        const wrapped = asWebhookEvent(object);
        yield 'skip' in wrapped ? { kind, skip: wrapped.skip } : { kind, read: () => readStripeEvent(wrapped.event, SETTINGS) };
      }
    }
    return ingestAll(items(), ports);
  }

  it('a trial: StartTrial from the subscription as it was created, nothing for the $0 invoice, the first paid invoice — as the webhooks', async () => {
    const created = S - 6 * DAY;
    const trialEnd = created + 3 * DAY;
    const visitor = { visitor_id: 'v1.trialvisitor0000000000' };
    const session = stripeSession({ id: 'cs_test_trial', mode: 'subscription', status: 'complete', payment_status: 'no_payment_required', amount_total: 0, currency: 'usd', subscription: 'sub_trial', invoice: 'in_trial_0', payment_intent: null, livemode: false, created });
    // As Stripe lists them today: the trial is over (one subscription paid, one canceled before paying).
    const sub = stripeSubscription({ id: 'sub_trial', status: 'active', created, start_date: created, trial_start: created, trial_end: trialEnd, metadata: visitor, customer: 'cus_trial', livemode: false });
    const canceled = stripeSubscription({ id: 'sub_trial_canceled', status: 'canceled', created: created + 60, start_date: created + 60, trial_start: created + 60, trial_end: trialEnd + 60, metadata: {}, customer: 'cus_gone', livemode: false });
    // No trial when it was created; one added by an update two days later is not a trial start either.
    const plain = stripeSubscription({ id: 'sub_plain', status: 'active', created: S - DAY, trial_start: null, trial_end: null, livemode: false });
    const laterTrial = stripeSubscription({ id: 'sub_later_trial', status: 'trialing', created: S - 5 * DAY, trial_start: S - 3 * DAY, trial_end: S + 4 * DAY, livemode: false });
    const paidAt = (t: number) => ({ paid_at: t, finalized_at: t, marked_uncollectible_at: null, voided_at: null });
    const zero = stripeInvoice({ id: 'in_trial_0', status: 'paid', billing_reason: 'subscription_create', amount_paid: 0, amount_due: 0, currency: 'usd', created, status_transitions: paidAt(created), customer: 'cus_trial', customer_email: 'trial@example.com', livemode: false });
    const first = stripeInvoice({ id: 'in_trial_1', status: 'paid', billing_reason: 'subscription_cycle', amount_paid: 2900, amount_due: 2900, currency: 'usd', created: trialEnd, status_transitions: paidAt(trialEnd + 3600), customer: 'cus_trial', customer_email: 'trial@example.com', livemode: false });
    fake.add(session, sub, canceled, plain, laterTrial, zero, first);

    const { summary, conversions } = await run(WEEK);

    const webhooks = await viaWebhooks(
      stripeEvent('checkout.session.completed', session, { id: 'evt_cs', created, livemode: false }),
      stripeEvent('customer.subscription.created', { ...sub, status: 'trialing' }, { id: 'evt_sub', created, livemode: false }),
      stripeEvent('customer.subscription.created', { ...canceled, status: 'trialing' }, { id: 'evt_sub2', created: created + 60, livemode: false }),
      stripeEvent('customer.subscription.created', { ...plain, status: 'active' }, { id: 'evt_sub3', created: S - DAY, livemode: false }),
      stripeEvent('customer.subscription.created', { ...laterTrial, status: 'active', trial_start: null, trial_end: null }, { id: 'evt_sub4', created: S - 5 * DAY, livemode: false }),
      stripeEvent('invoice.paid', zero, { id: 'evt_in0', created, livemode: false }),
      stripeEvent('invoice.paid', first, { id: 'evt_in1', created: trialEnd + 3600, livemode: false }),
    );
    expect(webhooks.map((c) => c.eventId).sort()).toEqual(['in_trial_1', 'sub_trial:starttrial', 'sub_trial_canceled:starttrial']);
    expect(byId(conversions).map(essence)).toEqual(byId(webhooks).map(essence));
    // Each at the time its webhook was sent.
    expect(timeOf(conversions)).toEqual(timeOf(webhooks));
    expect(summary).toMatchObject({ found: 3, queued: 3, read: { 'checkout sessions': 1, subscriptions: 4, invoices: 2 } });
    expect(summary.notConversions).toMatchObject({ 'subscription created without a trial': 2, 'payment_status is no_payment_required': 1, 'nothing was paid (a trial or a full discount)': 1 });
    // Canceled subscriptions are listed only on request.
    expect(fake.requests.find((r) => r.path === '/v1/subscriptions')?.query).toMatchObject({ status: 'all', created: { gte: String(WEEK.gte), lte: String(WEEK.lte) } });
  });

  it('an invoice created before the window and paid inside it comes from its invoice.paid event, as the webhook delivered it', async () => {
    const late = stripeInvoice({ id: 'in_late', status: 'paid', billing_reason: 'manual', amount_paid: 12000, currency: 'usd', created: S - 20 * DAY, status_transitions: { paid_at: S - 2 * DAY }, customer: 'cus_late', customer_email: 'late@example.com', livemode: false });
    const recent = stripeInvoice({ id: 'in_recent', status: 'paid', billing_reason: 'manual', amount_paid: 500, currency: 'usd', created: S - DAY, status_transitions: { paid_at: S - DAY }, customer_email: 'recent@example.com', livemode: false });
    const paidEvents = [stripeEvent('invoice.paid', late, { id: 'evt_late_paid', created: S - 2 * DAY, livemode: false }), stripeEvent('invoice.paid', recent, { id: 'evt_recent_paid', created: S - DAY, livemode: false })];
    fake.add(late, recent);
    for (const e of paidEvents) fake.addEvent(e, true);
    // Another event type in the window is not read as an invoice payment.
    fake.addEvent(stripeEvent('customer.created', { id: 'cus_late', object: 'customer' }, { id: 'evt_other', created: S - DAY }), true);

    const { summary, conversions } = await run(WEEK);

    expect(byId(conversions).map(essence)).toEqual(byId(await viaWebhooks(...paidEvents)).map(essence));
    const lateOne = conversions.find((c) => c.eventId === 'in_late')!;
    expect(lateOne.source).toMatchObject({ eventId: 'evt_late_paid', eventType: 'invoice.paid' });
    expect(lateOne.occurredAt).toBe(new Date((S - 2 * DAY) * 1000).toISOString());
    // The recent invoice, read as its event and listed as an invoice, is one conversion.
    expect(summary).toMatchObject({ found: 2, queued: 2, read: { 'invoice.paid events': 2, invoices: 1 } });
    expect(fake.requests.find((r) => r.path === '/v1/events')?.query).toMatchObject({ type: 'invoice.paid', created: { gte: String(WEEK.gte), lte: String(WEEK.lte) } });
  });

  it('a window older than 30 days reads events only for the last 30 (all Stripe keeps), invoices by creation for the rest', async () => {
    await run({ gte: S - 45 * DAY, lte: S });
    const thirtyDaysAgo = Math.ceil((NOW.getTime() - 30 * DAY * 1000) / 1000);
    expect(fake.requests.find((r) => r.path === '/v1/events')?.query).toMatchObject({ created: { gte: String(thirtyDaysAgo), lte: String(S) } });
    expect(fake.requests.find((r) => r.path === '/v1/invoices')?.query).toMatchObject({ created: { gte: String(S - 45 * DAY) } });
    fake.requests.length = 0;
    await run({ gte: S - 45 * DAY, lte: S - 31 * DAY });
    expect(fake.requests.filter((r) => r.path === '/v1/events')).toEqual([]);
  });

  describe('a charge refunded twice (and once more in vain)', () => {
    const charge = stripeCharge({ id: 'ch_partial', payment_intent: 'pi_partial', amount: 5000, amount_refunded: 2500, refunded: false, currency: 'usd', created: S - 5 * DAY, livemode: false, customer: null, billing_details: { email: 'refunded@example.com', name: null, phone: null, address: null } });
    const refund = (id: string, amount: number, created: number, status = 'succeeded') => ({ id, object: 'refund', amount, currency: 'usd', status, created, charge: 'ch_partial', payment_intent: 'pi_partial', livemode: false });
    const first = refund('re_first', 1000, S - 3 * DAY);
    const failed = refund('re_failed', 700, S - 2 * DAY, 'failed');
    const second = refund('re_second', 1500, S - DAY);
    // Another charge, refunded once in full: nothing more to list for it.
    const whole = stripeCharge({ id: 'ch_whole', payment_intent: 'pi_whole', amount: 2000, amount_refunded: 2000, refunded: true, currency: 'usd', created: S - 2 * DAY, livemode: false });
    const wholeRefund = { ...refund('re_whole', 2000, S - 2 * DAY), charge: 'ch_whole', payment_intent: 'pi_whole' };
    /** The charge.refunded webhooks Stripe sent: each with the charge's amount_refunded at that moment. */
    const webhooks = () =>
      viaWebhooks(
        stripeEvent('charge.refunded', { ...charge, amount_refunded: 1000 }, { id: 'evt_r1', created: first.created, livemode: false }),
        stripeEvent('charge.refunded', { ...charge, amount_refunded: 2500 }, { id: 'evt_r2', created: second.created, livemode: false }),
        stripeEvent('charge.refunded', whole, { id: 'evt_r3', created: wholeRefund.created, livemode: false }),
      );

    beforeEach(() => fake.add(charge, whole, first, failed, second, wholeRefund));

    it('each refund is its own adjustment, under the event ID of its webhook; a rerun adds nothing', async () => {
      const { summary, conversions, ports } = await run(WEEK);
      expect(conversions.map((c) => c.eventId).sort()).toEqual(['pi_partial:refund:1000', 'pi_partial:refund:2500', 'pi_whole:refund:2000']);
      const hooks = await webhooks();
      expect(byId(conversions).map(essence)).toEqual(byId(hooks).map(essence));
      expect(timeOf(conversions)).toEqual(timeOf(hooks));
      expect(conversions.find((c) => c.eventId === 'pi_partial:refund:1000')?.adjustment).toMatchObject({ kind: 'refund', full: false, remainingValue: 40 });
      expect(summary).toMatchObject({ found: 3, alreadySent: 0, notConversions: { 'refund failed': 1 } });
      // The charge refunded several times had its refunds listed once; the one refunded once, not at all.
      expect(fake.requests.filter((r) => r.path === '/v1/refunds' && r.query.charge).map((r) => r.query.charge)).toEqual(['ch_partial']);

      const again = await run(WEEK, ports);
      expect(again.summary).toMatchObject({ found: 3, alreadySent: 3, queued: 0 });
      expect(ports.enqueued).toHaveLength(3);
    });

    it('a refund is counted with those before it even when they lie outside the window, and without those after it', async () => {
      const { conversions: lastOnly } = await run({ gte: S - 2 * DAY, lte: S });
      expect(lastOnly.map((c) => c.eventId).sort()).toEqual(['pi_partial:refund:2500', 'pi_whole:refund:2000']);
      const { conversions: firstOnly } = await run({ gte: S - 4 * DAY, lte: S - 3 * DAY });
      expect(firstOnly.map((c) => c.eventId)).toEqual(['pi_partial:refund:1000']);
    });
  });
});
