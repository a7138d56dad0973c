import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sources } from '../../functions/registry.ts';
import { META_THROTTLE_CODES, metaError, metaThrottle, startMetaFake, type MetaFake } from '../fakes/meta-server.ts';
import { cli } from '../support/cli.ts';
import { startRelay, type RelayProcess } from '../support/relay-process.ts';
import { driverEnv, purchaseEventId, sourceDrivers, startDriverFakes, type SourceDriver } from '../support/source-requests.ts';
import { FULL_SUITE, bySize } from '../support/suite-size.ts';
import { scanAllTables } from '../support/storage.ts';
import { deliverWebhook, metaRows, newPromises, pool, reconcile, reconciliationTable, settle, type Promises, type Reconciliation } from './reconcile.ts';

/**
 * Nothing lost, nothing doubled: the relay (npm start's runner, its own process) against the fake Meta API, which
 * de-duplicates by event ID as Meta does, under duplicates and out-of-order deliveries, a platform outage, rate
 * limits, a sender killed after the platform accepted, the runner killed with messages in flight, and permanent
 * errors. Each scenario ends with a reconciliation of every webhook the relay acknowledged; the suite prints the
 * table. `npm test` runs it small; `npm run test:faults` (RELAY_SUITE=full) runs 10 000 webhooks and a 60 s outage.
 */
const PIXEL_ID = '1234567890123';
const META_TOKEN = 'EAAB-fault-suite-token';
const VISIBILITY_S = 6;
const drivers = sources.filter((s) => sourceDrivers[s.name]).map((s) => [s.name, sourceDrivers[s.name]] as [string, SourceDriver]);

/** Per scenario: the small ones finish in seconds, the full ones in minutes. */
const SCENARIO_TIMEOUT_MS = bySize(90_000, 1_800_000);
const SIZES = {
  webhooks: bySize(120, 10_000),
  concurrency: bySize(8, 24),
  outageEvents: bySize(30, 500),
  /** Seconds of each outage kind (5xx, connection refused, timeouts). */
  outagePhaseS: bySize(2, 20),
  stormEvents: bySize(20, 300),
  killEvents: bySize(30, 600),
  permanentEvents: bySize(6, 50),
  outboxEvents: bySize(20, 400),
  concurrentDuplicates: bySize(10, 200),
};

