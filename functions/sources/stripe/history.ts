import type Stripe from 'stripe';

/**
 * Backfill reads Stripe's objects (Checkout Sessions, PaymentIntents, invoices, refunds, disputes) where a relay that
 * was not yet installed, or was down, missed their webhooks. Each object is wrapped here as the webhook event Stripe
 * sent (or would have sent) for it, so the webhook mapping (map.ts) reads it unchanged: same conversion, same event ID
 * — derived from the PaymentIntent / invoice / charge / dispute, never from the Stripe event ID, which a listed object
 * does not have.
 */
export type HistoryObject = Stripe.Checkout.Session | Stripe.PaymentIntent | Stripe.Invoice | Stripe.Refund | Stripe.Dispute;

/** What Stripe's list endpoints return, by the object name each object carries. */
export const HISTORY_OBJECTS = ['checkout.session', 'invoice', 'payment_intent', 'refund', 'dispute'] as const;

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
    case 'invoice':
      if (object.status !== 'paid') return { skip: `invoice ${object.status ?? 'without status'}: not paid` };
      return wrap('invoice.paid', object, object.status_transitions?.paid_at ?? object.created);
    case 'refund': {
      // charge.refunded carries the charge (its amount_refunded at that moment): the refund is listed with its charge
      // expanded. A charge's refunds collapse to one adjustment of its current total refunded, as the webhook of its
      // last refund reports it.
      if (object.status === 'failed' || object.status === 'canceled') return { skip: `refund ${object.status}` };
      const charge = typeof object.charge === 'object' && object.charge ? object.charge : undefined;
      if (!charge) return { skip: 'refund without its charge (list refunds with expand data.charge)' };
      return wrap('charge.refunded', charge, object.created);
    }
    case 'dispute':
      return wrap('charge.dispute.created', object, object.created);
    default:
      return { skip: `Stripe object ${(object as { object?: string }).object} is not backfilled` };
  }
}

function wrap(type: string, object: { id?: string; livemode?: boolean }, created: number): Wrapped {
  return {
    event: {
      id: backfillEventId(type, object.id ?? ''),
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
