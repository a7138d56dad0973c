import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchEntryIdsNotDistinct,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListDeadLetterSourceQueuesCommand,
  ListMessageMoveTasksCommand,
  ListQueuesCommand,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
  type QueueAttributeName,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSqsServer, type SqsServer } from './sqs-server.ts';

const ACCOUNT = '000000000000';
const arn = (name: string) => `arn:aws:sqs:us-east-1:${ACCOUNT}:${name}`;
const clientFor = (server: SqsServer) =>
  new SQSClient({ region: 'us-east-1', endpoint: server.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });

describe('local SQS server', () => {
  let dir: string;
  let dataFile: string;
  let server: SqsServer;
  let sqs: SQSClient;
  const extra: Array<{ server: SqsServer; sqs: SQSClient }> = [];

  const create = async (name: string, Attributes?: Record<string, string>) =>
    (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes }))).QueueUrl!;
  const counts = async (QueueUrl: string, client = sqs) => {
    const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
    return {
      visible: Number(Attributes!.ApproximateNumberOfMessages),
      inflight: Number(Attributes!.ApproximateNumberOfMessagesNotVisible),
      delayed: Number(Attributes!.ApproximateNumberOfMessagesDelayed),
    };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'local-sqs-'));
    dataFile = join(dir, 'nested', 'sqs.jsonl');
    server = await startSqsServer({ dataFile });
    sqs = clientFor(server);
  });

  afterAll(async () => {
    sqs.destroy();
    for (const e of extra) e.sqs.destroy();
    await server.close().catch(() => undefined);
    for (const e of extra) await e.server.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates queues idempotently with a redrive policy and URLs on the live port', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const dlqUrl = await create('orders-dlq');
    const mainUrl = await create('orders', {
      VisibilityTimeout: '1',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn('orders-dlq'), maxReceiveCount: 2 }),
    });
    expect(mainUrl).toBe(`${server.url}/${ACCOUNT}/orders`);
    expect(await create('orders')).toBe(mainUrl);

    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: mainUrl, AttributeNames: ['All'] }));
    expect(Attributes).toMatchObject({ QueueArn: arn('orders'), VisibilityTimeout: '1', ApproximateNumberOfMessages: '0' });
    expect(JSON.parse(Attributes!.RedrivePolicy!)).toEqual({ deadLetterTargetArn: arn('orders-dlq'), maxReceiveCount: 2 });

    expect((await sqs.send(new GetQueueUrlCommand({ QueueName: 'orders-dlq' }))).QueueUrl).toBe(dlqUrl);
    expect((await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'orders' }))).QueueUrls).toEqual([mainUrl, dlqUrl]);
    expect((await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'orders-' }))).QueueUrls).toEqual([dlqUrl]);
    expect((await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlqUrl }))).queueUrls).toEqual([mainUrl]);
  });

  it('throws the typed QueueDoesNotExist error', async () => {
    await expect(sqs.send(new GetQueueUrlCommand({ QueueName: 'nope' }))).rejects.toBeInstanceOf(QueueDoesNotExist);
    const err = await sqs.send(new SendMessageCommand({ QueueUrl: `${server.url}/${ACCOUNT}/nope`, MessageBody: 'x' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueDoesNotExist);
    expect((err as QueueDoesNotExist).$metadata.httpStatusCode).toBe(400);
    // The awsQuery-compatible code that code written against the Query API (and older SDKs) checks.
    expect((err as QueueDoesNotExist & { Code?: string }).Code).toBe('AWS.SimpleQueueService.NonExistentQueue');
  });

  it('returns MD5s the SDK accepts and that match the values AWS produces', async () => {
    const url = await create('md5');
    // Vectors published with moto's SQS tests (the first also in LocalStack's, checked against AWS).
    const simple = await sqs.send(new SendMessageCommand({
      QueueUrl: url, MessageBody: 'derp',
      MessageAttributes: { timestamp: { DataType: 'Number', StringValue: '1493147359900' } },
    }));
    expect(simple.MD5OfMessageBody).toBe('58fd9edd83341c29f1aebba81c31e257');
    expect(simple.MD5OfMessageAttributes).toBe('235c5c510d26fb653d073faed50ae77c');
    const complexAttrs = {
      ccc: { DataType: 'String', StringValue: 'testjunk' },
      aaa: { DataType: 'Binary', BinaryValue: new Uint8Array([2, 3, 4]) },
      zzz: { DataType: 'Number', StringValue: '0230.01' },
      'öther_encodings': { DataType: 'String', StringValue: 'Tüst' },
    };
    const complex = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'derp', MessageAttributes: complexAttrs }));
    expect(complex.MD5OfMessageAttributes).toBe('8ae21a7957029ef04146b42aeaa18a22');

    const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }));
    expect(Messages).toHaveLength(2);
    const got = Messages!.find((m) => m.MessageId === complex.MessageId)!;
    expect(got.MD5OfMessageAttributes).toBe('8ae21a7957029ef04146b42aeaa18a22');
    expect(got.MessageAttributes).toEqual(complexAttrs);
    const { Messages: none } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 0 }));
    expect(none).toBeUndefined(); // both still in flight
  });

  it('sends batches with per-entry failures and deletes in batch', async () => {
    const url = await create('batch');
    const res = await sqs.send(new SendMessageBatchCommand({
      QueueUrl: url,
      Entries: [
        { Id: 'a', MessageBody: 'one' },
        { Id: 'b', MessageBody: 'two', MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } } },
        { Id: 'bad', MessageBody: 'three', DelaySeconds: 901 },
      ],
    }));
    expect(res.Successful!.map((s) => s.Id).sort()).toEqual(['a', 'b']);
    expect(res.Successful!.find((s) => s.Id === 'b')!.MD5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);
    expect(res.Failed).toEqual([expect.objectContaining({ Id: 'bad', SenderFault: true, Code: 'InvalidParameterValue' })]);
    await expect(sqs.send(new SendMessageBatchCommand({
      QueueUrl: url, Entries: [{ Id: 'x', MessageBody: '1' }, { Id: 'x', MessageBody: '2' }],
    }))).rejects.toBeInstanceOf(BatchEntryIdsNotDistinct);

    const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }));
    expect(Messages!.map((m) => m.Body).sort()).toEqual(['one', 'two']);
    const del = await sqs.send(new DeleteMessageBatchCommand({
      QueueUrl: url, Entries: Messages!.map((m, i) => ({ Id: `m${i}`, ReceiptHandle: m.ReceiptHandle! })),
    }));
    expect(del.Successful).toHaveLength(2);
    expect(await counts(url)).toEqual({ visible: 0, inflight: 0, delayed: 0 });
  });

  it('hides received messages, counts receives, and redrives to the DLQ after maxReceiveCount', async () => {
    const url = `${server.url}/${ACCOUNT}/orders`;
    const dlqUrl = `${server.url}/${ACCOUNT}/orders-dlq`;
    const sent = await sqs.send(new SendMessageCommand({
      QueueUrl: url, MessageBody: '{"order":1}', MessageAttributes: { tenant: { DataType: 'String', StringValue: 'acme' } },
    }));

    const first = await sqs.send(new ReceiveMessageCommand({
      QueueUrl: url, VisibilityTimeout: 30,
      // The legacy parameter is typed as QueueAttributeName[], but SQS accepts message system attribute names in it.
      AttributeNames: ['ApproximateReceiveCount', 'SentTimestamp', 'ApproximateFirstReceiveTimestamp'] as string[] as QueueAttributeName[],
    }));
    const m1 = first.Messages![0];
    expect(m1.MessageId).toBe(sent.MessageId);
    expect(m1.MessageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(m1.Attributes).toMatchObject({ ApproximateReceiveCount: '1' });
    expect(Number(m1.Attributes!.SentTimestamp)).toBeGreaterThan(Date.now() - 60_000);
    expect(m1.MessageAttributes).toBeUndefined(); // not requested

    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages).toBeUndefined();
    expect(await counts(url)).toEqual({ visible: 0, inflight: 1, delayed: 0 });

    await new Promise((r) => setTimeout(r, 5)); // so a wrongly refreshed first-receive timestamp would differ
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: m1.ReceiptHandle, VisibilityTimeout: 0 }));
    const second = await sqs.send(new ReceiveMessageCommand({
      QueueUrl: url, VisibilityTimeout: 30,
      MessageSystemAttributeNames: ['ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp'],
    }));
    const m2 = second.Messages![0];
    expect(m2.MessageId).toBe(sent.MessageId);
    expect(m2.ReceiptHandle).not.toBe(m1.ReceiptHandle);
    expect(m2.Attributes!.ApproximateReceiveCount).toBe('2');
    expect(m2.Attributes!.ApproximateFirstReceiveTimestamp).toBe(m1.Attributes!.ApproximateFirstReceiveTimestamp);

    // A stale receipt handle: delete "succeeds" but must not remove the re-received message.
    await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m1.ReceiptHandle }));
    expect(await counts(url)).toEqual({ visible: 0, inflight: 1, delayed: 0 });

    // Receive count already reached maxReceiveCount (2): the next receive moves it instead of delivering it.
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: m2.ReceiptHandle, VisibilityTimeout: 0 }));
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages).toBeUndefined();
    expect(await counts(url)).toEqual({ visible: 0, inflight: 0, delayed: 0 });

    const dead = await sqs.send(new ReceiveMessageCommand({
      QueueUrl: dlqUrl, VisibilityTimeout: 0, MessageAttributeNames: ['All'], AttributeNames: ['All'],
    }));
    const d = dead.Messages![0];
    expect(d).toMatchObject({ MessageId: sent.MessageId, Body: '{"order":1}', MD5OfMessageAttributes: sent.MD5OfMessageAttributes });
    expect(d.MessageAttributes).toEqual({ tenant: { DataType: 'String', StringValue: 'acme' } });
    expect(d.Attributes!.ApproximateReceiveCount).toBe('1'); // reset on the move, then received once here
  });

  it('moves DLQ messages back to their source queue with StartMessageMoveTask', async () => {
    const url = `${server.url}/${ACCOUNT}/orders`;
    const dlqUrl = `${server.url}/${ACCOUNT}/orders-dlq`;
    expect(await counts(dlqUrl)).toEqual({ visible: 1, inflight: 0, delayed: 0 });

    const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: arn('orders-dlq') }));
    expect(TaskHandle).toBeTruthy();
    const { Results } = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: arn('orders-dlq') }));
    expect(Results![0]).toMatchObject({ Status: 'COMPLETED', SourceArn: arn('orders-dlq'), ApproximateNumberOfMessagesMoved: 1 });

    expect(await counts(dlqUrl)).toEqual({ visible: 0, inflight: 0, delayed: 0 });
    const back = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, AttributeNames: ['All'], MessageAttributeNames: ['tenant'] }));
    expect(back.Messages![0]).toMatchObject({ Body: '{"order":1}', Attributes: { ApproximateReceiveCount: '1' } });
    expect(back.Messages![0].MessageAttributes!.tenant.StringValue).toBe('acme');
    await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: back.Messages![0].ReceiptHandle }));
    expect(await counts(url)).toEqual({ visible: 0, inflight: 0, delayed: 0 });
  });

  it('long polls: returns as soon as a message arrives, and when a delayed message becomes visible', async () => {
    const url = await create('poll');
    const started = Date.now();
    const pending = sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 5 }));
    await new Promise((r) => setTimeout(r, 300));
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'wake up' }));
    const res = await pending;
    expect(res.Messages![0].Body).toBe('wake up');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(2000);

    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'later', DelaySeconds: 1 }));
    expect(await counts(url)).toEqual({ visible: 0, inflight: 1, delayed: 1 });
    const t0 = Date.now();
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages).toBeUndefined();
    const delayed = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 5 }));
    expect(delayed.Messages![0].Body).toBe('later');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(800);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('survives a crash: a new server on the same data file keeps queues, messages and in-flight deadlines', async () => {
    const url = await create('persist', { VisibilityTimeout: '1' });
    const send = (MessageBody: string, MessageAttributes?: Record<string, { DataType: string; StringValue: string }>) =>
      sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody, MessageAttributes }));
    const d = await send('D');
    const a = await send('A', { n: { DataType: 'Number', StringValue: '1' } });
    await send('B');
    const c = await send('C');
    const gotD = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 30 }));
    expect(gotD.Messages![0].MessageId).toBe(d.MessageId);
    const gotA = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }));
    expect(gotA.Messages![0].MessageId).toBe(a.MessageId); // A is now in flight for 1 s
    const rest = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }));
    expect(rest.Messages!.map((m) => m.Body)).toEqual(['B', 'C']);
    await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: rest.Messages![1].ReceiptHandle }));
    expect(c.MessageId).toBe(rest.Messages![1].MessageId);

    // "Crash": the first server is never shut down before the second reads its journal,
    // and the journal ends with a torn, half-written line.
    appendFileSync(dataFile, '{"op":"put","q":"persist","m":{"id":');
    const server2 = await startSqsServer({ dataFile });
    const sqs2 = clientFor(server2);
    extra.push({ server: server2, sqs: sqs2 });
    expect(server2.port).not.toBe(server.port);

    const newUrl = (await sqs2.send(new GetQueueUrlCommand({ QueueName: 'persist' }))).QueueUrl!;
    expect(newUrl).toBe(`${server2.url}/${ACCOUNT}/persist`);
    const urls = (await sqs2.send(new ListQueuesCommand({}))).QueueUrls!;
    expect(urls).toContain(`${server2.url}/${ACCOUNT}/orders`);
    expect(urls.every((u) => u.startsWith(`${server2.url}/`))).toBe(true);
    const { Attributes } = await sqs2.send(new GetQueueAttributesCommand({
      QueueUrl: `${server2.url}/${ACCOUNT}/orders`, AttributeNames: ['RedrivePolicy'],
    }));
    expect(JSON.parse(Attributes!.RedrivePolicy!)).toEqual({ deadLetterTargetArn: arn('orders-dlq'), maxReceiveCount: 2 });

    // B visible; D and A still in flight (absolute deadlines kept); C stays deleted. The old URL still resolves by name.
    expect(await counts(url, sqs2)).toEqual({ visible: 1, inflight: 2, delayed: 0 });
    // A receipt handle issued before the restart is still valid.
    await sqs2.send(new DeleteMessageCommand({ QueueUrl: newUrl, ReceiptHandle: gotD.Messages![0].ReceiptHandle }));
    expect(await counts(newUrl, sqs2)).toEqual({ visible: 1, inflight: 1, delayed: 0 });
    const now = await sqs2.send(new ReceiveMessageCommand({ QueueUrl: newUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30 }));
    expect(now.Messages!.map((m) => m.Body)).toEqual(['B']);

    const later = await sqs2.send(new ReceiveMessageCommand({
      QueueUrl: newUrl, WaitTimeSeconds: 3, AttributeNames: ['All'], MessageAttributeNames: ['All'],
    }));
    expect(later.Messages![0]).toMatchObject({ MessageId: a.MessageId, Body: 'A', Attributes: { ApproximateReceiveCount: '2' } });
    expect(later.Messages![0].MessageAttributes).toEqual({ n: { DataType: 'Number', StringValue: '1' } });
    await sqs2.send(new DeleteMessageCommand({ QueueUrl: newUrl, ReceiptHandle: later.Messages![0].ReceiptHandle }));

    // Mutations made after the replay/compaction are journaled too.
    await server.close();
    await server2.close();
    const server3 = await startSqsServer({ dataFile });
    const sqs3 = clientFor(server3);
    extra.push({ server: server3, sqs: sqs3 });
    expect(await counts(`${server3.url}/${ACCOUNT}/persist`, sqs3)).toEqual({ visible: 0, inflight: 1, delayed: 0 }); // only B
    // Startup compaction leaves a snapshot (queue + message records only), not the mutation history.
    const ops = readFileSync(dataFile, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { op: string }).op);
    expect(new Set(ops)).toEqual(new Set(['cq', 'put']));
    expect(ops.filter((op) => op === 'cq')).toHaveLength(6);
  });
});

