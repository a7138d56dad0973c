import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStripeApiFake, type StripeApiFake } from './stripe-api-server.ts';

const KEY = 'rk_test_fake_backfill';
const T0 = 1_790_000_000;

describe('Stripe API fake (list endpoints)', () => {
  let fake: StripeApiFake;
  let stripe: Stripe;
  const get = (path: string, key = KEY) => fetch(`${fake.baseUrl}${path}`, { headers: { authorization: `Bearer ${key}` } });

  beforeAll(async () => {
    fake = await startStripeApiFake({ apiKey: KEY });
    const url = new URL(fake.baseUrl);
    // stripe-node itself, pointed at the fake: what the backfill does.
    stripe = new Stripe(KEY, { host: url.hostname, port: Number(url.port), protocol: 'http', maxNetworkRetries: 0, telemetry: false });
  });
  afterAll(async () => fake.close());
  beforeEach(() => fake.reset());

  const sessions = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `cs_${i}`, object: 'checkout.session', created: T0 + i, status: i % 2 ? 'complete' : 'expired' }));

  it('pages newest first with limit, starting_after and has_more; stripe-node auto-pagination reads every page', async () => {
    fake.add(...sessions(7));
    const first = (await (await get('/v1/checkout/sessions?limit=3')).json()) as any;
    expect(first).toMatchObject({ object: 'list', has_more: true, url: '/v1/checkout/sessions' });
    expect(first.data.map((s: any) => s.id)).toEqual(['cs_6', 'cs_5', 'cs_4']);
    const next = (await (await get('/v1/checkout/sessions?limit=3&starting_after=cs_4')).json()) as any;
    expect(next.data.map((s: any) => s.id)).toEqual(['cs_3', 'cs_2', 'cs_1']);
    const last = (await (await get('/v1/checkout/sessions?limit=3&starting_after=cs_1')).json()) as any;
    expect(last).toMatchObject({ has_more: false, data: [{ id: 'cs_0' }] });

    const all = await stripe.checkout.sessions.list({ limit: 2 }).autoPagingToArray({ limit: 100 });
    expect(all.map((s) => s.id)).toEqual(['cs_6', 'cs_5', 'cs_4', 'cs_3', 'cs_2', 'cs_1', 'cs_0']);
    expect(fake.requests.filter((r) => r.status === 200 && r.path === '/v1/checkout/sessions').length).toBe(3 + 4);
  });

  it('filters on created[gte|lte] and status as stripe-node encodes them', async () => {
    fake.add(...sessions(7));
    const got = await stripe.checkout.sessions.list({ created: { gte: T0 + 2, lte: T0 + 5 }, status: 'complete', limit: 100 }).autoPagingToArray({ limit: 100 });
    expect(got.map((s) => s.id)).toEqual(['cs_5', 'cs_3']);
    expect(fake.requests.at(-1)?.query).toMatchObject({ created: { gte: String(T0 + 2), lte: String(T0 + 5) }, status: 'complete', limit: '100' });
  });

  it('expands a refund\'s charge on request only', async () => {
    fake.add({ id: 'ch_1', object: 'charge', created: T0, amount: 500, amount_refunded: 500 }, { id: 're_1', object: 'refund', created: T0 + 1, charge: 'ch_1', status: 'succeeded' });
    const [plain] = (await stripe.refunds.list()).data;
    expect(plain.charge).toBe('ch_1');
    const [expanded] = (await stripe.refunds.list({ expand: ['data.charge'] })).data;
    expect(expanded.charge).toMatchObject({ id: 'ch_1', amount_refunded: 500 });
  });

  it('lists subscriptions without the canceled ones unless status says otherwise (all, ended, one status)', async () => {
    const statuses = ['active', 'trialing', 'canceled', 'incomplete_expired'];
    fake.add(...statuses.map((status, i) => ({ id: `sub_${status}`, object: 'subscription', created: T0 + i, status })));
    const ids = async (params: Stripe.SubscriptionListParams) => (await stripe.subscriptions.list(params)).data.map((s) => s.id);
    expect(await ids({})).toEqual(['sub_incomplete_expired', 'sub_trialing', 'sub_active']);
    expect(await ids({ status: 'all' })).toEqual(['sub_incomplete_expired', 'sub_canceled', 'sub_trialing', 'sub_active']);
    expect(await ids({ status: 'ended' })).toEqual(['sub_incomplete_expired', 'sub_canceled']);
    expect(await ids({ status: 'trialing' })).toEqual(['sub_trialing']);
  });

  it('lists the refunds of one charge', async () => {
    fake.add({ id: 're_1', object: 'refund', created: T0, charge: 'ch_1' }, { id: 're_2', object: 'refund', created: T0 + 1, charge: 'ch_2' }, { id: 're_3', object: 'refund', created: T0 + 2, charge: 'ch_1' });
    expect((await stripe.refunds.list({ charge: 'ch_1' })).data.map((r) => r.id)).toEqual(['re_3', 're_1']);
  });

  it('lists events with failed deliveries under delivery_success=false, filtered by types', async () => {
    fake.addEvent({ id: 'evt_ok', object: 'event', type: 'invoice.paid', created: T0 }, true);
    fake.addEvent({ id: 'evt_failed', object: 'event', type: 'invoice.paid', created: T0 + 1 }, false);
    fake.addEvent({ id: 'evt_other', object: 'event', type: 'customer.updated', created: T0 + 2 }, false);
    const got = await stripe.events.list({ delivery_success: false, types: ['invoice.paid', 'charge.refunded'] }).autoPagingToArray({ limit: 10 });
    expect(got.map((e) => e.id)).toEqual(['evt_failed']);
    expect(fake.requests.at(-1)?.query).toMatchObject({ delivery_success: 'false', types: ['invoice.paid', 'charge.refunded'] });
  });

  it('refuses what Stripe refuses: a wrong key (401), a missing permission (403), an unknown parameter or limit > 100 (400)', async () => {
    expect((await get('/v1/invoices', 'rk_test_wrong')).status).toBe(401);
    fake.deny('/v1/disputes');
    await expect(stripe.disputes.list()).rejects.toMatchObject({ statusCode: 403, type: 'StripePermissionError' });
    const unknown = await get('/v1/payment_intents?status=succeeded');
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as any).error).toMatchObject({ type: 'invalid_request_error', param: 'status' });
    expect((await get('/v1/payment_intents?limit=101')).status).toBe(400);
  });

  it('answers injected 429s as Stripe does, which stripe-node does not retry on its own', async () => {
    fake.rateLimit('/v1/invoices', 1);
    const retrying = new Stripe(KEY, { host: '127.0.0.1', port: Number(new URL(fake.baseUrl).port), protocol: 'http', maxNetworkRetries: 3, telemetry: false });
    await expect(retrying.invoices.list()).rejects.toMatchObject({ statusCode: 429, type: 'StripeRateLimitError', code: 'rate_limit' });
    expect(fake.requests.map((r) => r.status)).toEqual([429]);
    expect((await retrying.invoices.list()).object).toBe('list');
  });
});
