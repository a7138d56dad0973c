import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliver } from '#destinations/deliver.ts';
import { fetchTransport } from '#destinations/http.ts';
import { redditDestination, type RedditConfig } from '#destinations/reddit/index.ts';
import { conversions } from '../support/factories.ts';
import { redditInvalid, startRedditFake, type RedditFake } from './reddit-server.ts';

const CONFIG: Omit<RedditConfig, 'baseUrl'> = { pixelId: 'a2_i9bj8x87t8ki', accessToken: 'rdt-fake-token' };
const fresh = (now: Date) => ({ occurredAt: new Date(now.getTime() - 60_000).toISOString() });

describe('Reddit fake', () => {
  let fake: RedditFake;
  let config: RedditConfig;
  beforeAll(async () => {
    fake = await startRedditFake(CONFIG);
    config = { ...CONFIG, baseUrl: fake.baseUrl };
  });
  afterAll(async () => fake?.close());

  const post = (body: unknown, token = CONFIG.accessToken) =>
    fetch(`${fake.baseUrl}/api/v3/pixels/${CONFIG.pixelId}/conversion_events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
  const ok = () => ({ event_at: Date.now(), action_source: 'WEBSITE', type: { tracking_type: 'PURCHASE' }, metadata: { conversion_id: 'e', value: 1, currency: 'USD' }, user: { email: 'a'.repeat(64) } });

  it('takes 2500 conversions in ⌈2500/1000⌉ = 3 requests', async () => {
    fake.reset();
    const now = new Date();
    const stats = { requests: 0 };
    const results = await deliver(redditDestination, config, conversions(2500, fresh(now)), fetchTransport(), now, stats);
    expect(stats.requests).toBe(3);
    expect(results.every((r) => r.status === 'delivered')).toBe(true);
    expect(fake.events()).toHaveLength(2500);
    expect(fake.requests().map((r) => r.body.data.events.length).sort()).toEqual([1000, 1000, 500]);
  });

  it('refuses what Reddit refuses: seconds, lower-case action_source, test_id in an event, clear e-mail, 1001 events, no token', async () => {
    expect((await post({ data: { events: [ok()] } })).status).toBe(200);
    const seconds = await post({ data: { events: [{ ...ok(), event_at: Math.floor(Date.now() / 1000) }] } });
    expect(seconds.status).toBe(400);
    expect(await seconds.json()).toMatchObject({ message: 'There were 1 invalid conversion events. None were processed.', invalid_events: [{ error_message: expect.stringMatching(/milliseconds/) }] });
    expect(await (await post({ data: { events: [{ ...ok(), action_source: 'web' }] } })).json()).toEqual({ error: { code: 400, message: 'invalid action_source: web' } });
    expect(await (await post({ data: { events: [{ ...ok(), test_id: 't2_x' }] } })).json()).toEqual({ error: { code: 400, message: 'JSON error "unknown field" on field "test_id"' } });
    expect((await post({ data: { events: [{ ...ok(), user: { email: 'jane@example.com' } }] } })).status).toBe(400);
    expect((await post({ data: { events: [{ ...ok(), event_at: Date.now() - 169 * 3600_000 }] } })).status).toBe(400);
    expect(await (await post({ data: { events: Array.from({ length: 1001 }, ok) } })).json()).toEqual({ message: 'Bad Request' });
    expect(await (await post({ data: { events: [ok()] } }, '')).json()).toEqual({ message: 'No bearer token provided' });
    expect((await post({ data: { events: [ok()] } }, 'wrong')).status).toBe(401);
  });

  it('takes test_id in data: answered alike, kept nowhere', async () => {
    fake.reset();
    const now = new Date();
    const results = await deliver(redditDestination, { ...config, testId: 't2_20lcxjcqah' }, conversions(1, fresh(now)), fetchTransport(), now);
    expect(results[0].status).toBe('delivered');
    expect(fake.events()).toHaveLength(0);
    expect(fake.testEvents()).toHaveLength(1);
  });

  it('isolates the one event Reddit refuses (nothing of the request is processed) and delivers the rest', async () => {
    fake.reset();
    const now = new Date();
    fake.failWhen((e) => e.metadata?.conversion_id === 'order_4', { status: 400, body: redditInvalid(['metadata.currency is invalid']) });
    const results = await deliver(redditDestination, config, conversions(6, fresh(now)), fetchTransport(), now);
    expect(results[4]).toMatchObject({ status: 'failed', error: { code: 'invalid_event', message: 'metadata.currency is invalid' } });
    expect(results.filter((r) => r.status === 'delivered')).toHaveLength(5);
    expect(fake.events().map((e) => e.metadata.conversion_id).sort()).toEqual(['order_0', 'order_1', 'order_2', 'order_3', 'order_5']);
  });

  it('fails the next requests on demand: a 503 is retried, a bad token dead-letters the batch', async () => {
    fake.reset();
    const now = new Date();
    fake.failNext(1, { status: 503, body: { message: 'The service is currently unavailable. No conversion events were processed.' } });
    const retried = await deliver(redditDestination, config, conversions(2, fresh(now)), fetchTransport(), now);
    expect(retried.map((r) => r.status)).toEqual(['retry', 'retry']);
    const bad = await deliver(redditDestination, { ...config, accessToken: 'revoked' }, conversions(2, fresh(now)), fetchTransport(), now);
    expect(bad[0]).toMatchObject({ status: 'failed', error: { code: 'UNAUTHORIZED' } });
  });
});
