import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './relay-process.ts';

/**
 * How the cross-cutting suites (faults, bad input, PII audit, CLI) produce genuine requests for each source in the
 * registry. A source added to functions/registry.ts joins those suites by adding its entry here; a source without
 * one is still fuzzed with unauthenticated input, and the suites say which checks they could not run for it.
 */
export interface Customer {
  email?: string;
  phone?: string;
  name?: string;
  address?: { line1?: string; line2?: string | null; city?: string; state?: string; postal_code?: string; country?: string };
}

export interface SourceRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  /** Usually text; bytes when a test sends what is not valid UTF-8. */
  body: string | Buffer;
}

export interface SourceDriver {
  /** Settings the relay needs to accept this source's requests (its signing secrets). */
  env: Record<string, string>;
  /** The secrets among `env`: they must never appear in a log line. */
  secrets: string[];
  /**
   * A genuine purchase of `amount` (major units, USD) identified by `id` (the event ID the platforms see), signed as
   * the source signs it at `at`. `sourceEventId` distinguishes redeliveries of the same business event where the
   * source does (Stripe: the same event ID on every retry).
   */
  purchase(opts: { id: string; customer?: Customer; amount?: number; at?: Date; visitorId?: string }): SourceRequest;
  /** A refund or reversal of the purchase `id`, where the source reports one. */
  refund?(opts: { id: string; amount?: number; at?: Date }): SourceRequest;
  /** Signs (or otherwise authenticates) an arbitrary body as this source would, at `at`. */
  sign(body: string | Buffer, at?: Date): SourceRequest;
  /** The oldest signature the source's replay window still accepts, in seconds (undefined: no timestamp in it). */
  replayWindowSeconds?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Stripe (sources.md §2): Stripe-Signature t=<unix>,v1=<hmac>; the same event ID on every retry.

const STRIPE_SECRET = 'whsec_suite_stripe_signing_secret_0123456789';
const stripeFixture = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/stripe/checkout.session.json'), 'utf8'));

/** Stripe's scheme (docs.stripe.com/webhooks#verify-manually): v1 = HMAC-SHA256(secret, "<t>.<raw body bytes>"). */
function stripeSigned(body: string | Buffer, at = new Date()): SourceRequest {
  const t = Math.floor(at.getTime() / 1000);
  const v1 = createHmac('sha256', STRIPE_SECRET).update(Buffer.concat([Buffer.from(`${t}.`), Buffer.from(body)])).digest('hex');
  const signature = `t=${t},v1=${v1}`;
  return { method: 'POST', path: '/webhooks/stripe', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body };
}

const stripe: SourceDriver = {
  env: { STRIPE_WEBHOOK_SECRET: STRIPE_SECRET },
  secrets: [STRIPE_SECRET],
  replayWindowSeconds: 300,
  sign: stripeSigned,
  purchase({ id, customer, amount = 49.99, at = new Date(), visitorId }) {
    const cents = Math.round(amount * 100);
    const session = {
      ...stripeFixture,
      id,
      // Stripe keys a one-off payment by its PaymentIntent where there is one; the driver makes it the same ID, so
      // the event ID is `id` whichever the source uses, and a refund of the charge points back at this purchase.
      payment_intent: id,
      amount_total: cents,
      amount_subtotal: cents,
      currency: 'usd',
      payment_status: 'paid',
      status: 'complete',
      created: Math.floor(at.getTime() / 1000),
      client_reference_id: visitorId ?? null,
      customer_details: { ...stripeFixture.customer_details, ...customer, address: { ...stripeFixture.customer_details?.address, ...customer?.address } },
    };
    const event = {
      id: `evt_${id}`,
      object: 'event',
      api_version: '2026-10-28.endive',
      created: Math.floor(at.getTime() / 1000),
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type: 'checkout.session.completed',
      data: { object: session },
    };
    return stripeSigned(JSON.stringify(event), new Date());
  },
  refund({ id, amount = 49.99, at = new Date() }) {
    const cents = Math.round(amount * 100);
    const charge = {
      id: `ch_${id}`,
      object: 'charge',
      amount: cents,
      amount_captured: cents,
      amount_refunded: cents,
      currency: 'usd',
      refunded: true,
      paid: true,
      status: 'succeeded',
      created: Math.floor(at.getTime() / 1000),
      payment_intent: id,
      metadata: {},
      billing_details: { email: null, phone: null, name: null, address: null },
    };
    const event = {
      id: `evt_refund_${id}`,
      object: 'event',
      api_version: '2026-10-28.endive',
      created: Math.floor(at.getTime() / 1000),
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type: 'charge.refunded',
      data: { object: charge },
    };
    return stripeSigned(JSON.stringify(event), new Date());
  },
};

export const sourceDrivers: Record<string, SourceDriver> = { stripe };

/** The settings every driver needs, merged, and every secret among them. */
export const driverEnv = () => Object.assign({}, ...Object.values(sourceDrivers).map((d) => d.env)) as Record<string, string>;
export const driverSecrets = () => Object.values(sourceDrivers).flatMap((d) => d.secrets);

export async function send(baseUrl: string, req: SourceRequest): Promise<Response> {
  return fetch(`${baseUrl}${req.path}`, { method: req.method, headers: req.headers, body: req.method === 'GET' ? undefined : typeof req.body === 'string' ? req.body : new Uint8Array(req.body), signal: AbortSignal.timeout(30_000) });
}
