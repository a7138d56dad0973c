import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { stripeWebhooks } from './signature.ts';

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
  ['signed, but not JSON', sign(SECRET, NOW_S, 'not json'), 'not json'],
];

const outcome = async (verify: () => Promise<unknown>) => {
  try {
    return { event: await verify() };
  } catch (err) {
    return { error: `${(err as Error).constructor.name}: ${(err as Error).message}` };
  }
};

describe('the stripe package’s verifier, loaded without its API client', () => {
  it.each(cases)('answers as Stripe.webhooks does: %s', async (_, header, body) => {
    const ours = await outcome(() => stripeWebhooks.constructEventAsync(Buffer.from(body), header, SECRET, 300, undefined, NOW_S * 1000));
    const theirs = await outcome(() => Stripe.webhooks.constructEventAsync(Buffer.from(body), header, SECRET, 300, undefined, NOW_S * 1000));

    expect(ours).toEqual(theirs);
  });

  it('accepts what Stripe signed and refuses the rest', async () => {
    const verdicts = await Promise.all(cases.map(async ([name, header, body]) => [name, 'event' in (await outcome(() => stripeWebhooks.constructEventAsync(body, header, SECRET, 300, undefined, NOW_S * 1000)))]));

    expect(Object.fromEntries(verdicts.filter(([, ok]) => ok))).toEqual({
      'signed by the secret': true,
      '299 s old': true,
      'two v1 signatures, the second ours (a secret being rolled)': true,
    });
  });
});
