import { describe, expect, it } from 'vitest';
import { afterAll, beforeAll } from 'vitest';
import { cli } from '../support/cli.ts';
import { useTempRelay } from '../support/flows.ts';
import { startConversionApiPlatforms, type StartedPlatforms } from '../support/platforms.ts';
import { driverEnv, sourceDrivers, startDriverFakes } from '../support/source-requests.ts';
import { bySize } from '../support/suite-size.ts';
import { deliverWebhook, newPromises, pool } from './reconcile.ts';

/**
 * Nothing lost, nothing doubled at every platform of test/support/platforms.ts (LinkedIn, Pinterest, Snapchat,
 * Reddit, …), each against its fake through npm start's runner: every platform down at once (5xx, dropped
 * connections, throttling) then back, and a permanent refusal at each platform of its own event — that event in that
 * platform's DLQ alone with the platform's reason, every other platform still getting it, and `dlq redrive` after the
 * fix delivering it once. (faults.test.ts runs the deeper scenarios against Meta.)
 */
const SCENARIO_TIMEOUT_MS = bySize(120_000, 900_000);
const ORDERS = bySize(24, 400);
const stripe = sourceDrivers.stripe;

describe('fault suite: every Conversions-API platform', () => {
  let platforms: StartedPlatforms;
  let stopFakes: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    platforms = await startConversionApiPlatforms();
    stopFakes = await startDriverFakes();
  });
  afterAll(async () => {
    await platforms?.close();
    await stopFakes?.();
  });
  const relay = useTempRelay('relay-faults-capi-', () => ({
    ...driverEnv(),
    ...platforms.env,
    RELAY_RETRY_BASE_SECONDS: '1',
    RELAY_MAX_ATTEMPTS: '12',
    RELAY_VISIBILITY_TIMEOUT_SECONDS: '6',
    RELAY_PLATFORM_TIMEOUT_MS: '2000',
  }));
  const run = Date.now().toString(36);
  const order = (scenario: string, i: number) => `cs_fc_${scenario}_${run}_${i}`;
  /** How many copies of each order a platform kept. */
  const keptAt = (p: ReturnType<StartedPlatforms['all']>[number], ids: string[]) => ids.map((id) => p.fake.events().filter((e) => p.eventId(e) === id).length);

  it(`every platform down (5xx, dropped connections, 429) while ${ORDERS} purchases (10 % sent twice) come in: each kept once everywhere, none in a DLQ`, async () => {
    const ids = Array.from({ length: ORDERS }, (_, i) => order('outage', i));
    for (const p of platforms.all()) {
      p.fake.failNext(2, { status: 503, body: { message: 'unavailable' } });
      p.fake.failNext(2, 'drop');
      p.fake.failNext(1, { status: 429, body: { message: 'Too many requests' } });
    }
    const promises = newPromises();
    const deliveries = [...ids, ...ids.filter((_, i) => i % 10 === 3)];
    await pool(deliveries, 6, (id) => deliverWebhook(() => relay.url, () => stripe.purchase({ id, customer: { email: `buyer.${id}@example.com` } }), promises));
    expect([...promises.conversions].sort()).toEqual([...ids].sort());

    for (const p of platforms.all()) {
      await relay.waitFor(() => keptAt(p, ids).every((n) => n >= 1), 90_000, `every order at ${p.platform.name}`);
      expect(keptAt(p, ids), p.platform.name).toEqual(ids.map(() => 1));
      // The outage was seen: the forced failures were answered, and the events came back after them.
      expect(p.fake.requests().filter((r) => r.status === 503 || r.status === 429 || r.status === 0).length, p.platform.name).toBe(5);
      expect(await relay.dlqMessages(p.platform.name), p.platform.name).toEqual([]);
    }
    for (const id of ids.slice(0, 3)) {
      const rows = await relay.ledgerFor(id);
      for (const p of platforms.all()) expect(rows.find((r) => r.sk === `D#${p.platform.name}`)?.status, `${id} at ${p.platform.name}`).toBe('delivered');
    }
  }, SCENARIO_TIMEOUT_MS);

  it('a permanent refusal at each platform: only that platform’s DLQ holds the event, with its reason; the others deliver it; a redrive after the fix delivers it once', async () => {
    const all = platforms.all();
    const ids = all.map((_, i) => order('permanent', i));
    // Platform i refuses order i (and only it).
    all.forEach((p, i) => p.fake.failWhen((e) => p.eventId(e) === ids[i], p.refusal.reply));
    const promises = newPromises();
    await pool(ids, 4, (id) => deliverWebhook(() => relay.url, () => stripe.purchase({ id, customer: { email: `buyer.${id}@example.com` } }), promises));

    for (const [i, p] of all.entries()) {
      const dlq = await relay.waitFor(async () => {
        const mine = (await relay.dlqMessages(p.platform.name)).filter((m) => JSON.stringify(m.body).includes(ids[i]));
        return mine.length > 0 && mine;
      }, 60_000, `order ${i} in the ${p.platform.name} DLQ`);
      expect(dlq, p.platform.name).toHaveLength(1);
      expect(dlq[0].attributes.errorMessage, p.platform.name).toMatch(p.refusal.reason);
      const others = ids.filter((_, j) => j !== i);
      await relay.waitFor(() => keptAt(p, others).every((n) => n === 1), 60_000, `the other orders at ${p.platform.name}`);
      expect(keptAt(p, [ids[i]])).toEqual([0]);
    }

    // The causes are fixed: each platform's DLQ is redriven and its one event delivered, once.
    for (const p of all) {
      p.fake.failWhen(() => false, { status: 500, body: {} });
      const redrive = await cli(['dlq', 'redrive', '--destination', p.platform.name], relay.dataDir);
      expect(redrive.code, redrive.stderr).toBe(0);
    }
    for (const [i, p] of all.entries()) {
      await relay.waitFor(() => keptAt(p, [ids[i]])[0] === 1, 60_000, `order ${i} redriven to ${p.platform.name}`);
      expect(keptAt(p, ids), p.platform.name).toEqual(ids.map(() => 1));
    }
  }, SCENARIO_TIMEOUT_MS);
});
