import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { stripeSignatureProblem } from './signature.ts';

const SECRET = 'whsec_test_secret';
const NOW_S = 1_760_000_000;
const payload = JSON.stringify({ id: 'evt_1', type: 'checkout.session.completed', data: { object: { amount_total: 1999 } } });
const sign = (secret: string, timestamp = NOW_S, body = payload) => Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp });
const v1 = (header: string) => header.split(',').find((p) => p.startsWith('v1='))!;

/** Headers as Stripe (or an attacker) could send them, each with the payload it goes with. */
const cases: [string, string, string][] = [
  ['signed by the secret', sign(SECRET), payload],
  ['signed by another secret', sign('whsec_other'), payload],
  ['body changed after signing', sign(SECRET), payload.replace('1999', '1')],
  ['301 s old', sign(SECRET, NOW_S - 301), payload],
  ['299 s old', sign(SECRET, NOW_S - 299), payload],
  ['two v1 signatures, the second ours (a secret being rolled)', `t=${NOW_S},${v1(sign('whsec_other'))},${v1(sign(SECRET))}`, payload],
  ['only a v0 signature', `t=${NOW_S},v0=${v1(sign(SECRET)).slice(3)}`, payload],
  ['no timestamp', v1(sign(SECRET)), payload],
  ['garbage', 'not a signature header', payload],
  ['empty', '', payload],
];

describe('Stripe webhook signature check (node:crypto)', () => {
  it.each(cases)('agrees with the stripe package: %s', (_, header, body) => {
    let stripeAccepts = true;
    try {
      Stripe.webhooks.constructEvent(body, header, SECRET, 300, undefined, NOW_S * 1000);
    } catch {
      stripeAccepts = false;
    }

    const problem = stripeSignatureProblem(body, header, SECRET, 300, NOW_S * 1000);

    expect(problem === undefined).toBe(stripeAccepts);
  });

  it('says why, in Stripe’s words, and never echoes the secret', () => {
    expect(stripeSignatureProblem(payload, sign('whsec_other'), SECRET, 300, NOW_S * 1000)).toMatch(/^No signatures found matching the expected signature/);
    expect(stripeSignatureProblem(payload, sign(SECRET, NOW_S - 301), SECRET, 300, NOW_S * 1000)).toBe('Timestamp outside the tolerance zone');
    expect(stripeSignatureProblem(payload, 'garbage', SECRET, 300, NOW_S * 1000)).toMatch(/^Unable to extract timestamp/);
    for (const h of [sign('whsec_other'), 'garbage']) expect(stripeSignatureProblem(payload, h, SECRET, 300, NOW_S * 1000)).not.toContain(SECRET);
  });
});