describe("local SQS server: the runner's queue consumer (the event source mapping's side)", () => {
  it('gathers a batch past ten within the window, with the receive semantics: hidden, counted, deleted by handle', async () => {
    const server = await startSqsServer({});
    const sqs = clientFor(server);
    try {
      const QueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'meta' }))).QueueUrl!;
      const send = (from: number) =>
        sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: Array.from({ length: 10 }, (_, k) => ({ Id: String(k), MessageBody: `m${from + k}` })) }));
      const started = Date.now();
      const batch = server.consumer.receiveBatch({ queueUrl: QueueUrl, max: 25, visibilitySeconds: 30, waitMs: 1000, windowMs: 300 });
      await send(0);
      await new Promise((r) => setTimeout(r, 100));
      await send(10); // within the window: joins the batch
      const got = await batch;
      expect(got.map((m) => m.Body)).toEqual(Array.from({ length: 20 }, (_, k) => `m${k}`));
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(got[0].Attributes?.ApproximateReceiveCount).toBe('1');
      // Hidden while in flight: nothing to receive now.
      expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }))).Messages).toBeUndefined();
      server.consumer.deleteBatch(QueueUrl, got.map((m) => m.ReceiptHandle));
      const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessagesNotVisible'] }));
      expect(Attributes!.ApproximateNumberOfMessagesNotVisible).toBe('0');

      // A full batch does not wait for the window.
      await send(20);
      const t = Date.now();
      expect(await server.consumer.receiveBatch({ queueUrl: QueueUrl, max: 10, visibilitySeconds: 30, waitMs: 1000, windowMs: 60_000 })).toHaveLength(10);
      expect(Date.now() - t).toBeLessThan(5000);
    } finally {
      sqs.destroy();
      await server.close();
    }
  });

  it('a receive cancelled mid-window hands its messages back, visible at once', async () => {
    const server = await startSqsServer({});
    const sqs = clientFor(server);
    try {
      const QueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'tiktok' }))).QueueUrl!;
      const abort = new AbortController();
      const batch = server.consumer.receiveBatch({ queueUrl: QueueUrl, max: 100, visibilitySeconds: 300, waitMs: 1000, windowMs: 60_000 }, abort.signal);
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'kept' }));
      await new Promise((r) => setTimeout(r, 50));
      abort.abort();
      expect(await batch).toEqual([]);
      const again = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
      expect(again.Messages?.map((m) => m.Body)).toEqual(['kept']);
    } finally {
      sqs.destroy();
      await server.close();
    }
  });
});
