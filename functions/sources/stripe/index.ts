import type Stripe from 'stripe';
import { RequestError } from '#core/errors.ts';
import { mappingFrom } from '#core/mapping.ts';
import type { Settings, Source, SourceResult } from '#sources/types.ts';
import { mapStripeEvent } from './map.ts';
import { stripeWebhooks } from './signature.ts';

/**
 * Stripe webhooks: `Stripe-Signature` verified over the raw body by the `stripe` package's verifier (HMAC-SHA256,
 * 300 s tolerance; ./signature.ts loads it without the API client). `STRIPE_WEBHOOK_SECRET` may hold several
 * comma-separated secrets so a rolled secret keeps working.
 */
/** Stripe's default tolerance for the signature timestamp, in seconds. */
const SIGNATURE_TOLERANCE_S = 300;

export const stripeSource: Source = {
  name: 'stripe',
  async read(request, settings, now) {
    const secrets = (settings.STRIPE_WEBHOOK_SECRET ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    if (secrets.length === 0) throw new Error('STRIPE_WEBHOOK_SECRET is not configured');
    const header = request.headers['stripe-signature'];
    if (!header) throw new RequestError(400, 'missing_signature', 'the Stripe-Signature header is missing');
    // Stripe's check only refuses old signatures; one from the future is refused too (same tolerance), so a captured
    // request cannot be pre-dated to outlive the replay window.
    const signedAt = Number(/(?:^|,)\s*t=(\d+)/.exec(header)?.[1]);
    if (Number.isFinite(signedAt) && signedAt * 1000 > now.getTime() + SIGNATURE_TOLERANCE_S * 1000) {
      throw new RequestError(400, 'invalid_signature', 'Stripe signature verification failed: the timestamp is in the future');
    }
    let event: Stripe.Event | undefined;
    let verified = false;
    let failure = '';
    for (const secret of secrets) {
      try {
        // The timestamp is checked against the `now` the caller passes (Stripe's default 300 s tolerance).
        event = await stripeWebhooks.constructEventAsync(request.body, header, secret, SIGNATURE_TOLERANCE_S, undefined, now.getTime());
        verified = true;
        break;
      } catch (err) {
        // The signature matched but the body is not JSON: no other secret will do better.
        if (err instanceof SyntaxError) throw new RequestError(400, 'malformed_body', 'the signed body is not valid JSON');
        failure = err instanceof Error ? err.message : String(err);
      }
    }
    if (!verified) {
      // Stripe's own messages name what failed (no match, timestamp outside tolerance, unparsable header) and never the secret.
      throw new RequestError(400, 'invalid_signature', `Stripe signature verification failed: ${failure.split('\n')[0]}`);
    }
    // A signed body that parses to null, a string or an object without id/type is not an event.
    if (!event || typeof event !== 'object' || !event.type || !event.id) {
      throw new RequestError(400, 'malformed_event', 'the body is not a Stripe event');
    }
    return readStripeEvent(event, settings);
  },
};

/**
 * A genuine Stripe event (verified webhook, or one the backfill read from Stripe's API) as the pipeline takes it: its
 * conversions, test-mode ones marked as tests. Webhook and backfill both go through here, so they agree.
 */
export function readStripeEvent(event: Stripe.Event, settings: Settings): SourceResult {
  let result: SourceResult;
  try {
    result = mapStripeEvent(event, mappingFrom(settings));
  } catch (err) {
    // A signed event whose fields are not what Stripe sends (a non-integer amount, say): a retry cannot help.
    if (err instanceof RequestError) throw err;
    throw new RequestError(422, 'unreadable_event', `the Stripe event could not be read: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500));
  }
  // Stripe test mode (livemode: false) must not reach live ad accounts: such conversions are recorded with their
  // exact payload (dry-run, "test event"), never sent, unless STRIPE_SEND_TEST_EVENTS=true says otherwise.
  if (result.kind === 'conversions' && event.livemode === false && !sendsTestEvents(settings)) {
    for (const draft of result.conversions) draft.test = true;
  }
  return result;
}

/** STRIPE_SEND_TEST_EVENTS=true: test-mode events are sent like live ones (a staging relay on test ad accounts). */
export const SEND_TEST_EVENTS_SETTING = 'STRIPE_SEND_TEST_EVENTS';
function sendsTestEvents(settings: Settings): boolean {
  const raw = (settings[SEND_TEST_EVENTS_SETTING] ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new Error(`${SEND_TEST_EVENTS_SETTING} must be true or false, got "${raw}"`);
}
