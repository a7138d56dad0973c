import { DynamoDBDocumentClient, PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Conversion } from '#core/conversion.ts';
import { startLocalDynamo, type LocalDynamo } from '../../lib/local/dynamo.ts';
import { NOW, conversions } from '../../test/support/factories.ts';
import { MAX_RECORD_BYTES, batchRecordItems, batchRows, itemsByConversion } from './batch-records.ts';
import { destinationRows, type LedgerItem } from './ledger-items.ts';
import type { DeliveryOutcome, DynamoLedger as Ledger } from './ledger.ts';
import { readConversions } from './ledger-reader.ts';

/**
 * The senders' ledger writes and their readers against dynalite (a DynamoDB protocol server, which enforces the 400 KB
 * item limit): delivered and dry-run outcomes in batch records, exceptions as `D#` rows, the newest row winning.
 */
let local: LocalDynamo;
let ddb: DynamoDBDocumentClient;
let ledger: Ledger;
let table = 0;

const HOUR = 3600_000;
const at = (ms: number) => new Date(NOW.getTime() + ms);
const delivered = (c: Conversion, extra: Partial<DeliveryOutcome> = {}): DeliveryOutcome => ({
  conversion: c,
  attempts: 1,
  result: { status: 'delivered', signals: ['em', 'ph'], requestId: 'req_1' },
  match: { s: 7.5, k: 'em ph', c: 0 } as never,
  ...extra,
});

/** The conversion item as ingest writes it (store/ingest-store.ts), routed to these destinations. */
async function accept(c: Conversion, destinations: string[], createdAt = NOW) {
  const routes = destinations.map((destination) => ({ destination, status: 'queued' }));
  await ddb.send(
    new PutCommand({
      TableName: 'ledger',
      Item: { pk: `C#${c.eventId}`, sk: 'conversion', status: 'accepted', routes: JSON.stringify(routes), eventName: c.eventName, occurredAt: c.occurredAt, conversion: JSON.stringify(c), createdAt: createdAt.toISOString(), updatedAt: createdAt.toISOString() },
    }),
  );
}

async function scanLedger(): Promise<LedgerItem[]> {
  return ((await ddb.send(new ScanCommand({ TableName: 'ledger' }))).Items ?? []) as LedgerItem[];
}

beforeAll(async () => {
  local = await startLocalDynamo();
  process.env.AWS_ENDPOINT_URL_DYNAMODB = local.url;
  ddb = DynamoDBDocumentClient.from(local.client, { marshallOptions: { removeUndefinedValues: true } });
  // The module's client reads the endpoint when it is created.
  const { DynamoLedger } = await import('./ledger.ts');
  ledger = new DynamoLedger('ledger');
});
afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL_DYNAMODB;
  await local?.close();
});
beforeEach(async () => {
  // A fresh set of event IDs per test (the table is shared).
  table++;
});

const batchOf = (n: number, hours: number) =>
  conversions(n).map((c, i) => ({ ...c, eventId: `evt_${table}_${i}`, occurredAt: at(-((i % hours) * HOUR) - 60_000).toISOString() }));

