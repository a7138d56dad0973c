import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliver } from '#destinations/deliver.ts';
import { fetchTransport } from '#destinations/http.ts';
import { linkedinDestination, type LinkedInConfig } from '#destinations/linkedin/index.ts';
import { conversions } from '../support/factories.ts';
import { linkedInError, startLinkedInFake, type LinkedInFake } from './linkedin-server.ts';

const CONFIG: Omit<LinkedInConfig, 'baseUrl'> = { rules: { Purchase: '104012' }, accessToken: 'li-fake-token', apiVersion: '202603' };

describe('LinkedIn fake', () => {
  let fake: LinkedInFake;
  let config: LinkedInConfig;
  beforeAll(async () => {
    fake = await startLinkedInFake({ accessToken: 'li-fake-token' });
    config = { ...CONFIG, baseUrl: fake.baseUrl };
  });
  afterAll(async () => fake?.close());

  it('takes 6000 conversions in ⌈6000/5000⌉ = 2 requests with the versioned headers', async () => {
    fake.reset();
    const now = new Date();
    const stats = { requests: 0 };
    const results = await deliver(linkedinDestination, config, conversions(6000, { occurredAt: new Date(now.getTime() - 60_000).toISOString() }), fetchTransport(), now, stats);
    expect(stats.requests).toBe(2);
    expect(results.every((r) => r.status === 'delivered')).toBe(true);
    expect(fake.events()).toHaveLength(6000);
    expect(fake.requests()[0].headers['linkedin-version']).toBe('202603');
  });

  it('refuses seconds, a numeric amount and a missing userIds with 422 naming the index', async () => {
    const post = (elements: unknown[]) =>
      fetch(`${fake.baseUrl}/rest/conversionEvents`, {
        method: 'POST',
        headers: { authorization: 'Bearer li-fake-token', 'linkedin-version': '202603', 'x-restli-protocol-version': '2.0.0', 'x-restli-method': 'BATCH_CREATE', 'content-type': 'application/json' },
        body: JSON.stringify({ elements }),
      });
    const ok = { conversion: 'urn:lla:llaPartnerConversion:1', conversionHappenedAt: Date.now(), eventId: 'e', user: { userIds: [] } };
    expect((await post([ok])).status).toBe(200);
    for (const bad of [{ ...ok, conversionHappenedAt: Math.floor(Date.now() / 1000) }, { ...ok, conversionValue: { currencyCode: 'USD', amount: 49.99 } }, { ...ok, user: {} }]) {
      const res = await post([ok, bad]);
      expect(res.status).toBe(422);
      expect((await res.json()).message).toMatch(/^Index: 1, ERROR :: /);
    }
  });

  it('isolates the element that fails the whole batch and delivers the rest', async () => {
    fake.reset();
    const now = new Date();
    const batch = conversions(7, { occurredAt: new Date(now.getTime() - 60_000).toISOString() });
    fake.failWhen((e) => e.eventId === 'order_3', { status: 422, body: linkedInError(422, 'UNPROCESSABLE_ENTITY', 'Index: 0, ERROR :: /conversion :: rule not found\n') });
    const results = await deliver(linkedinDestination, config, batch, fetchTransport(), now);
    expect(results[3].status).toBe('failed');
    expect(results.filter((r) => r.status === 'delivered')).toHaveLength(6);
    expect(fake.events().map((e) => e.eventId)).not.toContain('order_3');
  });

  it('answers a wrong token with 401, which sends the batch to the DLQ without a refresh token', async () => {
    const request = linkedinDestination.buildRequest(conversions(1), { ...config, accessToken: 'wrong' }, new Date());
    expect(linkedinDestination.classify(await fetchTransport()(request), config)).toMatchObject({ kind: 'rejected-batch', error: { code: 'INVALID_ACCESS_TOKEN' } });
  });
});
