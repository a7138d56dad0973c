import type Stripe from 'stripe';
import { eventIdFor } from '#core/event-id.ts';
import { conversionNameFor, DEFAULT_MAPPING, type Mapping, type STRIPE_TRIGGERS } from '#core/mapping.ts';
import { fromMinorUnits } from '#core/money.ts';
import { hashUser, type RawUserInput } from '#core/normalize.ts';
import { isVisitorId } from '#core/visitor.ts';
import type { ConversionDraft, SourceResult } from '#sources/types.ts';

type Trigger = keyof typeof STRIPE_TRIGGERS;
type Base = { sourceEventId: string; eventType: string };

/**
 * Maps a verified Stripe event to conversions, or says why it is not one.
 *
 * One payment, one conversion: Stripe reports a Checkout payment as `checkout.session.completed` and as
 * `payment_intent.succeeded` (and a subscription's first payment as `checkout.session.completed` and
 * `invoice.paid`), in no guaranteed order. Every event type therefore derives the conversion's order ID and event
 * ID from the one ID they all carry — the PaymentIntent for a one-off payment, the first invoice for a subscription
 * — so the second report is a duplicate of the first however they arrive. (The Checkout Session ID, which a
 * thank-you page knows, is on the checkout event only; the PaymentIntent is on both.)
 */
export function mapStripeEvent(event: Stripe.Event, mapping: Mapping = DEFAULT_MAPPING): SourceResult {
  const base = { sourceEventId: event.id, eventType: event.type };
  const skip = (reason: string): SourceResult => ({ ...base, kind: 'skipped', reason });
  switch (event.type) {
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded': {
      const session = event.data.object;
      if (session.mode === 'setup') return skip('checkout in setup mode collects no payment');
      if (session.payment_status === 'unpaid') return skip('payment not settled yet: checkout.session.async_payment_succeeded will follow');
      if (session.payment_status !== 'paid') return skip(`payment_status is ${session.payment_status}: no revenue to report`);
      const subscription = session.mode === 'subscription';
      const key = subscription ? (idOf(session.invoice) ?? idOf(session.subscription) ?? session.id) : (idOf(session.payment_intent) ?? session.id);
      const details = session.customer_details;
      return conversion(event, base, mapping, subscription ? 'subscription.first_payment' : 'purchase', key, {
        amount: session.amount_total,
        currency: session.currency,
        visitorId: [session.client_reference_id, session.metadata?.visitor_id],
        user: {
          email: details?.email ?? session.customer_email,
          phone: details?.phone,
          fullName: details?.name,
          ...address(details?.address),
          externalId: idOf(session.customer),
        },
      });
    }
    case 'payment_intent.succeeded': {
      const intent = event.data.object;
      // Older API versions link an invoice's PaymentIntent to it; invoice.paid reports those payments.
      const invoice = (intent as unknown as { invoice?: string | { id: string } | null }).invoice;
      if (invoice) return skip(`the payment of invoice ${idOf(invoice)}: reported from invoice.paid`);
      return conversion(event, base, mapping, 'purchase', intent.id, {
        amount: intent.amount_received || intent.amount,
        currency: intent.currency,
        visitorId: [intent.metadata?.visitor_id],
        user: {
          email: intent.receipt_email,
          phone: intent.shipping?.phone,
          fullName: intent.shipping?.name,
          ...address(intent.shipping?.address),
          externalId: idOf(intent.customer),
        },
      });
    }
    case 'invoice.paid': {
      const invoice = event.data.object;
      const trigger = INVOICE_TRIGGERS[invoice.billing_reason ?? ''];
      if (!trigger) return skip(`invoice billing_reason ${invoice.billing_reason} is not a purchase (only subscription_create, subscription_cycle and manual are)`);
      if (!invoice.amount_paid) return skip('nothing was paid (a trial or a full discount): no revenue to report');
      if (!invoice.id) return skip('invoice without an ID');
      const legacy = invoice as unknown as { subscription_details?: { metadata?: Record<string, string> | null } };
      return conversion(event, base, mapping, trigger, invoice.id, {
        amount: invoice.amount_paid,
        currency: invoice.currency,
        visitorId: [invoice.parent?.subscription_details?.metadata?.visitor_id, legacy.subscription_details?.metadata?.visitor_id, invoice.metadata?.visitor_id],
        user: {
          email: invoice.customer_email,
          phone: invoice.customer_phone,
          fullName: invoice.customer_name,
          ...address(invoice.customer_address),
          externalId: idOf(invoice.customer),
        },
      });
    }
    case 'customer.subscription.created': {
      const sub = event.data.object;
      if (sub.status !== 'trialing') return skip(`subscription created in status ${sub.status}, not in a trial: its first invoice.paid reports it`);
      return conversion(event, base, mapping, 'subscription.trial_start', sub.id, {
        visitorId: [sub.metadata?.visitor_id],
        user: { externalId: idOf(sub.customer) },
        noOrderId: true,
      });
    }
    case 'charge.refunded': {
      const charge = event.data.object;
      const original = originalOf(charge.payment_intent, charge.id, (charge as unknown as { invoice?: string | { id: string } | null }).invoice);
      return adjustment(event, base, mapping, 'refund', original, {
        amount: charge.amount_refunded,
        remaining: charge.amount - charge.amount_refunded,
        full: charge.refunded || charge.amount_refunded >= charge.amount,
        // Each further partial refund raises amount_refunded: a new adjustment, while a redelivery is the same one.
        idSuffix: String(charge.amount_refunded),
        currency: charge.currency,
        user: {
          email: charge.billing_details?.email ?? charge.receipt_email,
          phone: charge.billing_details?.phone,
          fullName: charge.billing_details?.name,
          ...address(charge.billing_details?.address),
          externalId: idOf(charge.customer),
        },
        visitorId: [charge.metadata?.visitor_id],
      });
    }
    case 'charge.dispute.created': {
      const dispute = event.data.object;
      const charge = typeof dispute.charge === 'object' ? dispute.charge : undefined;
      const original = originalOf(dispute.payment_intent, idOf(dispute.charge)!, undefined);
      return adjustment(event, base, mapping, 'chargeback', original, {
        amount: dispute.amount,
        // Without the charge (not expanded in webhooks), a dispute is taken to cover the whole payment.
        remaining: charge ? Math.max(0, charge.amount - charge.amount_refunded - dispute.amount) : 0,
        full: charge ? dispute.amount >= charge.amount - charge.amount_refunded : true,
        idSuffix: dispute.id,
        currency: dispute.currency,
        user: { externalId: idOf(charge?.customer) },
        visitorId: [],
      });
    }
    default:
      return skip(`event type ${event.type} is not a conversion`);
  }
}

