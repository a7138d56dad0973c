import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { verifyStripeSignature } from './verify.ts';

/**
 * The hand-written check must accept and refuse exactly what the `stripe` package's own `constructEvent` does: every
 * case is run through both, with headers made by Stripe's test helper or edited from one.
 */
const SECRET = 'whsec_verify_test_secret';
const NOW = new Date('2026-03-02T12:00:00.000Z');
const NOW_S = Math.floor(NOW.getTime() / 1000);
const payload = JSON.stringify({ id: 'evt_1', object: 'event', type: 'checkout.session.completed', data: { object: { id: 'cs_1' } } });
const sign = (timestamp = NOW_S, secret = SECRET, body = payload) => Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp });
const v1Of = (header: string) => header.split(',').find((p) => p.startsWith('v1='))!.slice(3);

function both(header: string, body = payload, secret = SECRET) {
  const ours = (() => {
    try {
      verifyStripeSignature(Buffer.from(body), header, secret, NOW);
      return 'ok';
    } catch (err) {
      return (err as Error).message;
    }
  })();
  const stripes = (() => {
    try {
      Stripe.webhooks.constructEvent(Buffer.from(body), header, secret, undefined, undefined, NOW.getTime());
      return 'ok';
    } catch (err) {
      return (err as Error).message;
    }
  })();
  return { ours, stripes };
}

describe('Stripe signature check, against the stripe package', () => {
  const cases: [string, () => { header: string; body?: string; secret?: string }, boolean][] = [
    ['a header made by Stripe’s helper', () => ({ header: sign() }), true],
    ['another secret', () => ({ header: sign(NOW_S, 'whsec_other') }), false],
    ['a body changed after signing', () => ({ header: sign(), body: payload.replace('cs_1', 'cs_2') }), false],
    ['a timestamp 301 s old', () => ({ header: sign(NOW_S - 301) }), false],
    ['a timestamp 300 s old', () => ({ header: sign(NOW_S - 300) }), true],
    ['a timestamp in the future (Stripe accepts it)', () => ({ header: sign(NOW_S + 600) }), true],
    ['a rolled secret: a wrong v1 first, the right one second', () => ({ header: `t=${NOW_S},v1=${'0'.repeat(64)},v1=${v1Of(sign())}` }), true],
    ['only a v0 signature', () => ({ header: `t=${NOW_S},v0=${v1Of(sign())}` }), false],
    ['no timestamp', () => ({ header: `v1=${v1Of(sign())}` }), false],
    ['a truncated signature', () => ({ header: `t=${NOW_S},v1=${v1Of(sign()).slice(0, 63)}` }), false],
    ['garbage', () => ({ header: 'not a stripe header' }), false],
  ];

  it.each(cases)('%s', (_, make, accepted) => {
    const { header, body, secret } = make();
    const { ours, stripes } = both(header, body, secret);
    expect(ours === 'ok').toBe(accepted);
    expect(stripes === 'ok').toBe(accepted);
    if (!accepted) expect(stripes.startsWith(ours.replace(/\.$/, ''))).toBe(true);
  });
});
