import { BatchGetItemCommand, BatchWriteItemCommand, ConditionalCheckFailedException, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { conversionFactory } from '../../test/support/factories.ts';
import { conversionItem, createIngestPorts, readConversionItem } from './ingest-store.ts';
import type { Route } from '#core/ingest.ts';
import { conversionItemAttributes, conversionOf, routesOf } from './conversion-item.ts';
import { fromItem } from './visitor-lookup.ts';

const dynamo = mockClient(DynamoDBClient);
const ports = () => createIngestPorts({ ledgerTable: 'ledger', visitorsTable: 'visitors' });
const conditionFailed = (item?: Record<string, unknown>) =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {}, ...(item ? { Item: marshall(item) } : {}) });
const routes = [
  { destination: 'meta', status: 'queued' as const },
  { destination: 'tiktok', status: 'skipped' as const, reason: 'no consent' },
  { destination: 'ga4', status: 'queued' as const },
];

describe('the ingest hot path on DynamoDB (the commit is one conditional put)', () => {
  beforeEach(() => dynamo.reset());

  it('commits with one conditional PutItem of the accepted conversion item, asking for the existing item on failure', async () => {
    dynamo.on(PutItemCommand).resolves({});
    const conversion = conversionFactory();

    expect(await ports().commit(conversion, routes, 'inv-1', [])).toEqual({ kind: 'committed', receipt: { eventId: conversion.eventId, routes, invocationId: 'inv-1' } });

    expect(dynamo.calls()).toHaveLength(1);
    expect(dynamo).toHaveReceivedCommandWith(PutItemCommand, {
      TableName: 'ledger',
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      Item: expect.objectContaining({
        pk: { S: `C#${conversion.eventId}` },
        sk: { S: 'conversion' },
        status: { S: 'accepted' },
        inv: { S: 'inv-1' },
      }),
    });
    // The item carries the routes and the Conversion in the compact form, read back as written.
    const item = dynamo.commandCalls(PutItemCommand)[0].args[0].input.Item!;
    expect(routesOf(fromItem(item))).toEqual(routes);
    expect(conversionOf(fromItem(item))).toEqual(conversion);
  });

  it('writes new visitor links after the commit, in one BatchWriteItem, only when there are any', async () => {
    dynamo.on(PutItemCommand).resolves({});
    dynamo.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} });

    await ports().commit(conversionFactory(), routes, 'inv-1', [{ kind: 'email', hash: 'h1', visitorId: 'vis_1' }, { kind: 'phone', hash: 'h2', visitorId: 'vis_1' }]);

    const calls = dynamo.calls().map((c) => c.args[0].constructor.name);
    expect(calls).toEqual(['PutItemCommand', 'BatchWriteItemCommand']);
    const write = dynamo.commandCalls(BatchWriteItemCommand)[0].args[0].input.RequestItems!;
    expect(Object.keys(write)).toEqual(['visitors']);
    expect(write.visitors.map((r) => r.PutRequest!.Item!.pk)).toEqual([{ S: 'E#h1' }, { S: 'P#h2' }]);
  });

  it('still answers committed when the links cannot be written: the conversion is recorded and on its way', async () => {
    dynamo.on(PutItemCommand).resolves({});
    dynamo.on(BatchWriteItemCommand).rejects(new Error('throttled'));
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);

    await expect(ports().commit(conversionFactory(), routes, 'inv-1', [{ kind: 'email', hash: 'h1', visitorId: 'vis_1' }])).resolves.toMatchObject({ kind: 'committed' });
    expect(warn.mock.calls[0][0]).toContain('visitor links not written');
    warn.mockRestore();
  });

  it('fails the commit when the put fails for another reason (the source retries; nothing was recorded)', async () => {
    dynamo.on(PutItemCommand).rejects(new Error('ProvisionedThroughputExceeded'));
    await expect(ports().commit(conversionFactory(), routes, 'inv-1', [{ kind: 'email', hash: 'h1', visitorId: 'vis_1' }])).rejects.toThrow('ProvisionedThroughputExceeded');
    expect(dynamo).not.toHaveReceivedCommand(BatchWriteItemCommand);
  });

  it('answers a duplicate from the item the failed condition returns: one call, the first receipt, no links written', async () => {
    const first = [{ destination: 'meta', status: 'queued' }];
    dynamo.on(PutItemCommand).rejects(conditionFailed({ pk: 'C#evt_1', sk: 'conversion', status: 'accepted', inv: 'inv-1', routes: JSON.stringify(first) }));

    const commit = await ports().commit(conversionFactory({ eventId: 'evt_1' }), routes, 'inv-2', [{ kind: 'email', hash: 'h1', visitorId: 'vis_1' }]);

    expect(commit).toEqual({ kind: 'duplicate', receipt: { eventId: 'evt_1', routes: first, invocationId: 'inv-1' } });
    expect(dynamo.calls()).toHaveLength(1);
  });

  it('answers a duplicate from an item in the compact form too', async () => {
    const routes: Route[] = [{ destination: 'meta', status: 'queued' }, { destination: 'x', status: 'skipped', reason: 'consent' }];
    const item = { pk: { S: 'C#evt_1' }, sk: { S: 'conversion' }, status: { S: 'accepted' }, inv: { S: 'inv-1' }, ...conversionItemAttributes(conversionFactory({ eventId: 'evt_1' }), routes) };
    dynamo.on(PutItemCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {}, Item: item }));

    expect(await ports().commit(conversionFactory({ eventId: 'evt_1' }), [], 'inv-2', [])).toEqual({ kind: 'duplicate', receipt: { eventId: 'evt_1', routes, invocationId: 'inv-1' } });
  });

  it('reads the item when the store does not return it with the failed condition (dynalite)', async () => {
    dynamo.on(PutItemCommand).rejects(conditionFailed());
    dynamo.on(GetItemCommand).resolves({ Item: marshall({ pk: 'C#evt_1', sk: 'conversion', status: 'accepted', inv: 'inv-1', routes: '[]' }) });

    expect(await ports().commit(conversionFactory({ eventId: 'evt_1' }), routes, 'inv-2', [])).toMatchObject({ kind: 'duplicate', receipt: { invocationId: 'inv-1' } });
    expect(dynamo).toHaveReceivedCommandWith(GetItemCommand, { ConsistentRead: true, Key: { pk: { S: 'C#evt_1' }, sk: { S: 'conversion' } } });
  });

  it('looks the visitor up with one BatchGetItem', async () => {
    dynamo.on(BatchGetItemCommand).resolves({ Responses: { visitors: [marshall({ pk: 'V#vis_1', firstSeenAt: 1, lastSeenAt: 2 })] } });
    expect((await ports().visitors.find({ visitorId: 'vis_1', emailHash: 'h1' }))?.visitorId).toBe('vis_1');
    expect(dynamo.calls()).toHaveLength(1);
  });
});

describe('the conversion item as the fan-out reads it from the stream', () => {
  it('gives back the message body as written and the queued destinations only', () => {
    const conversion = conversionFactory();
    const read = readConversionItem(conversionItem(conversion, routes, 'inv-1', Date.now()));
    expect(read).toEqual({ eventId: conversion.eventId, eventName: conversion.eventName, body: JSON.stringify(conversion), destinations: ['meta', 'ga4'] });
  });

  it('refuses, saying what is missing, an item it did not build', () => {
    const item = conversionItem(conversionFactory({ eventId: 'e1' }), routes, 'inv-1', Date.now());
    delete item.c;
    expect(() => readConversionItem(item)).toThrow('conversion item C#e1 lacks conversion');
    expect(() => readConversionItem({ pk: { S: 'S#stripe#x' }, sk: { S: 'source' } })).toThrow('not a conversion item');
  });
});