describe('the ledger’s delivery records', () => {
  it('writes a batch of 1000 delivered conversions over two hours as one record per hour, each read back per conversion', async () => {
    const batch = batchOf(1000, 2);
    for (const c of batch.slice(0, 3)) await accept(c, ['meta']);
    await ledger.recordDeliveries('meta', batch.map((c) => delivered(c)), at(60_000));

    const records = (await scanLedger()).filter((i) => i.pk.startsWith('B#meta#'));
    expect(records.map((r) => r.pk).sort()).toEqual([`B#meta#${batch[1].occurredAt.slice(0, 13)}`, `B#meta#${batch[0].occurredAt.slice(0, 13)}`].sort());
    // 1000 conversions in a few KB: a handful of write units instead of 1000.
    const writeUnits = records.reduce((n, r) => n + Math.ceil((r.d as Uint8Array).length / 1024), 0);
    expect(writeUnits).toBeLessThan(50);
    expect(records.reduce((n, r) => n + batchRows(r).length, 0)).toBe(1000);

    const [first, second, unknown] = await ledger.findDeliveries('meta', [batch[0].eventId, batch[1].eventId, 'evt_never']);
    expect(first).toMatchObject({ eventId: batch[0].eventId, status: 'delivered', attempts: 1, requestId: 'req_1', occurredAt: batch[0].occurredAt, conversion: batch[0] });
    expect(second).toMatchObject({ status: 'delivered' });
    expect(unknown).toBeUndefined();
    const [row] = destinationRows((await readConversions(ddb, 'ledger', [batch[2].eventId])).get(batch[2].eventId)!);
    expect(row).toMatchObject({ sk: 'D#meta', status: 'delivered', signals: ['em', 'ph'], m: { s: 7.5, k: 'em ph' }, eventName: 'Purchase' });
  });

  it('keeps retrying, dead-lettered and skipped outcomes as one row per conversion', async () => {
    const [a, b, c, d] = batchOf(4, 1);
    await ledger.recordDeliveries('meta', [
      { conversion: a, attempts: 2, result: { status: 'retry', error: { code: '503', message: 'unavailable' } } },
      { conversion: b, attempts: 1, result: { status: 'failed', error: { code: '100', message: 'invalid' } } },
      { conversion: c, attempts: 1, result: { status: 'skipped', reason: 'no consent' } },
      delivered(d),
    ]);
    const items = await scanLedger();
    for (const [x, status] of [[a, 'retrying'], [b, 'dead_lettered'], [c, 'skipped']] as const) {
      expect(items.find((i) => i.pk === `C#${x.eventId}` && i.sk === 'D#meta')).toMatchObject({ status });
    }
    expect(items.some((i) => i.pk === `C#${d.eventId}`)).toBe(false);
    expect(itemsByConversion(items).get(`C#${d.eventId}`)).toMatchObject([{ sk: 'D#meta', status: 'delivered' }]);
  });

  it('says where a conversion is by its newest record: a retry that went through, a later refusal, a later verdict', async () => {
    const [retried, refused, checked] = batchOf(3, 1);
    for (const c of [retried, refused, checked]) await accept(c, ['google-ads']);
    const retry = { status: 'retry' as const, error: { code: '503', message: 'unavailable' } };
    await ledger.recordDeliveries('google-ads', [{ conversion: retried, attempts: 1, result: retry }], at(1000));
    await ledger.recordDeliveries('google-ads', [delivered(retried, { attempts: 2 }), delivered(refused), delivered(checked, { result: { status: 'delivered', signals: ['em'], requestId: 'r9', awaitingStatus: true } })], at(2000));
    // The follow-up's verdicts: a refusal (a D# row) and a success (a newer batch record).
    await ledger.recordDeliveries('google-ads', [{ conversion: refused, attempts: 1, result: { status: 'failed', error: { code: 'REFUSED', message: 'click not found' } } }], at(3000));
    await ledger.recordDeliveries('google-ads', [delivered(checked, { platform: { requestId: 'r9', status: 'succeeded' } })], at(4000));

    const [r1, r2, r3] = await ledger.findDeliveries('google-ads', [retried.eventId, refused.eventId, checked.eventId]);
    expect(r1).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(r2).toMatchObject({ status: 'dead_lettered', reason: 'click not found' });
    const rows = destinationRows((await readConversions(ddb, 'ledger', [checked.eventId])).get(checked.eventId)!);
    expect(rows).toMatchObject([{ sk: 'D#google-ads', status: 'delivered', platformStatus: 'succeeded', updatedAt: at(4000).toISOString() }]);
  });

  it('reads rows written by earlier versions (one D# row per conversion and destination) and every routed destination', async () => {
    const [old, both] = batchOf(2, 1);
    await accept(old, ['meta']);
    await ddb.send(new PutCommand({ TableName: 'ledger', Item: { pk: `C#${old.eventId}`, sk: 'D#meta', status: 'delivered', attempts: 1, updatedAt: NOW.toISOString() } }));
    await accept(both, ['meta', 'tiktok', 'ga4']);
    await ledger.recordDeliveries('meta', [delivered(both)]);
    await ledger.recordDeliveries('tiktok', [{ ...delivered(both), result: { status: 'dry_run', signals: [], reason: 'no credentials', request: { url: 'https://x', method: 'POST', headers: {}, body: '{}' } as never } }]);

    expect(await ledger.findDeliveries('meta', [old.eventId])).toMatchObject([{ status: 'delivered', attempts: 1 }]);
    // Without destinations (the CLI's `status`): one query of the conversion, then each routed destination's hour.
    const rows = destinationRows((await readConversions(ddb, 'ledger', [both.eventId])).get(both.eventId)!);
    expect(rows.map((r) => [r.sk, r.status]).sort()).toEqual([
      ['D#ga4', 'queued'],
      ['D#meta', 'delivered'],
      ['D#tiktok', 'dry_run'],
    ]);
    expect(rows.find((r) => r.sk === 'D#tiktok')).toMatchObject({ reason: 'no credentials', request: expect.stringContaining('https://x') });
  });

  it('splits a batch whose records would pass DynamoDB’s 400 KB item limit, and DynamoDB takes every part', async () => {
    // Incompressible dry-run requests: ~1.2 MB of random hex in 300 conversions.
    const batch = batchOf(300, 1);
    const outcomes = batch.map((c) => ({
      ...delivered(c),
      result: { status: 'dry_run' as const, signals: [], reason: 'test event', request: { url: 'https://x', method: 'POST', headers: {}, body: randomBytes(2048).toString('hex') } as never },
    }));
    await ledger.recordDeliveries('pinterest', outcomes);
    const records = (await scanLedger()).filter((i) => i.pk.startsWith('B#pinterest#'));
    expect(records.length).toBeGreaterThan(1);
    for (const r of records) expect((r.d as Uint8Array).length).toBeLessThanOrEqual(MAX_RECORD_BYTES);
    expect(new Set(records.flatMap((r) => batchRows(r).map((row) => row.pk))).size).toBe(300);
  });

  it('groups by the UTC hour of occurredAt, whatever offset the source wrote it with', () => {
    const [c] = conversions(1);
    const items = batchRecordItems('meta', [{ occurredAt: '2026-03-02T13:59:00+02:00', entry: { eventId: c.eventId, status: 'delivered' } }], NOW, 'b1', 0);
    expect(items).toMatchObject([{ pk: 'B#meta#2026-03-02T11', sk: `${NOW.toISOString()}#b1#0`, n: 1 }]);
  });

  it('reads a batch partition only from the conversion’s occurrence on (strongly consistent)', async () => {
    const [c] = batchOf(1, 1);
    await accept(c, ['meta']);
    await ledger.recordDeliveries('meta', [delivered(c)]);
    const sent: QueryCommand[] = [];
    const spy = { send: (cmd: QueryCommand) => (sent.push(cmd), ddb.send(cmd)) } as unknown as DynamoDBDocumentClient;
    await readConversions(spy, 'ledger', [c.eventId], { consistent: true });
    const batchQuery = sent.map((q) => q.input).find((q) => String(q.ExpressionAttributeValues?.[':pk']).startsWith('B#'))!;
    expect(batchQuery).toMatchObject({ KeyConditionExpression: 'pk = :pk AND sk >= :from', ConsistentRead: true, ExpressionAttributeValues: { ':from': new Date(Date.parse(c.occurredAt) - 5 * 60_000).toISOString() } });
  });
});
