import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliver } from '#destinations/deliver.ts';
import { fetchTransport } from '#destinations/http.ts';
import { snapchatDestination, type SnapchatConfig } from '#destinations/snapchat/index.ts';
import { conversions } from '../support/factories.ts';
import { snapchatInvalid, startSnapchatFake, type SnapchatFake } from './snapchat-server.ts';

const CONFIG: Omit<SnapchatConfig, 'baseUrl'> = { pixelId: '5f3b1c2a-1d2e-4f5a-8b9c-0d1e2f3a4b5c', accessToken: 'snap-fake-token', validateOnly: false };

describe('Snapchat fake', () => {
  let fake: SnapchatFake;
  let config: SnapchatConfig;
  beforeAll(async () => {
    fake = await startSnapchatFake(CONFIG);
    config = { ...CONFIG, baseUrl: fake.baseUrl };
  });
  afterAll(async () => fake?.close());

  it('takes 4500 conversions in ⌈4500/2000⌉ = 3 requests', async () => {
    fake.reset();
    const now = new Date();
    const stats = { requests: 0 };
    const results = await deliver(snapchatDestination, config, conversions(4500, { occurredAt: new Date(now.getTime() - 60_000).toISOString() }), fetchTransport(), now, stats);
    expect(stats.requests).toBe(3);
    expect(results.every((r) => r.status === 'delivered')).toBe(true);
    expect(fake.events()).toHaveLength(4500);
  });

  it('refuses milliseconds and a wrong token as Snap does', async () => {
    const post = (body: unknown, token = CONFIG.accessToken) =>
      fetch(`${fake.baseUrl}/v3/${CONFIG.pixelId}/events?access_token=${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const ok = { event_name: 'PURCHASE', event_time: Math.floor(Date.now() / 1000), event_id: 'e', action_source: 'WEB', user_data: { em: ['a'.repeat(64)] } };
    expect((await post({ data: [ok] })).status).toBe(200);
    const ms = await post({ data: [{ ...ok, event_time: Date.now() }] });
    expect(await ms.json()).toMatchObject({ status: 'INVALID' });
    expect((await post({ data: [ok] }, 'wrong')).status).toBe(401);
  });

  it('isolates the one event Snap refuses (the whole request is INVALID) and delivers the rest', async () => {
    fake.reset();
    const now = new Date();
    const batch = conversions(6, { occurredAt: new Date(now.getTime() - 60_000).toISOString() });
    fake.failWhen((e) => e.event_id === 'order_4', { status: 400, body: snapchatInvalid('custom_data.currency is invalid') });
    const results = await deliver(snapchatDestination, config, batch, fetchTransport(), now);
    expect(results[4]).toMatchObject({ status: 'failed', error: { message: 'custom_data.currency is invalid' } });
    expect(results.filter((r) => r.status === 'delivered')).toHaveLength(5);
  });

  it('validates without keeping events at /events/validate', async () => {
    fake.reset();
    const now = new Date();
    const results = await deliver(snapchatDestination, { ...config, validateOnly: true }, conversions(2, { occurredAt: new Date(now.getTime() - 60_000).toISOString() }), fetchTransport(), now);
    expect(results.every((r) => r.status === 'delivered')).toBe(true);
    expect(fake.requests()[0].url.pathname).toMatch(/\/events\/validate$/);
    expect(fake.events()).toHaveLength(0);
  });
});