describe(`fault suite (${FULL_SUITE ? 'full' : 'small'})`, () => {
  let meta: MetaFake;
  let relay: RelayProcess;
  let dataDir: string;
  let stopFakes: (() => Promise<void>) | undefined;
  const results: Reconciliation[] = [];
  const run = Date.now().toString(36);
  let seq = 0;
  const orderId = (scenario: string) => `cs_f_${scenario}_${run}_${++seq}`;
  const relayUrl = () => relay.url;

  const env = () => ({
    ...driverEnv(),
    META_PIXEL_ID: PIXEL_ID,
    META_ACCESS_TOKEN: META_TOKEN,
    META_API_BASE_URL: meta.baseUrl,
    RELAY_RETRY_BASE_SECONDS: '1',
    RELAY_MAX_ATTEMPTS: '12',
    RELAY_VISIBILITY_TIMEOUT_SECONDS: String(VISIBILITY_S),
    RELAY_PLATFORM_TIMEOUT_MS: '2000',
  });
  const restart = async (how: 'kill' | 'stop', extra: Record<string, string> = {}) => {
    await (how === 'kill' ? relay.kill() : relay.stop());
    relay = await startRelay({ ...env(), ...extra }, dataDir);
  };

  /** Purchases of `n` orders through every source with a driver, round-robin; `id` is the platform's event ID. */
  function purchases(scenario: string, n: number) {
    return Array.from({ length: n }, (_, i) => {
      const [, driver] = drivers[i % drivers.length];
      const order = orderId(scenario);
      return {
        id: purchaseEventId(driver, order),
        make: () => driver.purchase({ id: order, customer: { email: `buyer.${order}@example.com` } }),
        refund: driver.refund && (() => driver.refund!({ id: order })),
        /** This order's place among its own source's orders (each source gets every n-th treatment). */
        nth: Math.floor(i / drivers.length),
      };
    });
  }

  async function finish(scenario: string, promises: Promises, requestsBefore: number, settleMs: number): Promise<Reconciliation> {
    await settle(relay, promises, settleMs);
    const r = await reconcile(scenario, relay, meta, promises, requestsBefore);
    results.push(r);
    expect(r.lost, 'lost conversions').toEqual([]);
    expect(r.duplicated, 'orders counted twice by the platform').toBe(0);
    return r;
  }

  beforeAll(async () => {
    expect(drivers.length).toBeGreaterThan(0);
    meta = await startMetaFake({ pixelId: PIXEL_ID, accessToken: META_TOKEN });
    stopFakes = await startDriverFakes();
    dataDir = mkdtempSync(path.join(tmpdir(), 'relay-faults-'));
    relay = await startRelay(env(), dataDir);
  });
  afterAll(async () => {
    if (results.length) console.log(`\nreconciliation (${FULL_SUITE ? 'full' : 'small'} fault suite)\n${reconciliationTable(results)}\n`);
    await relay?.stop();
    await meta?.close();
    await stopFakes?.();
    rmSync(dataDir, { recursive: true, force: true });
  }, SCENARIO_TIMEOUT_MS);

  it(`${SIZES.webhooks} webhooks with 10 % duplicates, out of order, refunds before their purchase: each conversion delivered once`, async () => {
    const promises = newPromises();
    const before = meta.requests.length;
    const orders = purchases('dup', SIZES.webhooks);
    type Delivery = { make: () => ReturnType<SourceDriver['purchase']> };
    const deliveries: Delivery[] = orders.map((o) => ({ make: o.make }));
    // 10 % of each source's orders are delivered twice (as a source retries), 10 % of each source's that reports
    // refunds have a refund that arrives before the purchase.
    for (const o of orders.filter((x) => x.nth % 10 === 3)) deliveries.push({ make: o.make });
    const refunds = orders.filter((x) => x.nth % 10 === 7 && x.refund);
    for (const o of refunds) deliveries.push({ make: o.refund! });
    if (drivers.some(([, d]) => d.refund)) expect(refunds.length).toBeGreaterThan(0);
    // Out of order: a seeded shuffle, refunds moved ahead of their purchase.
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = deliveries.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [deliveries[i], deliveries[j]] = [deliveries[j], deliveries[i]];
    }
    const started = Date.now();
    await pool(deliveries, SIZES.concurrency, (d) => deliverWebhook(relayUrl, d.make, promises));
    const ingestS = (Date.now() - started) / 1000;
    for (const o of orders) expect(promises.conversions.has(o.id), o.id).toBe(true);

    const r = await finish('duplicates + out of order', promises, before, bySize(60_000, 600_000));
    // Every purchase reached Meta once; refunds (conversions or not, depending on the source) were skipped for
    // Meta, which cannot take them.
    const counts = meta.acceptCounts();
    const atMeta = new Set(meta.uniqueEvents().map((e) => e.event_id));
    for (const o of orders) expect(atMeta.has(o.id), o.id).toBe(true);
    expect([...counts.keys()].filter((k) => orders.some((o) => k.includes(`"${o.id}"`))).length).toBe(SIZES.webhooks);
    expect(r.delivered).toBe(SIZES.webhooks);
    expect(r.dlq.size).toBe(0);
    console.log(`duplicates scenario: ${deliveries.length} webhooks ingested in ${ingestS.toFixed(1)} s (${(deliveries.length / ingestS).toFixed(0)}/s), ${r.platformRequests} Meta requests`);
  }, SCENARIO_TIMEOUT_MS);

  it(`a platform outage (${SIZES.outagePhaseS * 2}${FULL_SUITE ? ` + ${SIZES.outagePhaseS}` : ''} s: 5xx, connection refused${FULL_SUITE ? ', timeouts' : ''}) then recovery: all delivered, none in the DLQ, retries spaced out`, async () => {
    const promises = newPromises();
    const before = meta.requests.length;
    const outageStart = Date.now();
    await meta.outage({ status: 503 });
    await pool(purchases('outage', SIZES.outageEvents), SIZES.concurrency, (o) => deliverWebhook(relayUrl, o.make, promises));
    await new Promise((r) => setTimeout(r, SIZES.outagePhaseS * 1000 - (Date.now() - outageStart)));
    await meta.outage('refused');
    await new Promise((r) => setTimeout(r, SIZES.outagePhaseS * 1000));
    if (FULL_SUITE) {
      await meta.outage('hang');
      await new Promise((r) => setTimeout(r, SIZES.outagePhaseS * 1000));
    }
    await meta.outage(null);
    const outageS = (Date.now() - outageStart) / 1000;

    const r = await finish('outage then recovery', promises, before, 120_000);
    expect(r.delivered).toBe(SIZES.outageEvents);
    expect(r.dlq.size).toBe(0);
    // No hot loop: each conversion's attempts are at least the base delay apart and the gaps grow; the number of
    // attempts is about log2 of the outage, not outage / poll interval.
    const attemptsById = new Map<string, number[]>();
    for (const req of meta.requests.slice(before)) {
      for (const e of req.body?.data ?? []) if (promises.conversions.has(e.event_id)) attemptsById.set(e.event_id, [...(attemptsById.get(e.event_id) ?? []), req.at]);
    }
    const maxAttempts = Math.ceil(Math.log2(outageS + 1)) + 3;
    for (const [id, times] of attemptsById) {
      const gaps = times.slice(1).map((t, i) => t - times[i]);
      expect(gaps.every((g) => g >= 800), `${id} retried ${gaps.join(', ')} ms apart`).toBe(true);
      expect(times.length, `${id}: ${times.length} requests in a ${outageS} s outage`).toBeLessThanOrEqual(maxAttempts);
    }
    // The sender's outcomes as the ledger's readers see them (the conversion items, written by ingest, count no attempts).
    const rows = [...(await metaRows(relay))].filter(([id]) => promises.conversions.has(id)).map(([, row]) => row);
    expect(Math.max(...rows.map((x) => x.attempts))).toBeGreaterThan(1);
  }, SCENARIO_TIMEOUT_MS);

  it('429 storms and Meta throttling codes (4, 17, 613, 80004): backoff honoured, all delivered', async () => {
    const promises = newPromises();
    const before = meta.requests.length;
    meta.failNext(bySize(3, 10), { status: 429 });
    for (const code of META_THROTTLE_CODES) meta.failNext(bySize(1, 3), metaThrottle(code));
    await pool(purchases('storm', SIZES.stormEvents), SIZES.concurrency, (o) => deliverWebhook(relayUrl, o.make, promises));
    const r = await finish('429 storm + throttling codes', promises, before, 120_000);
    expect(r.delivered).toBe(SIZES.stormEvents);
    expect(r.dlq.size).toBe(0);
    const throttled = meta.requests.slice(before).filter((q) => q.status === 429 || [4, 17, 613, 80004].includes(q.response?.error?.code));
    expect(throttled.length).toBe(bySize(3, 10) + META_THROTTLE_CODES.length * bySize(1, 3));
    // Backoff: after a throttled answer, the same events come back no sooner than the base delay.
    const after = meta.requests.slice(before);
    for (const t of throttled) {
      const ids = new Set((t.body?.data ?? []).map((e: any) => e.event_id));
      const next = after.find((q) => q.at > t.at && (q.body?.data ?? []).some((e: any) => ids.has(e.event_id)));
      if (next) expect(next.at - t.at).toBeGreaterThanOrEqual(800);
    }
  }, SCENARIO_TIMEOUT_MS);

  it('a sender killed after the platform accepted its batch, before the queue delete: the redelivery carries the same event IDs, the platform keeps one', async () => {
    const promises = newPromises();
    const before = meta.requests.length;
    meta.failNext(1, 'accept-then-hang');
    const orders = purchases('senderkill', SIZES.killEvents);
    // The sources keep sending (and retry through the restart) while the first batch hangs after Meta accepted it.
    const sending = pool(orders, SIZES.concurrency, (o) => deliverWebhook(relayUrl, o.make, promises));
    const hung = await relay.waitFor(
      () => meta.requests.slice(before).find((q) => q.status === 200 && q.response === undefined),
      20_000,
      'Meta to accept a batch whose answer never comes',
    );
    // Killed while waiting for the answer: Meta has the events, the queue still has the messages.
    await restart('kill');
    const hungIds: string[] = hung.body.data.map((e: { event_id: string }) => e.event_id);
    await sending;

    const r = await finish('sender killed after accept', promises, before, 120_000);
    expect(r.delivered).toBe(SIZES.killEvents);
    // Every event of that batch was sent again after the restart, with the same event ID, and Meta kept one.
    const counts = meta.acceptCounts();
    for (const id of hungIds) expect(counts.get(JSON.stringify([PIXEL_ID, 'Purchase', id])), id).toBeGreaterThanOrEqual(2);
    expect(r.redeliveredDeduplicated).toBeGreaterThanOrEqual(hungIds.length);
  }, SCENARIO_TIMEOUT_MS);

  it('the runner killed and restarted with messages in flight: nothing accepted is lost', async () => {
    const promises = newPromises();
    const before = meta.requests.length;
    await meta.outage({ status: 500 });
    const orders = purchases('runnerkill', SIZES.killEvents);
    const half = Math.floor(orders.length / 2);
    // The second half is being delivered while the runner dies: the sources retry what got no 2xx.
    await pool(orders.slice(0, half), SIZES.concurrency, (o) => deliverWebhook(relayUrl, o.make, promises));
    const secondHalf = pool(orders.slice(half), SIZES.concurrency, (o) => deliverWebhook(relayUrl, o.make, promises));
    await new Promise((r) => setTimeout(r, 300));
    await restart('kill');
    await secondHalf;
    await meta.outage(null);
    const r = await finish('runner killed mid-flight', promises, before, 120_000);
    expect(promises.conversions.size).toBe(SIZES.killEvents);
    expect(r.delivered).toBe(SIZES.killEvents);
    expect(r.dlq.size).toBe(0);
  }, SCENARIO_TIMEOUT_MS);

  it(`${SIZES.concurrentDuplicates} orders each delivered three times at once: one conversion each, delivered once`, async () => {
    const promises = newPromises();
    const before = meta.requests.length;
    const orders = purchases('concurrent', SIZES.concurrentDuplicates);
    await pool(orders, Math.max(1, Math.floor(SIZES.concurrency / 3)), (o) => Promise.all([1, 2, 3].map(() => deliverWebhook(relayUrl, o.make, promises))));
    const r = await finish('concurrent duplicates', promises, before, 120_000);
    expect(r.delivered).toBe(orders.length);
    for (const o of orders) expect(meta.uniqueEvents().filter((e) => e.event_id === o.id), o.id).toHaveLength(1);
    // One conversion item each, one message each: the stream carried one INSERT per order.
    const items = (await scanAllTables(relay)).ledger.filter((x) => x.sk === 'conversion' && orders.some((o) => o.id === x.pk.slice(2)));
    expect(items).toHaveLength(orders.length);
  }, SCENARIO_TIMEOUT_MS);

  it(`the runner killed after ${SIZES.outboxEvents} commits, before the fan-out read them: delivered after the restart`, async () => {
    const promises = newPromises();
    const before = meta.requests.length;
    // The stream is not read: every webhook is committed (answered 200) and nothing is on a queue yet.
    await restart('stop', { RELAY_FAN_OUT_DISABLED: 'true' });
    const orders = purchases('outbox', SIZES.outboxEvents);
    await pool(orders, SIZES.concurrency, (o) => deliverWebhook(relayUrl, o.make, promises));
    expect(promises.conversions.size).toBe(orders.length);
    expect(await relay.queueDepth('meta')).toBe(0);
    await restart('kill');
    const r = await finish('crash after commit, before fan-out', promises, before, 120_000);
    expect(r.delivered).toBe(orders.length);
    expect(r.dlq.size).toBe(0);
  }, SCENARIO_TIMEOUT_MS);

  it('the fan-out failing (the Meta queue gone), then the queue back: retried from the stream, all delivered once', async () => {
    const promises = newPromises();
    const before = meta.requests.length;
    const sqs = new SQSClient({ endpoint: relay.sqsUrl, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const QueueUrl = `${relay.sqsUrl}/000000000000/meta`;
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['VisibilityTimeout', 'RedrivePolicy'] }));
    await sqs.send(new DeleteQueueCommand({ QueueUrl }));
    const outputBefore = relay.output.length;
    const orders = purchases('fanoutfail', SIZES.outboxEvents);
    await pool(orders, SIZES.concurrency, (o) => deliverWebhook(relayUrl, o.make, promises));
    await relay.waitFor(() => relay.output.slice(outputBefore).some((l) => l.includes('fan-out failed')), 20_000, 'the fan-out to fail and retry');
    await sqs.send(new CreateQueueCommand({ QueueName: 'meta', Attributes }));
    sqs.destroy();
    const r = await finish('fan-out failing, then recovered', promises, before, 120_000);
    expect(r.delivered).toBe(orders.length);
    expect(r.dlq.size).toBe(0);
    for (const o of orders) expect(meta.uniqueEvents().filter((e) => e.event_id === o.id), o.id).toHaveLength(1);
  }, SCENARIO_TIMEOUT_MS);

  it('permanent errors: in the DLQ after one attempt, saying why; after the fix, `dlq redrive` delivers each once', async () => {
    const promises = newPromises();
    const before = meta.requests.length;
    const orders = purchases('permanent', SIZES.permanentEvents * 2);
    const bad = new Set(orders.filter((_, i) => i % 2 === 0).map((o) => o.id));
    meta.failWhen((e) => bad.has(e.event_id), { status: 400, body: metaError(100, 'Invalid parameter', { subcode: 2804019, userMsg: 'The parameter $[data][0][custom_data] is invalid.' }) });
    await pool(orders, SIZES.concurrency, (o) => deliverWebhook(relayUrl, o.make, promises));
    const r = await finish('permanent errors (before fix)', promises, before, 60_000);
    expect(r.delivered).toBe(orders.length - bad.size);
    expect(r.dlq.get('100/2804019')).toBe(bad.size);
    // One attempt each: the batch was split to isolate them, and each bad event was sent alone once.
    const alone = meta.requests.slice(before).filter((q) => q.body?.data?.length === 1 && bad.has(q.body.data[0].event_id));
    expect(new Set(alone.map((q) => q.body.data[0].event_id)).size).toBe(bad.size);
    expect(alone.length).toBe(bad.size);
    for (const id of bad) expect((await relay.ledgerFor(id)).find((row) => row.sk === 'D#meta')).toMatchObject({ status: 'dead_lettered', attempts: 1, errorCode: '100/2804019' });

    meta.reset(); // the cause is fixed
    const redrive = await cli(['dlq', 'redrive', '--destination', 'meta'], dataDir);
    expect(redrive.code, redrive.stderr).toBe(0);
    expect(redrive.stdout).toMatch(new RegExp(`meta\\s+${bad.size}\\s+${bad.size}\\s+COMPLETED`));
    const again = newPromises();
    for (const id of bad) again.conversions.add(id);
    const fixed = await finish('permanent errors (after redrive)', again, 0, 60_000);
    expect(fixed.delivered).toBe(bad.size);
    expect(fixed.dlq.size).toBe(0);
    for (const id of bad) expect(meta.events().filter((e) => e.event_id === id)).toHaveLength(1);
  }, SCENARIO_TIMEOUT_MS);
});

