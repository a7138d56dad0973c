import type Stripe from 'stripe';
import { eventIdFor } from '#core/event-id.ts';
import { fromMinorUnits } from '#core/money.ts';
import { hashUser } from '#core/normalize.ts';
import { isVisitorId } from '#core/visitor.ts';
import type { ConversionDraft, SourceResult } from '#sources/types.ts';

/** Maps a verified Stripe event to conversions, or says why it is not one. */
export function mapStripeEvent(event: Stripe.Event): SourceResult {
  const base = { sourceEventId: event.id, eventType: event.type };
  switch (event.type) {
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded': {
      const session = event.data.object;
      if (session.mode === 'setup') return { ...base, kind: 'skipped', reason: 'checkout in setup mode collects no payment' };
      if (session.payment_status === 'unpaid') {
        return { ...base, kind: 'skipped', reason: 'payment not settled yet: checkout.session.async_payment_succeeded will follow' };
      }
      if (session.payment_status !== 'paid') {
        return { ...base, kind: 'skipped', reason: `payment_status is ${session.payment_status}: no revenue to report` };
      }
      return { ...base, kind: 'conversions', conversions: [purchaseFromCheckout(event, session)] };
    }
    default:
      return { ...base, kind: 'skipped', reason: `event type ${event.type} is not a conversion` };
  }
}

function purchaseFromCheckout(event: Stripe.Event, session: Stripe.Checkout.Session): ConversionDraft {
  const details = session.customer_details;
  const address = details?.address;
  const currency = (session.currency ?? 'usd').toUpperCase();
  return {
    eventId: eventIdFor(session.id, 'Purchase'),
    eventName: 'Purchase',
    occurredAt: new Date(event.created * 1000).toISOString(),
    value: session.amount_total == null ? undefined : fromMinorUnits(session.amount_total, currency),
    currency,
    orderId: session.id,
    visitorId: visitorIdOf(session),
    user: hashUser(
      {
        email: details?.email ?? session.customer_email,
        phone: details?.phone,
        fullName: details?.name,
        street: address?.line1,
        city: address?.city,
        state: address?.state,
        zip: address?.postal_code,
        country: address?.country,
        externalId: typeof session.customer === 'string' ? session.customer : session.customer?.id,
      },
      { defaultCountry: address?.country ?? undefined },
    ),
    source: { name: 'stripe', eventId: event.id, eventType: event.type, livemode: event.livemode },
  };
}

/** The visitor ID travels in `client_reference_id` (set on the Checkout Session or Payment Link) or `metadata.visitor_id`. */
function visitorIdOf(session: Stripe.Checkout.Session): string | undefined {
  return [session.client_reference_id, session.metadata?.visitor_id].find(isVisitorId);
}
