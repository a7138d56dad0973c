import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkoutCompleted, collectVisit, postStripe, useTempRelay } from '../support/flows.ts';
import { startConversionApiPlatforms, type StartedPlatforms } from '../support/platforms.ts';

/**
 * Reddit's error handling end to end through `npm start`'s runner against the Reddit fake (test/fakes/reddit-server.ts):
 * throttling and outages are retried until Reddit takes the event once; a batch Reddit rejects whole for one invalid
 * event is split so only that event reaches the DLQ, with Reddit's reason; a refused token dead-letters with
 * UNAUTHORIZED; an event older than Reddit's 7 days is skipped with the reason instead of being sent.
 */
const STRIPE_SECRET = 'whsec_e2e_reddit';
const BUYER = { email: 'Al.ice$+Apple@Example.Com', phone: '+1 (415) 555-0100', name: 'Alice Apple' };

describe('Reddit error handling through the local runner', () => {
  let platforms: StartedPlatforms;
  beforeAll(async () => {
    platforms = await startConversionApiPlatforms(['reddit']);
  });
  afterAll(async () => platforms?.close());
  const relay = useTempRelay('relay-e2e-reddit-', () => ({
    STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
    ...platforms.env,
    RELAY_RETRY_BASE_SECONDS: '1',
    RELAY_MAX_ATTEMPTS: '5',
  }));
  const reddit = () => platforms.byName.reddit;
  const atReddit = (id: string) => reddit().fake.events().filter((e) => reddit().eventId(e) === id);

  /** A purchase by a visitor who landed from a Reddit ad; `created` moves the Stripe event back in time. */
  async function purchase(opts: { createdAgoS?: number; beforeWebhook?: (orderId: string) => void } = {}) {
    const { visitorId } = await collectVisit(relay, `https://shop.example.com/landing?rdt_cid=rdt-${Date.now()}`, { userAgent: 'Mozilla/5.0 e2e-reddit', cookie: platforms.cookieHeader() });
    const checkout = checkoutCompleted('e2e_reddit', 4999, BUYER, { client_reference_id: visitorId });
    const event = JSON.parse(checkout.payload);
    if (opts.createdAgoS) event.created -= opts.createdAgoS;
    opts.beforeWebhook?.(checkout.id);
    expect((await postStripe(relay, JSON.stringify(event), { secret: STRIPE_SECRET })).status).toBe(200);
    return checkout.id;
  }

  it('retries a 429 and a 500 and delivers the event once, Reddit’s e-mail form hashed', async () => {
    reddit().fake.reset();
    reddit().fake.failNext(1, { status: 429, body: { message: 'Too many requests/events within timeframe.' } });
    reddit().fake.failNext(1, { status: 500, body: { message: 'The service is currently unavailable. No conversion events were processed.' } });
    const id = await purchase();
    await relay.waitFor(async () => (await relay.ledgerFor(id, 'reddit')).some((r) => r.status === 'delivered'), 40_000, 'delivered after the retries');
    expect(atReddit(id)).toHaveLength(1);
    // Reddit's help page: Al.ice$+Apple@Example.Com → alice@example.com.
    expect(atReddit(id)[0].user.email).toBe('ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976');
    expect((await relay.ledgerFor(id, 'reddit'))[0].attempts).toBeGreaterThanOrEqual(3);
  });

  it('splits a request Reddit rejects whole for one invalid event: that one to the DLQ with Reddit’s reason, the others delivered', async () => {
    reddit().fake.reset();
    let bad = '';
    const refuse = (id: string) => {
      bad = id;
      reddit().fake.failWhen((e) => reddit().eventId(e) === id, reddit().refusal.reply);
    };
    // Three purchases at once: the sender's poll usually takes them in one request (the fake unit test pins the split).
    const ids = await Promise.all([purchase(), purchase({ beforeWebhook: refuse }), purchase()]);
    expect(bad).toBe(ids[1]);
    const dlq = await relay.waitFor(async () => (await relay.dlqMessages('reddit')).find((m) => JSON.stringify(m.body).includes(bad)), 40_000, 'the bad event in the Reddit DLQ');
    expect(dlq.attributes).toMatchObject({ destination: 'reddit', errorCode: 'invalid_event', errorMessage: expect.stringMatching(reddit().refusal.reason) });
    for (const id of [ids[0], ids[2]]) await relay.waitFor(() => atReddit(id).length === 1, 30_000, `${id} delivered`);
    expect(atReddit(bad)).toEqual([]);
  });

  it('dead-letters with UNAUTHORIZED when Reddit refuses the token, without retrying', async () => {
    reddit().fake.reset();
    const unauthorized = { status: 401, body: { success: false, error: { reason: 'UNAUTHORIZED', explanation: 'The access token could not be authenticated' } } };
    const id = await purchase({ beforeWebhook: (orderId) => reddit().fake.failWhen((e) => reddit().eventId(e) === orderId, unauthorized) });
    const row = await relay.waitFor(async () => (await relay.ledgerFor(id, 'reddit')).find((r) => r.status === 'dead_lettered'), 40_000, 'dead-lettered');
    expect(row).toMatchObject({ attempts: 1, errorCode: 'UNAUTHORIZED' });
  });

  it('skips an event older than Reddit’s 7 days with the reason, sending nothing', async () => {
    reddit().fake.reset();
    const id = await purchase({ createdAgoS: 8 * 86400 });
    const row = await relay.waitFor(async () => (await relay.ledgerFor(id, 'reddit')).find((r) => r.status === 'skipped'), 30_000, 'skipped');
    expect(row.reason).toMatch(/^too old for reddit: occurred 19\d h ago, the platform accepts at most 167 h/);
    expect(reddit().fake.requests().filter((r) => JSON.stringify(r.body).includes(id))).toEqual([]);
  });
});
