import Stripe from 'stripe';
import { needsChargeRefunds, type HistoryObject } from '../../functions/sources/stripe/history.ts';
import { OperatorError } from './target.ts';
import { Throttle, sendWithRateLimitRetries, type Clock } from './throttle.ts';

type HttpClientInterface = Stripe.HttpClient;
type HttpClientResponseInterface = Stripe.HttpClientResponse;

/** The Stripe API key the backfill reads with: a restricted, read-only key (README, "Backfill"). */
export const STRIPE_KEY_SETTING = 'STRIPE_API_KEY';
/** Another API base URL (a proxy, or a test's fake), like the platforms' *_API_BASE_URL settings. */
export const STRIPE_BASE_URL_SETTING = 'STRIPE_API_BASE_URL';
/** Requests per second per endpoint (Stripe's default limit is 25; its sandbox allows 25 in all). */
export const STRIPE_RATE_SETTING = 'STRIPE_BACKFILL_RATE';
export const DEFAULT_STRIPE_RATE = 25;
/** Stripe's Events API goes back 30 days. */
export const STRIPE_EVENTS_WINDOW_MS = 30 * 86400_000;
/** The restricted key's Read permissions, by the Dashboard's names (README "Backfill"). */
export const STRIPE_KEY_PERMISSIONS = 'Checkout Sessions, Subscriptions, PaymentIntents, Invoices, Charges and Refunds, Disputes and Events';

/** The webhook event types the relay turns into conversions (functions/sources/stripe/map.ts); `types` takes up to 20. */
export const CONVERSION_EVENT_TYPES = [
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'payment_intent.succeeded',
  'invoice.paid',
  'customer.subscription.created',
  'charge.refunded',
  'charge.dispute.created',
];

export interface StripeHistoryOptions {
  settings: Readonly<Record<string, string | undefined>>;
  clock?: Clock;
  /** Told each time a 429 is retried (for the progress line). */
  onRateLimited?: (endpoint: string, attempt: number, waitMs: number) => void;
  /** How many times one request is retried after a 429 before the backfill stops with the error. */
  maxRateLimitRetries?: number;
}

/**
 * stripe-node retries connection errors, 409 and 5xx (and what `Stripe-Should-Retry: true` marks), but not a plain
 * 429 (`RequestSender._shouldRetry` in stripe@23). So the client gets an HTTP layer of ours: each request waits for
 * its endpoint's slot, and a 429 is retried after an exponential backoff; stripe-node's own retries pass through it.
 */
export function throttledHttpClient(inner: HttpClientInterface, throttle: Throttle, opts: Pick<StripeHistoryOptions, 'clock' | 'onRateLimited' | 'maxRateLimitRetries'> = {}): HttpClientInterface {
  return {
    getClientName: () => `${inner.getClientName()}+throttle`,
    makeRequest(host, port, path, method, headers, requestData, protocol, timeout): Promise<HttpClientResponseInterface> {
      return sendWithRateLimitRetries(
        `${method} ${path.split('?')[0]}`,
        () => inner.makeRequest(host, port, path, method, headers, requestData, protocol, timeout),
        async (res) => {
          if (res.getStatusCode() !== 429) return undefined;
          // The body is read and dropped so the connection can be reused.
          await res.toJSON().catch(() => undefined);
          return { retryAfter: res.getHeaders()['retry-after'] as string | undefined };
        },
        { throttle, clock: opts.clock, maxRetries: opts.maxRateLimitRetries, onRateLimited: opts.onRateLimited },
      );
    },
  };
}

/** A Stripe client for the backfill: the read-only key, throttled, pointed at STRIPE_API_BASE_URL when set. */
export function stripeForBackfill(opts: StripeHistoryOptions): Stripe {
  const key = opts.settings[STRIPE_KEY_SETTING]?.trim();
  if (!key) {
    throw new OperatorError(
      `Set ${STRIPE_KEY_SETTING} (in the environment or .env) to a restricted Stripe key with read access to ${STRIPE_KEY_PERMISSIONS}; see README "Backfill".`,
    );
  }
  if (/^(sk|rk)_/.test(key) === false) throw new OperatorError(`${STRIPE_KEY_SETTING} does not look like a Stripe API key (rk_live_… / rk_test_…).`);
  if (key.startsWith('sk_')) process.stderr.write(`warning: ${STRIPE_KEY_SETTING} is a secret key with write access; a restricted read-only key (rk_…) is enough for a backfill.\n`);
  const rate = Number(opts.settings[STRIPE_RATE_SETTING] ?? DEFAULT_STRIPE_RATE);
  if (!(rate > 0)) throw new OperatorError(`${STRIPE_RATE_SETTING} must be a positive number of requests per second, got "${opts.settings[STRIPE_RATE_SETTING]}".`);
  const base = opts.settings[STRIPE_BASE_URL_SETTING]?.trim();
  let where = {};
  if (base) {
    const url = new URL(base);
    where = { host: url.hostname, port: Number(url.port || (url.protocol === 'http:' ? 80 : 443)), protocol: url.protocol.replace(':', '') as 'http' | 'https' };
  }
  return new Stripe(key, {
    ...where,
    httpClient: throttledHttpClient(Stripe.createNodeHttpClient(), new Throttle(rate, opts.clock), opts),
    maxNetworkRetries: 2,
    telemetry: false,
    appInfo: { name: 'conversion-relay-backfill' },
  });
}

