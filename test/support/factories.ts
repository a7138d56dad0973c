/**
 * Shared test factories. Each returns a fresh, valid object that a test then changes only where its scenario
 * differs, so that every test states what matters to it and nothing else.
 */
import { createHash } from 'node:crypto';
import Stripe from 'stripe';
import type { Conversion } from '#core/conversion.ts';
import type { IncomingRequest } from '#sources/types.ts';
// Stripe's published sample Checkout Session: `resources["checkout.session"]` of `stripe/openapi` fixtures3.json
// (copied from /work/shared/reference/stripe-fixtures3.json; see test/fixtures/stripe/README.md).
import checkoutSessionFixture from '../fixtures/stripe/checkout.session.json' with { type: 'json' };

/** The fixed clock most unit tests run at. */
export const NOW = new Date('2026-03-02T12:00:00.000Z');

/** Independent oracle for expected hashes: SHA-256 (lowercase hex) of the documented normalized form. */
export const sha256 = (normalized: string) => createHash('sha256').update(normalized, 'utf8').digest('hex');

type DeepPartialValue<V> = V extends readonly unknown[] ? V : V extends object ? DeepPartial<V> : V;
type DeepPartial<T> = { [K in keyof T]?: DeepPartialValue<T[K]> };

/** A valid Conversion for a website Purchase ten minutes before `NOW`; shallow-merged with `overrides`. */
export function conversionFactory(overrides: Partial<Conversion> = {}): Conversion {
  return {
    eventId: 'cs_test_order_1',
    eventName: 'Purchase',
    occurredAt: new Date(NOW.getTime() - 10 * 60_000).toISOString(),
    value: 19.99,
    currency: 'USD',
    orderId: 'cs_test_order_1',
    actionSource: 'website',
    eventSourceUrl: 'https://shop.example/checkout?fbclid=IwAR2xYz',
    user: {
      email: sha256('jenny.rosen@example.com'),
      phone: sha256('16505551212'),
      phoneE164: sha256('+16505551212'),
      firstName: sha256('jenny'),
      lastName: sha256('rosen'),
      city: sha256('sanfrancisco'),
      state: sha256('ca'),
      zip: sha256('94103'),
      country: sha256('us'),
      countryCode: 'us',
      externalId: sha256('cus_123'),
      ip: '203.0.113.7',
      userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15',
    },
    clicks: {
      fbc: { value: 'fb.1.1772451000000.IwAR2xYz', capturedAt: 1772451000000 },
      fbp: { value: 'fb.1.1772450000000.1234567890', capturedAt: 1772450000000 },
    },
    consent: { marketing: true, adUserData: true, adPersonalization: true, analytics: true },
    visitorId: 'vis_0123456789',
    source: { name: 'stripe', eventId: 'evt_test_1', eventType: 'checkout.session.completed', livemode: false },
    ...overrides,
  };
}

/** `n` distinct valid conversions (distinct event and order IDs). */
export function conversions(n: number, overrides: Partial<Conversion> = {}): Conversion[] {
  return Array.from({ length: n }, (_, i) => conversionFactory({ eventId: `order_${i}`, orderId: `order_${i}`, ...overrides }));
}

/**
 * Stripe's sample Checkout Session (a fresh deep copy), with `overrides` applied; `customer_details` and its
 * `address` are merged field by field so a test can set only the fields it is about.
 */
export function stripeCheckoutSession(overrides: DeepPartial<Stripe.Checkout.Session> = {}): Stripe.Checkout.Session {
  const base = structuredClone(checkoutSessionFixture) as unknown as Stripe.Checkout.Session;
  const { customer_details, ...rest } = overrides;
  const session = { ...base, ...rest } as Stripe.Checkout.Session;
  if (customer_details !== undefined) {
    session.customer_details =
      customer_details === null
        ? null
        : ({
            ...base.customer_details,
            ...customer_details,
            address: { ...base.customer_details?.address, ...customer_details.address },
          } as Stripe.Checkout.Session.CustomerDetails);
  }
  return session;
}

/** A Stripe event envelope (sources.md §2.4) around `object`. */
export function stripeEvent(type: string, object: object, overrides: Partial<Stripe.Event> = {}): Stripe.Event {
  return {
    id: 'evt_1PgagDB7WZ01zgkWxYz12345',
    object: 'event',
    api_version: '2026-10-28.endive',
    created: Math.floor(NOW.getTime() / 1000) - 5,
    livemode: true,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
    ...overrides,
  } as unknown as Stripe.Event;
}

/**
 * The HTTP request Stripe would send for `event`: the exact body bytes and a `Stripe-Signature` header made by the
 * stripe package's own test helper. `timestamp` is Unix seconds (default: now).
 */
export function signedStripeRequest(event: Stripe.Event, secret: string, opts: { timestamp?: number; payload?: string } = {}): IncomingRequest {
  const payload = opts.payload ?? JSON.stringify(event);
  const header = Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: opts.timestamp });
  return {
    method: 'POST',
    path: '/webhooks/stripe',
    headers: { 'content-type': 'application/json', 'stripe-signature': header },
    query: {},
    body: Buffer.from(payload, 'utf8'),
  };
}
