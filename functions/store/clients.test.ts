import { BatchGetItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startLocalDynamo, type LocalDynamo } from '../../lib/local/dynamo.ts';
import { startSqsServer, type SqsServer } from '../../lib/local/sqs-server.ts';

/**
 * The relay's SDK clients (clients.ts, document-client.ts): built without the SDK's logger middleware, the low-level ones with their
 * middleware stack resolved once per command class — and still sending each command's own input, concurrent sends of
 * one command class to different tables and queues included (they share the cached handler's context).
 */
let local: LocalDynamo;
let queues: SqsServer;
let clients: typeof import('./clients.ts') & typeof import('./document-client.ts');

beforeAll(async () => {
  [local, queues] = await Promise.all([startLocalDynamo(), startSqsServer()]);
  process.env.AWS_ENDPOINT_URL_DYNAMODB = local.url;
  process.env.AWS_ENDPOINT_URL_SQS = queues.url;
  // The module's clients read their endpoints when they are created.
  clients = { ...(await import('./clients.ts')), ...(await import('./document-client.ts')) };
});
afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL_DYNAMODB;
  delete process.env.AWS_ENDPOINT_URL_SQS;
  await Promise.all([local?.close(), queues?.close()]);
});

const LOGGER = 'loggerMiddleware - initialize';

describe('SDK clients', () => {
  it('have the SDK default stack without its logger middleware (the name removed is this SDK version’s)', () => {
    const defaults = { dynamodb: new DynamoDBClient({}).middlewareStack.identify(), sqs: new SQSClient({}).middlewareStack.identify() };
    expect(defaults.dynamodb).toContain(LOGGER);
    expect(defaults.sqs).toContain(LOGGER);
    expect(clients.dynamoClient.middlewareStack.identify()).toEqual(defaults.dynamodb.filter((m) => m !== LOGGER));
    expect(clients.dynamo.middlewareStack.identify()).toEqual(defaults.dynamodb.filter((m) => m !== LOGGER));
    expect(clients.sqs.middlewareStack.identify()).toEqual(defaults.sqs.filter((m) => m !== LOGGER));
  });

  it('cache the middleware stack on the low-level clients, not under the document client (which refuses it)', () => {
    expect(clients.dynamoClient.config.cacheMiddleware).toBe(true);
    expect(clients.sqs.config.cacheMiddleware).toBe(true);
    expect(clients.dynamo.config.cacheMiddleware).toBe(false);
  });

  it('DynamoDB: resolves the stack once per command class, and concurrent sends each write their own item', async () => {
    const resolve = vi.spyOn(PutItemCommand.prototype, 'resolveMiddleware');
    const ledgerItems = [1, 3, 5].map((i) => ({ pk: { S: `C#cache-${i}` }, sk: { S: 'conversion' }, n: { N: String(i) } }));
    const visitorItems = [0, 2, 4].map((i) => ({ pk: { S: `V#cache-${i}` }, n: { N: String(i) } }));
    const puts = [...visitorItems.map((Item) => ({ TableName: 'visitors', Item })), ...ledgerItems.map((Item) => ({ TableName: 'ledger', Item }))];
    try {
      await clients.dynamoClient.send(new PutItemCommand(puts[0]));
      await Promise.all(puts.slice(1).map((input) => clients.dynamoClient.send(new PutItemCommand(input))));
      expect(resolve).toHaveBeenCalledTimes(1);
    } finally {
      resolve.mockRestore();
    }
    const ledger = await Promise.all(ledgerItems.map(async ({ pk, sk }) => (await local.client.send(new GetItemCommand({ TableName: 'ledger', Key: { pk, sk } }))).Item));
    expect(ledger).toEqual(ledgerItems);
    const visitors = await local.client.send(new BatchGetItemCommand({ RequestItems: { visitors: { Keys: visitorItems.map(({ pk }) => ({ pk })) } } }));
    expect(visitors.Responses!.visitors.map((i) => i.n.N).sort()).toEqual(['0', '2', '4']);
  });

  it('SQS: concurrent batches to two queues each land on their own queue', async () => {
    const direct = new SQSClient({ endpoint: queues.url });
    const [a, b] = await Promise.all(['cache-a', 'cache-b'].map(async (QueueName) => (await direct.send(new CreateQueueCommand({ QueueName }))).QueueUrl!));
    await Promise.all(
      [a, b, a, b].map((QueueUrl, i) => clients.sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: [{ Id: '0', MessageBody: `${QueueUrl === a ? 'a' : 'b'}${i}` }] }))),
    );
    const bodies = async (QueueUrl: string) =>
      ((await direct.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }))).Messages ?? []).map((m) => m.Body).sort();
    expect(await bodies(a)).toEqual(['a0', 'a2']);
    expect(await bodies(b)).toEqual(['b1', 'b3']);
    direct.destroy();
  });
});