export interface Window {
  gte: number;
  lte: number;
}

/**
 * Every object a backfill of `window` (Unix seconds) reads, in the order it is fed: Checkout Sessions first (they carry
 * the customer details and the visitor ID the site put in client_reference_id), then subscriptions (trial starts), the
 * invoice.paid events and paid invoices, PaymentIntents (those a session already reported are the same conversion),
 * refunds (with their charge) and disputes.
 *
 * Invoices are listed twice because Stripe filters them on `created` only, while an invoice is reported when it is
 * paid, possibly long after (a trial's first charge, a retried payment, an invoice sent with 30 days to pay): the
 * invoice.paid events of the window's last 30 days (all Stripe keeps) are those very webhooks, whenever their invoice
 * was created; paid invoices created in the window cover its older part. Both give one conversion per invoice.
 */
export async function* stripeHistory(stripe: Stripe, window: Window, now: Date = new Date()): AsyncGenerator<{ kind: string; object: HistoryObject }> {
  const created = { gte: window.gte, lte: window.lte };
  const eventsSince = Math.max(window.gte, Math.ceil((now.getTime() - STRIPE_EVENTS_WINDOW_MS) / 1000));
  const lists: [string, () => AsyncIterable<HistoryObject>][] = [
    ['checkout sessions', () => stripe.checkout.sessions.list({ created, status: 'complete', limit: 100 })],
    // Without a status Stripe leaves canceled subscriptions out, and a trial canceled since was still a trial start.
    ['subscriptions', () => stripe.subscriptions.list({ created, status: 'all', limit: 100 })],
    ['invoice.paid events', () => (eventsSince <= window.lte ? stripe.events.list({ type: 'invoice.paid', created: { gte: eventsSince, lte: window.lte }, limit: 100 }) : none())],
    ['invoices', () => stripe.invoices.list({ created, status: 'paid', limit: 100 })],
    ['payment intents', () => stripe.paymentIntents.list({ created, limit: 100 })],
    ['refunds', () => withChargeRefunds(stripe, stripe.refunds.list({ created, limit: 100, expand: ['data.charge'] }))],
    ['disputes', () => stripe.disputes.list({ created, limit: 100 })],
  ];
  for (const [kind, list] of lists) {
    for await (const object of list()) yield { kind, object };
  }
}

async function* none(): AsyncGenerator<never> {}

/**
 * Refunds with their charge's complete list of refunds where the wrapping needs it (several refunds of one charge:
 * each webhook reported the total refunded up to it, history.ts); listed once per charge, whatever the window.
 */
async function* withChargeRefunds(stripe: Stripe, refunds: AsyncIterable<Stripe.Refund>): AsyncGenerator<Stripe.Refund> {
  const byCharge = new Map<string, Stripe.Refund[]>();
  for await (const refund of refunds) {
    if (!needsChargeRefunds(refund)) {
      yield refund;
      continue;
    }
    const charge = refund.charge as Stripe.Charge;
    let all = byCharge.get(charge.id);
    if (!all) {
      all = await stripe.refunds.list({ charge: charge.id, limit: 100 }).autoPagingToArray({ limit: 10_000 });
      byCharge.set(charge.id, all);
    }
    yield { ...refund, charge: { ...charge, refunds: { object: 'list', data: all, has_more: false, url: `/v1/charges/${charge.id}/refunds` } } };
  }
}

/** Events whose delivery to some webhook endpoint failed or is still pending (Stripe keeps 30 days of events). */
export async function* undeliveredEvents(stripe: Stripe, window: Window): AsyncGenerator<Stripe.Event> {
  for await (const event of stripe.events.list({ delivery_success: false, created: { gte: window.gte, lte: window.lte }, types: CONVERSION_EVENT_TYPES, limit: 100 })) {
    yield event;
  }
}
