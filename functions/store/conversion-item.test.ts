import { randomUUID } from 'node:crypto';
import { DynamoDBClient, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Route } from '#core/ingest.ts';
import { destinations } from '#registry';
import { dynamoItemBytes } from '../../bench/aws-fake.ts';
import { BENCH_VISITOR_ID, benchVisitor } from '../../bench/fixtures.ts';
import { sourceBenches } from '../../bench/sources.ts';
import { conversionFactory } from '../../test/support/factories.ts';
import { enqueuedFor } from '../../test/support/pipeline.ts';
import { conversionItemAttributes, conversionOf, routesOf } from './conversion-item.ts';
import { createIngestPorts } from './ingest-store.ts';
import { destinationRows, type LedgerItem } from './ledger-items.ts';
import { fromItem } from './visitor-lookup.ts';

const dynamo = mockClient(DynamoDBClient);

/** The conversion item ingest writes for one conversion (what the committing PutItem carries), as sent. */
async function writtenItem(...args: Parameters<ReturnType<typeof createIngestPorts>['commit']>): Promise<Record<string, AttributeValue>> {
  dynamo.reset();
  dynamo.on(PutItemCommand).resolves({});
  await createIngestPorts({ ledgerTable: 'ledger', visitorsTable: 'visitors' }).commit(...args);
  return dynamo.commandCalls(PutItemCommand)[0].args[0].input.Item!;
}

describe('the conversion item', () => {
  beforeEach(() => {
    dynamo.reset();
  });

  it('is one DynamoDB write unit (≤ 1 KB) for the bench’s Stripe purchase routed to all ten destinations', async () => {
    // The bench's webhook: a checkout by a customer with every identifier, from a visitor with Meta click IDs.
    const [{ conversion, routes }] = await enqueuedFor('stripe', sourceBenches.stripe.request({ visitorId: BENCH_VISITOR_ID }), sourceBenches.stripe.settings, { visitor: benchVisitor() });
    expect(routes.map((r) => r.destination)).toEqual(destinations.map((d) => d.name));
    expect(destinations).toHaveLength(10);
    expect(routes.every((r) => r.status === 'queued')).toBe(true);
    expect(Object.values(conversion.user).filter((v) => /^[0-9a-f]{64}$/.test(String(v))).length).toBeGreaterThanOrEqual(12);

    // A Lambda request ID is the invocation that accepted it.
    const item = await writtenItem(conversion, routes, randomUUID(), []);
    expect(dynamoItemBytes(item)).toBeLessThanOrEqual(1024);
    // The same item with the JSON attributes it replaced would take three write units.
    const { c: _c, r: _r, ...rest } = item;
    const json = { ...rest, routes: { S: JSON.stringify(routes) }, conversion: { S: JSON.stringify(conversion) }, createdAt: item.updatedAt };
    expect(dynamoItemBytes(json)).toBeGreaterThan(2048);
    // And it reads back as what was written.
    expect(conversionOf(fromItem(item))).toEqual(conversion);
    expect(routesOf(fromItem(item))).toEqual(routes);
  });

  it('keeps the description the operator searches and reads in clear, and how many destinations were skipped', async () => {
    const refund = conversionFactory({ eventId: 're_1', eventName: 'Refund', orderId: 'ch_1', adjustment: { kind: 'refund', originalOrderId: 'pi_1', originalEventId: 'pi_1', full: true } });
    const routes: Route[] = [{ destination: 'meta', status: 'skipped', reason: 'meta has no way to retract a conversion' }, { destination: 'google-ads', status: 'queued' }];
    expect(conversionItemAttributes(refund, routes)).toMatchObject({
      eventName: { S: 'Refund' },
      occurredAt: { S: refund.occurredAt },
      source: { S: 'stripe' },
      sourceEventId: { S: 'evt_test_1' },
      orderId: { S: 'ch_1' },
      adjustment: { S: 'refund' },
      originalOrderId: { S: 'pi_1' },
      originalEventId: { S: 'pi_1' },
      skipped: { N: '1' },
    });
    expect(conversionItemAttributes(refund, [{ destination: 'meta', status: 'queued' }]).skipped).toBeUndefined();
  });

  it('reads the Conversion and the routes of items in either form, and refuses a corrupt one', () => {
    const conversion = conversionFactory();
    const routes: Route[] = [{ destination: 'meta', status: 'queued' }, { destination: 'x', status: 'skipped', reason: 'consent' }];
    const compact = fromItem(conversionItemAttributes(conversion, routes));
    const old = { conversion: JSON.stringify(conversion), routes: JSON.stringify(routes) };
    for (const item of [compact, old]) {
      expect(conversionOf(item)).toEqual(conversion);
      expect(routesOf(item)).toEqual(routes);
    }
    expect(conversionOf({ pk: 'C#e' })).toBeUndefined();
    expect(routesOf({ pk: 'C#e' })).toEqual([]);
    expect(() => conversionOf({ c: Buffer.of(1, 0, 1, 2, 3) })).toThrow(/conversion codec/);
    expect(() => conversionOf({ conversion: JSON.stringify({ ...conversion, occurredAt: 'never' }) })).toThrow();
    expect(() => routesOf({ r: Buffer.of(1, 0xff) })).toThrow(/routes codec/);
  });

  it('gives each destination’s row the Conversion of its conversion item, in either form', () => {
    const conversion = conversionFactory();
    const routes: Route[] = [{ destination: 'meta', status: 'queued' }, { destination: 'x', status: 'skipped', reason: 'consent' }];
    const at = '2026-03-02T12:00:00.000Z';
    const compactHead = { pk: 'C#e', sk: 'conversion', status: 'accepted', updatedAt: at, ...fromItem(conversionItemAttributes(conversion, routes)) } as LedgerItem;
    const described = { eventName: 'Purchase', orderId: conversion.orderId, occurredAt: conversion.occurredAt, source: 'stripe', sourceEventId: 'evt_test_1' };
    const oldHead = { pk: 'C#e', sk: 'conversion', status: 'accepted', ...described, createdAt: at, updatedAt: at, routes: JSON.stringify(routes), conversion: JSON.stringify(conversion) } as LedgerItem;
    const senderRow = { pk: 'C#e', sk: 'D#meta', status: 'retrying', attempts: 2, updatedAt: at } as LedgerItem;
    for (const head of [compactHead, oldHead]) {
      const rows = destinationRows([senderRow, head]);
      expect(rows.map((r) => [r.sk, r.status, r.reason, r.createdAt ?? null])).toEqual([
        ['D#meta', 'retrying', undefined, null],
        ['D#x', 'skipped', 'consent', at],
      ]);
      for (const row of rows) {
        expect(conversionOf(row)).toEqual(conversion);
        expect(row).toMatchObject({ eventName: 'Purchase', orderId: conversion.orderId, sourceEventId: 'evt_test_1' });
      }
    }
  });
});
