import { hmacSha256, signaturesMatch } from '#core/signature.ts';

/**
 * Stripe's webhook signature check (stripe.com/docs/webhooks#verify-manually), as the `stripe` package's
 * `webhooks.constructEvent` does it: the `Stripe-Signature` header is `t=<unix seconds>,v1=<hex>[,v1=…]`, each v1 an
 * HMAC-SHA256 of `<t>.<raw body>` under the endpoint's secret; any v1 may match (Stripe sends one per active secret);
 * older than `toleranceS` is refused. Written with node:crypto instead of importing `stripe`: that package is ~240 KB
 * of the ingest bundle, parsed at every cold start, for these few lines. The messages are Stripe's own.
 * `payload` is the raw body as UTF-8 text. Returns undefined when the signature holds, else why not (never the secret).
 */
export function stripeSignatureProblem(payload: string, header: string, secret: string, toleranceS: number, nowMs: number): string | undefined {
  let timestamp = -1;
  const signatures: string[] = [];
  for (const item of header.split(',')) {
    const [key, value] = item.split('=');
    if (key === 't') timestamp = Number.parseInt(value, 10);
    if (key === 'v1' && value) signatures.push(value);
  }
  if (!(timestamp > 0)) return 'Unable to extract timestamp and signatures from header';
  if (signatures.length === 0) return 'No signatures found with expected scheme';
  const expected = hmacSha256(secret, `${timestamp}.${payload}`, 'hex');
  if (!signatures.some((s) => signaturesMatch(expected, s))) return 'No signatures found matching the expected signature for payload';
  if (toleranceS > 0 && Math.floor(nowMs / 1000) - timestamp > toleranceS) return 'Timestamp outside the tolerance zone';
  return undefined;
}
