import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliver } from '#destinations/deliver.ts';
import { fetchTransport } from '#destinations/http.ts';
import { pinterestDestination, type PinterestConfig } from '#destinations/pinterest/index.ts';
import { conversionFactory, conversions } from '../support/factories.ts';
import { startPinterestFake, type PinterestFake } from './pinterest-server.ts';

const CONFIG: Omit<PinterestConfig, 'baseUrl'> = { adAccountId: '549755885175', accessToken: 'pin-fake-token', testMode: false };

describe('Pinterest fake', () => {
  let fake: PinterestFake;
  let config: PinterestConfig;
  beforeAll(async () => {
    fake = await startPinterestFake(CONFIG);
    config = { ...CONFIG, baseUrl: fake.baseUrl };
  });
  afterAll(async () => fake?.close());

  it('takes 2500 conversions in ⌈2500/1000⌉ = 3 requests', async () => {
    fake.reset();
    const now = new Date();
    const stats = { requests: 0 };
    const results = await deliver(pinterestDestination, config, conversions(2500, { occurredAt: new Date(now.getTime() - 60_000).toISOString() }), fetchTransport(), now, stats);
    expect(stats.requests).toBe(3);
    expect(results.every((r) => r.status === 'delivered')).toBe(true);
    expect(fake.events()).toHaveLength(2500);
  });

  it('refuses what Pinterest refuses: milliseconds, an unhashed e-mail, a numeric value, a wrong token', async () => {
    fake.reset();
    const post = (body: unknown, token = CONFIG.accessToken) =>
      fetch(`${fake.baseUrl}/v5/ad_accounts/${CONFIG.adAccountId}/events`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const ok = { event_name: 'checkout', action_source: 'web', event_time: Math.floor(Date.now() / 1000), event_id: 'e1', user_data: { em: ['a'.repeat(64)] } };
    expect((await post({ data: [ok] })).status).toBe(200);
    for (const bad of [{ ...ok, event_time: Date.now() }, { ...ok, user_data: { em: ['jane@example.com'] } }, { ...ok, custom_data: { value: 49.99 } }, { ...ok, user_data: { ph: ['a'.repeat(64)] } }]) {
      const res = await post({ data: [bad] });
      expect(res.status).toBe(422);
      expect((await res.json()).details.events[0].status).toBe('failed');
    }
    expect((await post({ data: [ok] }, 'wrong')).status).toBe(401);
  });

  it('fails only the event Pinterest marks failed; the others are delivered', async () => {
    fake.reset();
    const now = new Date();
    const batch = conversions(5, { occurredAt: new Date(now.getTime() - 60_000).toISOString() });
    // A malformed hash (not lowercase hex): the relay can match on it, Pinterest refuses that one event.
    batch[2] = { ...batch[2], user: { ...batch[2].user, email: 'Z'.repeat(64) } };
    const results = await deliver(pinterestDestination, config, batch, fetchTransport(), now);
    expect(results[2].status).toBe('failed');
    expect(results.filter((r) => r.status === 'delivered')).toHaveLength(4);
    expect(fake.events().map((e) => e.event_id)).not.toContain('order_2');
  });

  it('keeps nothing in test mode', async () => {
    fake.reset();
    const results = await deliver(pinterestDestination, { ...config, testMode: true }, [conversionFactory({ occurredAt: new Date(Date.now() - 60_000).toISOString() })], fetchTransport(), new Date());
    expect(results[0].status).toBe('delivered');
    expect(fake.requests()[0].url.search).toBe('?test=true');
    expect(fake.events()).toHaveLength(0);
  });
});