const INVOICE_TRIGGERS: Record<string, Trigger> = {
  subscription_create: 'subscription.first_payment',
  subscription_cycle: 'subscription.renewal',
  manual: 'purchase',
};

interface Details {
  amount?: number | null;
  currency?: string | null;
  visitorId: unknown[];
  user: RawUserInput;
  /** StartTrial has no order (nothing was bought yet). */
  noOrderId?: boolean;
}

function nameOf(mapping: Mapping, trigger: Trigger): string | null {
  const name = conversionNameFor(mapping, 'stripe', trigger);
  return name === undefined ? DEFAULT_MAPPING.sources.stripe[trigger] : name;
}

function conversion(event: Stripe.Event, base: Base, mapping: Mapping, trigger: Trigger, key: string, d: Details): SourceResult {
  const name = nameOf(mapping, trigger);
  if (name === null) return { ...base, kind: 'skipped', reason: `RELAY_MAPPING turns stripe trigger ${trigger} off` };
  const currency = (d.currency ?? 'usd').toUpperCase();
  const draft: ConversionDraft = {
    eventId: eventIdFor(key, name),
    eventName: name,
    occurredAt: new Date(event.created * 1000).toISOString(),
    ...(d.amount == null ? {} : { value: fromMinorUnits(d.amount, currency), currency }),
    ...(d.noOrderId ? {} : { orderId: key }),
    visitorId: d.visitorId.find(isVisitorId),
    user: hashUser(d.user, { defaultCountry: typeof d.user.country === 'string' ? d.user.country : undefined }),
    source: { name: 'stripe', eventId: event.id, eventType: event.type, livemode: event.livemode },
  };
  return { ...base, kind: 'conversions', conversions: [draft] };
}

interface Original {
  orderId: string;
  /** Known when the original is a one-off purchase keyed on its PaymentIntent. */
  purchase: boolean;
}

/** The order a refund or dispute corrects: its invoice (subscriptions, older API versions), its PaymentIntent, else the charge. */
function originalOf(intent: string | Stripe.PaymentIntent | null | undefined, chargeId: string, invoice: string | { id: string } | null | undefined): Original {
  const inv = idOf(invoice);
  if (inv) return { orderId: inv, purchase: false };
  const pi = idOf(intent);
  return pi ? { orderId: pi, purchase: true } : { orderId: chargeId, purchase: false };
}

function adjustment(
  event: Stripe.Event,
  base: Base,
  mapping: Mapping,
  kind: 'refund' | 'chargeback',
  original: Original,
  d: Details & { remaining: number; full: boolean; idSuffix: string },
): SourceResult {
  const result = conversion(event, base, mapping, kind, original.orderId, d);
  if (result.kind !== 'conversions') return result;
  const [draft] = result.conversions;
  const currency = draft.currency ?? 'USD';
  const purchaseName = nameOf(mapping, 'purchase');
  draft.eventId = `${draft.eventId}:${d.idSuffix}`;
  draft.adjustment = {
    kind,
    originalOrderId: original.orderId,
    ...(original.purchase && purchaseName ? { originalEventId: eventIdFor(original.orderId, purchaseName) } : {}),
    full: d.full,
    remainingValue: d.full ? 0 : fromMinorUnits(Math.max(0, d.remaining), currency),
  };
  return result;
}

function idOf(ref: string | { id?: string } | null | undefined): string | undefined {
  if (!ref) return undefined;
  return typeof ref === 'string' ? ref : ref.id;
}

function address(a: Stripe.Address | null | undefined): Pick<RawUserInput, 'street' | 'city' | 'state' | 'zip' | 'country'> {
  return { street: a?.line1, city: a?.city, state: a?.state, zip: a?.postal_code, country: a?.country };
}
