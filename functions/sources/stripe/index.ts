import type Stripe from 'stripe';
import { RequestError } from '#core/errors.ts';
import { mappingFrom } from '#core/mapping.ts';
import { hmacSha256, signaturesMatch } from '#core/signature.ts';
import type { Settings, Source, SourceResult } from '#sources/types.ts';
import { mapStripeEvent } from './map.ts';

/**
 * Stripe webhooks: `Stripe-Signature` verified over the raw body as Stripe documents it and as the `stripe` package's
 * `constructEvent` does (HMAC-SHA256 of `<t>.<body>`, hex, compared with each `v1` entry; 300 s tolerance), done
 * directly: the package's verifier costs several times the HMAC itself on every webhook. `STRIPE_WEBHOOK_SECRET` may
 * hold several comma-separated secrets so a rolled secret keeps working.
 */
/** Stripe's default tolerance for the signature timestamp, in seconds. */
const SIGNATURE_TOLERANCE_S = 300;

/** `t=<unix s>,v1=<hex>,v1=<hex>,v0=…` → the timestamp and the v1 signatures (Stripe's parser: other schemes ignored). */
function parseSignatureHeader(header: string): { timestamp: number; signatures: string[] } {
  let timestamp = -1;
  const signatures: string[] = [];
  for (const item of header.split(',')) {
    const [k, v] = item.split('=');
    if (k === 't') timestamp = parseInt(v, 10);
    else if (k === 'v1') signatures.push(v);
  }
  return { timestamp, signatures };
}

/**
 * Stripe's signature check (`stripe` package, `webhooks.signature.verifyHeader`): the same refusals and messages —
 * no timestamp or v1 signature, no signature matching any secret, a timestamp older than the tolerance — and then
 * the body parsed as JSON (a `SyntaxError` when it is not).
 */
function verifyStripeSignature(body: Buffer, header: string, secrets: string[], nowMs: number): unknown {
  const { timestamp, signatures } = parseSignatureHeader(header);
  if (!(timestamp >= 0) || signatures.length === 0) throw new RequestError(400, 'invalid_signature', 'Stripe signature verification failed: Unable to extract timestamp and signatures from header');
  const payload = body.toString('utf8');
  const signed = `${timestamp}.${payload}`;
  const matched = secrets.some((secret) => {
    const expected = hmacSha256(secret, signed, 'hex');
    return signatures.some((given) => signaturesMatch(expected, given));
  });
  if (!matched) throw new RequestError(400, 'invalid_signature', 'Stripe signature verification failed: No signatures found matching the expected signature for payload.');
  if (Math.floor(nowMs / 1000) - timestamp > SIGNATURE_TOLERANCE_S) throw new RequestError(400, 'invalid_signature', 'Stripe signature verification failed: Timestamp outside the tolerance zone');
  return JSON.parse(payload);
}

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
    try {
      // The timestamp is checked against the `now` the caller passes (Stripe's default 300 s tolerance).
      event = verifyStripeSignature(request.body, header, secrets, now.getTime()) as Stripe.Event;
    } catch (err) {
      // The signature matched but the body is not JSON.
      if (err instanceof SyntaxError) throw new RequestError(400, 'malformed_body', 'the signed body is not valid JSON');
      throw err;
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
