import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { conversionFactory } from '../../test/support/factories.ts';
import type { Route } from '#core/ingest.ts';
import { conversionItemAttributes, conversionOf, routesOf } from './conversion-item.ts';
import { createIngestPorts } from './ingest-store.ts';
import { fromItem } from './visitor-lookup.ts';

const dynamo = mockClient(DynamoDBClient);
const sns = mockClient(SNSClient);
const ports = () => createIngestPorts({ ledgerTable: 'ledger', visitorsTable: 'visitors', topicArn: 'arn:aws:sns:us-east-1:1:conversions' });
const conditionFailed = (item?: Record<string, unknown>) =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {}, ...(item ? { Item: marshall(item) } : {}) });

describe('the ingest hot path on DynamoDB and SNS', () => {
  beforeEach(() => {
    dynamo.reset();
    sns.reset();
  });

  it('claims with one conditional write that asks for the existing item on failure', async () => {
    dynamo.on(PutItemCommand).resolves({});

    expect(await ports().claim('evt_1', 'inv-1', 5_000)).toEqual({ kind: 'claimed' });

    expect(dynamo).toHaveReceivedCommandWith(PutItemCommand, {
      TableName: 'ledger',
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      Item: expect.objectContaining({ pk: { S: 'C#evt_1' }, sk: { S: 'conversion' }, status: { S: 'claimed' }, inv: { S: 'inv-1' }, leaseUntil: { N: '5000' } }),
    });
  });

  it('answers a duplicate from the item the failed condition returns: one call, the first receipt', async () => {
    const routes = [{ destination: 'meta', status: 'queued' }];
    dynamo.on(PutItemCommand).rejects(conditionFailed({ pk: 'C#evt_1', sk: 'conversion', status: 'accepted', inv: 'inv-1', routes: JSON.stringify(routes) }));

    expect(await ports().claim('evt_1', 'inv-2', Date.now() + 5_000)).toEqual({ kind: 'duplicate', receipt: { eventId: 'evt_1', routes, invocationId: 'inv-1' } });
    expect(dynamo.calls()).toHaveLength(1);
  });

  it('answers a duplicate from an item in the compact form too', async () => {
    const routes: Route[] = [{ destination: 'meta', status: 'queued' }, { destination: 'x', status: 'skipped', reason: 'consent' }];
    const item = { pk: { S: 'C#evt_1' }, sk: { S: 'conversion' }, status: { S: 'accepted' }, inv: { S: 'inv-1' }, ...conversionItemAttributes(conversionFactory({ eventId: 'evt_1' }), routes) };
    dynamo.on(PutItemCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {}, Item: item }));

    expect(await ports().claim('evt_1', 'inv-2', Date.now() + 5_000)).toEqual({ kind: 'duplicate', receipt: { eventId: 'evt_1', routes, invocationId: 'inv-1' } });
  });

  it('reads the item when the store does not return it with the failed condition (dynalite)', async () => {
    dynamo.on(PutItemCommand).rejects(conditionFailed());
    dynamo.on(GetItemCommand).resolves({ Item: marshall({ pk: 'C#evt_1', sk: 'conversion', status: 'accepted', inv: 'inv-1', routes: '[]' }) });

    expect(await ports().claim('evt_1', 'inv-2', Date.now() + 5_000)).toMatchObject({ kind: 'duplicate' });
    expect(dynamo).toHaveReceivedCommandWith(GetItemCommand, { ConsistentRead: true });
  });

  it('says in progress while the claim’s lease holds, and takes over an expired one only if nobody else did', async () => {
    dynamo.on(PutItemCommand).rejectsOnce(conditionFailed({ pk: 'C#e', sk: 'conversion', status: 'claimed', inv: 'inv-1', leaseUntil: Date.now() + 10_000 }));
    expect(await ports().claim('e', 'inv-2', Date.now() + 5_000)).toEqual({ kind: 'in_progress' });

    dynamo.on(PutItemCommand).rejects(conditionFailed({ pk: 'C#e', sk: 'conversion', status: 'claimed', inv: 'inv-1', leaseUntil: 1000 }));
    dynamo.on(UpdateItemCommand).resolvesOnce({}).rejects(conditionFailed());
    expect(await ports().claim('e', 'inv-3', Date.now() + 5_000)).toEqual({ kind: 'claimed' });
    expect(dynamo).toHaveReceivedCommandWith(UpdateItemCommand, { ConditionExpression: '#status = :claimed AND leaseUntil = :old', ExpressionAttributeValues: expect.objectContaining({ ':old': { N: '1000' }, ':inv': { S: 'inv-3' } }) });
    expect(await ports().claim('e', 'inv-4', Date.now() + 5_000)).toEqual({ kind: 'in_progress' });
  });

  it('publishes once for every queued destination, then writes the conversion item and the new links in one request', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm1' });
    dynamo.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} });
    const conversion = conversionFactory();
    const routes = [
      { destination: 'meta', status: 'queued' as const },
      { destination: 'tiktok', status: 'skipped' as const, reason: 'no consent' },
      { destination: 'ga4', status: 'queued' as const },
    ];

    await ports().enqueue(conversion, routes, 'inv-1', [{ kind: 'email', hash: 'h1', visitorId: 'vis_1' }]);

    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(sns).toHaveReceivedCommandWith(PublishCommand, {
      Message: JSON.stringify(conversion),
      MessageAttributes: expect.objectContaining({ destinations: { DataType: 'String.Array', StringValue: '["meta","ga4"]' } }),
    });
    const write = dynamo.commandCalls(BatchWriteItemCommand)[0].args[0].input.RequestItems!;
    expect(write.ledger).toHaveLength(1);
    const item = write.ledger[0].PutRequest!.Item!;
    expect(item).toMatchObject({ pk: { S: `C#${conversion.eventId}` }, sk: { S: 'conversion' }, status: { S: 'accepted' }, orderId: { S: conversion.orderId }, skipped: { N: '1' } });
    // What the readers get back from the item: the same routes and the same Conversion.
    expect(routesOf(fromItem(item))).toEqual(routes);
    expect(conversionOf(fromItem(item))).toEqual(conversion);
    expect(write.visitors.map((r) => r.PutRequest!.Item!.pk)).toEqual([{ S: 'E#h1' }]);
  });

  it('publishes nothing when every destination is skipped, and still records the conversion', async () => {
    dynamo.on(BatchWriteItemCommand).resolves({});
    await ports().enqueue(conversionFactory(), [{ destination: 'meta', status: 'skipped', reason: 'no consent' }], 'inv-1', []);
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
    expect(dynamo).toHaveReceivedCommandTimes(BatchWriteItemCommand, 1);
  });

  it('releases only a claim of its own that is not finished', async () => {
    dynamo.on(DeleteItemCommand).rejects(conditionFailed());
    await expect(ports().release('e', 'inv-1')).resolves.toBeUndefined();
    expect(dynamo).toHaveReceivedCommandWith(DeleteItemCommand, { ConditionExpression: '#status = :claimed AND inv = :inv', ExpressionAttributeValues: { ':claimed': { S: 'claimed' }, ':inv': { S: 'inv-1' } } });
  });

  it('looks the visitor up with one BatchGetItem', async () => {
    dynamo.on(BatchGetItemCommand).resolves({ Responses: { visitors: [marshall({ pk: 'V#vis_1', firstSeenAt: 1, lastSeenAt: 2 })] } });
    expect((await ports().visitors.find({ visitorId: 'vis_1', emailHash: 'h1' }))?.visitorId).toBe('vis_1');
    expect(dynamo.calls()).toHaveLength(1);
  });
});
