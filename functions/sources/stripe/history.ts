import type Stripe from 'stripe';

/**
 * Backfill reads Stripe's objects (Checkout Sessions, subscriptions, PaymentIntents, invoices, refunds, disputes) where
 * a relay that was not yet installed, or was down, missed their webhooks. Each object is wrapped here as the webhook
 * event Stripe sent (or would have sent) for it, in the state it had then, so the webhook mapping (map.ts) reads it
 * unchanged: same conversion, same event ID — derived from the PaymentIntent / invoice / subscription / charge /
 * dispute, never from the Stripe event ID, which a listed object does not have. An event listed from /v1/events is
 * already the webhook event and is read as it is.
 */
export type HistoryObject = Stripe.Checkout.Session | Stripe.Subscription | Stripe.PaymentIntent | Stripe.Invoice | Stripe.Refund | Stripe.Dispute | Stripe.Event;

/** What Stripe's list endpoints return, by the object name each object carries. */
export const HISTORY_OBJECTS = ['checkout.session', 'subscription', 'invoice', 'payment_intent', 'refund', 'dispute', 'event'] as const;

/**
 * How long after its creation a subscription's trial may start and still count as the trial it was created with.
 * Stripe stamps both in the same request; a trial added later by an update starts when that update is made.
 */
const TRIAL_AT_CREATION_SLACK_S = 60;

export type Wrapped = { event: Stripe.Event } | { skip: string };

/** The synthetic event's ID says where it came from (the ledger keeps it as the source event ID, `status` finds it). */
export const backfillEventId = (type: string, objectId: string) => `backfill:${type}:${objectId}`;

export function asWebhookEvent(object: HistoryObject): Wrapped {
  switch (object.object) {
    case 'checkout.session': {
      // Stripe lists open and expired sessions too; only a completed one was reported (checkout.session.completed).
      if (object.status !== 'complete') return { skip: `checkout session ${object.status ?? 'without status'}: not completed` };
      // The session's creation time: Stripe keeps no completion time on it (a session lives at most 24 h).
      return wrap('checkout.session.completed', object, object.created);
    }
    case 'payment_intent':
      if (object.status !== 'succeeded') return { skip: `payment intent ${object.status}: no payment succeeded` };
      return wrap('payment_intent.succeeded', object, latestChargeTime(object) ?? object.created);
    case 'subscription':
      // customer.subscription.created reported the subscription as it was created: `trialing` if it began with a trial
      // (map.ts reports those as StartTrial; any other is reported by its first paid invoice). Today's status says
      // nothing of that (the trial may have ended, the subscription been canceled): its trial dates do.
      if (!startedWithTrial(object)) return { skip: 'subscription created without a trial: its first invoice.paid reports it' };
      const asCreated: Stripe.Subscription = { ...object, status: 'trialing' };
      return wrap('customer.subscription.created', asCreated, object.created);
    case 'invoice':
      if (object.status !== 'paid') return { skip: `invoice ${object.status ?? 'without status'}: not paid` };
      return wrap('invoice.paid', object, object.status_transitions?.paid_at ?? object.created);
    case 'refund': {
      // Each refund sent its own charge.refunded, carrying the charge with amount_refunded as it stood then — this
      // refund and those before it — which map.ts puts in the event ID: the charge is rewound to that moment.
      if (!countsAsRefunded(object)) return { skip: `refund ${object.status}` };
      const charge = typeof object.charge === 'object' && object.charge ? object.charge : undefined;
      if (!charge) return { skip: 'refund without its charge (list refunds with expand data.charge)' };
      const refundedThen = refundedUpTo(object, charge);
      if (refundedThen === undefined) return { skip: 'refund of a charge refunded several times, without the list of its refunds' };
      const chargeThen: Stripe.Charge = { ...charge, amount_refunded: refundedThen, refunded: refundedThen >= charge.amount };
      // Named after the refund: each of the charge's refunds is its own event.
      return wrap('charge.refunded', chargeThen, object.created, object.id);
    }
    case 'dispute':
      return wrap('charge.dispute.created', object, object.created);
    case 'event':
      return { event: object };
    default:
      return { skip: `Stripe object ${(object as { object?: string }).object} is not backfilled` };
  }
}

/** Whether the subscription was `trialing` when it was created: its trial began then and ended later. */
function startedWithTrial(sub: Stripe.Subscription): boolean {
  return sub.trial_start != null && sub.trial_end != null && sub.trial_start <= sub.created + TRIAL_AT_CREATION_SLACK_S && sub.trial_end > sub.created;
}

/** A failed or canceled refund gave its amount back: the charge's amount_refunded no longer counts it. */
const countsAsRefunded = (refund: Stripe.Refund) => refund.status !== 'failed' && refund.status !== 'canceled';

/**
 * Whether the refund (listed with its charge) can be wrapped only once the charge's complete list of refunds is put in
 * `charge.refunds`: unless it is all the charge has refunded, which of the others came before it must be known.
 */
export function needsChargeRefunds(refund: Stripe.Refund): boolean {
  const charge = typeof refund.charge === 'object' && refund.charge ? refund.charge : undefined;
  return charge !== undefined && countsAsRefunded(refund) && refundedUpTo(refund, charge) === undefined;
}

/** The charge's amount_refunded right after `refund`: this refund plus the charge's counting refunds before it. */
function refundedUpTo(refund: Stripe.Refund, charge: Stripe.Charge): number | undefined {
  if (charge.amount_refunded === refund.amount) return refund.amount;
  const list = charge.refunds;
  if (!list || list.has_more) return undefined;
  // Stripe lists newest first; among refunds of the same second that order is their order of creation.
  const oldestFirst = list.data.map((r, i) => ({ r, i })).sort((a, b) => a.r.created - b.r.created || b.i - a.i);
  let total = 0;
  for (const { r } of oldestFirst) {
    if (countsAsRefunded(r)) total += r.amount;
    if (r.id === refund.id) return total;
  }
  return undefined;
}

function wrap(type: string, object: { id?: string; livemode?: boolean }, created: number, sourceId = object.id ?? ''): Wrapped {
  return {
    event: {
      id: backfillEventId(type, sourceId),
      object: 'event',
      type,
      created,
      livemode: object.livemode ?? false,
      api_version: null,
      pending_webhooks: 0,
      request: { id: null, idempotency_key: null },
      data: { object },
    } as unknown as Stripe.Event,
  };
}

function latestChargeTime(intent: Stripe.PaymentIntent): number | undefined {
  const charge = intent.latest_charge;
  return typeof charge === 'object' && charge ? charge.created : undefined;
}
