/**
 * Stripe's published sample objects (`stripe/openapi` fixtures3.json, copied under test/fixtures/stripe/; see its
 * README), each a fresh deep copy with `overrides` shallow-merged, so a test states only what its scenario changes.
 */
import type Stripe from 'stripe';
import charge from '../fixtures/stripe/charge.json' with { type: 'json' };
import checkoutSession from '../fixtures/stripe/checkout.session.json' with { type: 'json' };
import dispute from '../fixtures/stripe/dispute.json' with { type: 'json' };
import invoice from '../fixtures/stripe/invoice.json' with { type: 'json' };
import paymentIntent from '../fixtures/stripe/payment_intent.json' with { type: 'json' };
import subscription from '../fixtures/stripe/subscription.json' with { type: 'json' };

const copy = <T>(fixture: unknown, overrides: object): T => ({ ...(structuredClone(fixture) as object), ...overrides }) as T;

export const stripeInvoice = (o: Record<string, unknown> = {}) => copy<Stripe.Invoice>(invoice, o);
export const stripeCharge = (o: Record<string, unknown> = {}) => copy<Stripe.Charge>(charge, o);
export const stripeDispute = (o: Record<string, unknown> = {}) => copy<Stripe.Dispute>(dispute, o);
export const stripeSubscription = (o: Record<string, unknown> = {}) => copy<Stripe.Subscription>(subscription, o);
export const stripePaymentIntent = (o: Record<string, unknown> = {}) => copy<Stripe.PaymentIntent>(paymentIntent, o);
export const stripeSession = (o: Record<string, unknown> = {}) => copy<Stripe.Checkout.Session>(checkoutSession, o);
