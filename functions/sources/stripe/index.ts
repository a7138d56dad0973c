import type Stripe from 'stripe';
import { RequestError } from '#core/errors.ts';
import type { Source } from '#sources/types.ts';
import { mapStripeEvent } from './map.ts';
import { verifyStripeSignature } from './verify.ts';

/**
 * Stripe webhooks: `Stripe-Signature` verified over the raw body (HMAC-SHA256, 300 s tolerance; verify.ts does what
 * the `stripe` package's `constructEvent` does, without loading the whole API client). `STRIPE_WEBHOOK_SECRET` may
 * hold several comma-separated secrets so a rolled secret keeps working.
 */
export const stripeSource: Source = {
  name: 'stripe',
  async read(request, settings, now) {
    const secrets = (settings.STRIPE_WEBHOOK_SECRET ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    if (secrets.length === 0) throw new Error('STRIPE_WEBHOOK_SECRET is not configured');
    const header = request.headers['stripe-signature'];
    if (!header) throw new RequestError(400, 'missing_signature', 'the Stripe-Signature header is missing');
    let verified = false;
    let failure = '';
    for (const secret of secrets) {
      try {
        // The timestamp is checked against the `now` the caller passes (Stripe's default 300 s tolerance).
        verifyStripeSignature(request.body, header, secret, now);
        verified = true;
        break;
      } catch (err) {
        failure = err instanceof Error ? err.message : String(err);
      }
    }
    if (!verified) {
      // The messages name what failed (no match, timestamp outside tolerance, unparsable header) and never the secret.
      throw new RequestError(400, 'invalid_signature', `Stripe signature verification failed: ${failure}`);
    }
    let event: Stripe.Event | undefined;
    try {
      event = JSON.parse(request.body.toString('utf8'));
    } catch {
      throw new RequestError(400, 'malformed_body', 'the signed body is not valid JSON');
    }
    // A signed body that parses to null, a string or an object without id/type is not an event.
    if (!event || typeof event !== 'object' || !event.type || !event.id) {
      throw new RequestError(400, 'malformed_event', 'the body is not a Stripe event');
    }
    return mapStripeEvent(event);
  },
};
