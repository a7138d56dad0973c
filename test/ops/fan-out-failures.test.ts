import { ChangeMessageVisibilityBatchCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { conversionItem } from '../../functions/store/ingest-store.ts';
import { startLocalDynamo } from '../../lib/local/dynamo.ts';
import { LOCAL_SHARD_ID, StreamJournal, localStreamArn } from '../../lib/local/stream.ts';
import { signV4 } from '../../functions/store/aws-signing.ts';
import { StreamsServiceError, streamsClient, type StreamApiRecord, type StreamsApi } from '../../lib/ops/dynamodb-streams.ts';
import { conversionsInRange, parseFailure, replayFanOutFailures, type StreamBatchInfo } from '../../lib/ops/fan-out-failures.ts';
import type { Target } from '../../lib/ops/target.ts';
import { conversionFactory } from '../support/factories.ts';

/** Lambda's on-failure record for a DynamoDB stream batch, as its documentation and users show it. */
const lambdaRecord = {
  requestContext: { requestId: '12a8a0fa-f8d2-4d42-a6e3-72bae7d1e2f9', functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:fan-out', condition: 'RetryAttemptsExhausted', approximateInvokeCount: 11 },
  responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
  version: '1.0',
  timestamp: '2026-12-03T09:22:26.479Z',
  DDBStreamBatchInfo: {
    shardId: 'shardId-00000001733216000000-a1b2c3d4',
    startSequenceNumber: '202328600001712385967261751',
    endSequenceNumber: '202328600001712385967261760',
    approximateArrivalOfFirstRecord: '2026-12-03T09:21:49Z',
    approximateArrivalOfLastRecord: '2026-12-03T09:21:50Z',
    batchSize: 3,
    streamArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/Ledger/stream/2026-11-01T13:37:16.991',
  },
};
const batch: StreamBatchInfo = lambdaRecord.DDBStreamBatchInfo;
const seq = (n: number) => (202328600001712385967261750n + BigInt(n)).toString();

const insert = (n: number, id: string): StreamApiRecord => ({ eventName: 'INSERT', dynamodb: { SequenceNumber: seq(n), Keys: { pk: { S: `C#${id}` }, sk: { S: 'conversion' } }, NewImage: { pk: { S: `C#${id}` }, sk: { S: 'conversion' }, status: { S: 'accepted' } } } });
/** A sender's row: in the stream, not a conversion (the event filter drops it). */
const senderRow = (n: number, id: string): StreamApiRecord => ({ eventName: 'MODIFY', dynamodb: { SequenceNumber: seq(n), Keys: { pk: { S: `C#${id}` }, sk: { S: 'D#meta' } }, NewImage: { pk: { S: `C#${id}` }, sk: { S: 'D#meta' }, status: { S: 'delivered' } } } });

/** A shard as pages of records behind iterators ("it0", "it1", …); `fail` makes a call throw. */
function fakeShard(pages: StreamApiRecord[][], fail: { getRecords?: (call: number) => Error | undefined; getShardIterator?: Error } = {}) {
  const calls: { op: string; input: Record<string, unknown> }[] = [];
  let recordsCalls = 0;
  const api: StreamsApi = {
    async getShardIterator(input) {
      calls.push({ op: 'GetShardIterator', input: { ...input } });
      if (fail.getShardIterator) throw fail.getShardIterator;
      // AFTER a sequence number: the page that follows the one holding it.
      const page = input.ShardIteratorType === 'AFTER_SEQUENCE_NUMBER' ? pages.findIndex((p) => p.some((r) => r.dynamodb?.SequenceNumber === input.SequenceNumber)) + 1 : 0;
      return { ShardIterator: `it${page}` };
    },
    async getRecords({ ShardIterator }) {
      calls.push({ op: 'GetRecords', input: { ShardIterator } });
      const err = fail.getRecords?.(++recordsCalls);
      if (err) throw err;
      const i = Number(ShardIterator.slice(2));
      return { Records: pages[i] ?? [], NextShardIterator: `it${i + 1}` };
    },
  };
  return { api, calls };
}

describe('the failure queue’s two kinds of message', () => {
  it('reads Lambda’s record of a given-up stream batch: its range, not its records', () => {
    expect(parseFailure(JSON.stringify(lambdaRecord))).toEqual({ kind: 'stream_batch', batch, condition: 'RetryAttemptsExhausted' });
  });

  it('reads the fan-out’s own record: the conversion ID from the item key, the destination whose queue refused it', () => {
    const refused = { kind: 'unreadable_stream_record', reason: 'the ga4 queue refused the message: InvalidMessageContents', destination: 'ga4', pk: 'C#evt_1', sk: 'conversion', sequenceNumber: '1' };
    expect(parseFailure(JSON.stringify(refused))).toEqual({ kind: 'record', conversionId: 'evt_1', destination: 'ga4', reason: refused.reason, pk: 'C#evt_1', sk: 'conversion' });
    // Not a conversion item's key: nothing to replay, but said so.
    expect(parseFailure(JSON.stringify({ kind: 'unreadable_stream_record', reason: 'bad item', pk: 'C#evt_2', sk: 'D#meta' }))).toMatchObject({ kind: 'record', conversionId: undefined });
  });

  it('names what it cannot read instead of guessing', () => {
    expect(parseFailure('not json')).toEqual({ kind: 'unknown', reason: 'the body is not JSON' });
    expect(parseFailure(JSON.stringify({ hello: 1 }))).toMatchObject({ kind: 'unknown' });
    expect(parseFailure(JSON.stringify({ DDBStreamBatchInfo: { shardId: 's' } }))).toEqual({ kind: 'unknown', reason: 'a stream batch record without startSequenceNumber, endSequenceNumber, streamArn' });
  });
});

describe('reading a batch range back from the stream', () => {
  it('starts AT the first sequence number and pages through GetRecords until the last one, keeping only accepted conversion INSERTs', async () => {
    const shard = fakeShard([[insert(1, 'a'), senderRow(2, 'x')], [], [senderRow(5, 'y'), insert(6, 'b')], [insert(10, 'c'), insert(11, 'later')]]);
    const read = await conversionsInRange(shard.api, batch);
    expect(read).toEqual({ ok: true, conversionIds: ['a', 'b', 'c'], records: 5, calls: 4 });
    expect(shard.calls[0]).toEqual({ op: 'GetShardIterator', input: { StreamArn: batch.streamArn, ShardId: batch.shardId, ShardIteratorType: 'AT_SEQUENCE_NUMBER', SequenceNumber: batch.startSequenceNumber } });
    // Stopped at the end sequence number: no call after the page that held it.
    expect(shard.calls.filter((c) => c.op === 'GetRecords').map((c) => c.input.ShardIterator)).toEqual(['it0', 'it1', 'it2', 'it3']);
  });

  it('stops at the first record past the end even when the end sequence number itself is not in the stream', async () => {
    const shard = fakeShard([[insert(1, 'a'), insert(12, 'after')], [insert(13, 'never read')]]);
    expect(await conversionsInRange(shard.api, batch)).toMatchObject({ ok: true, conversionIds: ['a'] });
    expect(shard.calls.filter((c) => c.op === 'GetRecords')).toHaveLength(1);
  });

  it('renews an expired iterator after the last record read and goes on', async () => {
    const shard = fakeShard([[insert(1, 'a')], [insert(10, 'b')]], { getRecords: (n) => (n === 2 ? new StreamsServiceError('ExpiredIteratorException', 'Iterator expired', 400) : undefined) });
    expect(await conversionsInRange(shard.api, batch)).toMatchObject({ ok: true, conversionIds: ['a', 'b'] });
    expect(shard.calls.filter((c) => c.op === 'GetShardIterator').map((c) => c.input)).toEqual([
      expect.objectContaining({ ShardIteratorType: 'AT_SEQUENCE_NUMBER', SequenceNumber: batch.startSequenceNumber }),
      expect.objectContaining({ ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: seq(1) }),
    ]);
  });

  it('says the range is gone when the stream trimmed it (24 h) or the shard is no more, and why', async () => {
    const trimmed = await conversionsInRange(fakeShard([], { getShardIterator: new StreamsServiceError('TrimmedDataAccessException', 'beyond the trim horizon', 400) }).api, batch);
    expect(trimmed).toEqual({ ok: false, gone: true, reason: expect.stringMatching(/no longer holds these records: DynamoDB Streams keeps them 24 h \(TrimmedDataAccessException/) });
    const trimmedWhileReading = await conversionsInRange(fakeShard([[insert(1, 'a')]], { getRecords: () => new StreamsServiceError('TrimmedDataAccessException', 'trimmed', 400) }).api, batch);
    expect(trimmedWhileReading).toMatchObject({ ok: false, gone: true });
    const noShard = await conversionsInRange(fakeShard([], { getShardIterator: new StreamsServiceError('ResourceNotFoundException', 'Shard not found', 400) }).api, batch);
    expect(noShard).toEqual({ ok: false, gone: true, reason: expect.stringMatching(/stream or its shard shardId-00000001733216000000-a1b2c3d4 is gone/) });
    const denied = await conversionsInRange(fakeShard([], { getShardIterator: new StreamsServiceError('AccessDeniedException', 'not authorized to perform dynamodb:GetShardIterator', 400) }).api, batch);
    expect(denied).toMatchObject({ ok: false, gone: false, reason: expect.stringMatching(/AccessDeniedException/) });
  });

  it('gives up on a range it cannot finish in the calls allowed, rather than reading an open shard forever', async () => {
    const shard = fakeShard([[insert(1, 'a')]]); // nothing after: empty pages for ever
    expect(await conversionsInRange(shard.api, batch, { maxCalls: 5 })).toMatchObject({ ok: false, gone: false, reason: expect.stringMatching(/not read to its end in 5 GetRecords calls/) });
  });
});

describe('the DynamoDB Streams requests', () => {
  it('signs as AWS documents SigV4 (its published example)', async () => {
    const headers = await signV4(
      { method: 'GET', url: 'https://iam.amazonaws.com/?Version=2010-05-08&Action=ListUsers', headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' }, body: '' },
      { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
      { region: 'us-east-1', service: 'iam', now: new Date('2015-08-30T12:36:00Z') },
    );
    expect(headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7',
    );
  });

  it('posts JSON 1.0 with the DynamoDBStreams target, signed for `dynamodb`, and throws a service error by its name', async () => {
    const sent: { url: string; init: RequestInit }[] = [];
    const client = streamsClient({
      region: 'eu-west-1',
      credentials: async () => ({ accessKeyId: 'AKID', secretAccessKey: 'secret', sessionToken: 'token' }),
      fetch: (async (url: string, init: RequestInit) => {
        sent.push({ url, init });
        return new Response(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#TrimmedDataAccessException', message: 'trimmed' }), { status: 400 });
      }) as typeof fetch,
    });
    await expect(client.getShardIterator({ StreamArn: batch.streamArn, ShardId: batch.shardId, ShardIteratorType: 'AT_SEQUENCE_NUMBER', SequenceNumber: '1' })).rejects.toMatchObject({ name: 'TrimmedDataAccessException', message: 'trimmed' });
    expect(sent[0].url).toBe('https://streams.dynamodb.eu-west-1.amazonaws.com');
    const headers = sent[0].init.headers as Record<string, string>;
    expect(headers['x-amz-target']).toBe('DynamoDBStreams_20120810.GetShardIterator');
    expect(headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(headers['x-amz-security-token']).toBe('token');
    expect(headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/eu-west-1\/dynamodb\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, /);
  });

  describe('against the local DynamoDB emulator’s stream', () => {
    let dir: string;
    beforeEach(() => void (dir = mkdtempSync(path.join(tmpdir(), 'streams-api-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('reads a range of the journal through the same client, over HTTP', async () => {
      const journalFile = path.join(dir, 'ledger-stream.jsonl');
      const dynamo = await startLocalDynamo(undefined, 'us-east-1', { streamJournal: journalFile });
      try {
        const journal = new StreamJournal(journalFile);
        for (const id of ['a', 'b', 'c', 'd']) {
          const item = conversionItem(conversionFactory({ eventId: id, orderId: id }), [{ destination: 'meta', status: 'queued' }], 'inv', Date.now());
          journal.append({ pk: item.pk, sk: item.sk }, item);
        }
        journal.close();
        const client = streamsClient({ region: 'us-east-1', endpoint: dynamo.url, credentials: async () => ({ accessKeyId: 'local', secretAccessKey: 'local' }) });
        const range = { shardId: LOCAL_SHARD_ID, streamArn: localStreamArn(), startSequenceNumber: '000000000000000000002', endSequenceNumber: '000000000000000000003' };
        expect(await conversionsInRange(client, range)).toMatchObject({ ok: true, conversionIds: ['b', 'c'] });
        await expect(client.getShardIterator({ ...range, StreamArn: range.streamArn, ShardId: 'shardId-00000000000000000009-00000000', ShardIteratorType: 'TRIM_HORIZON' })).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
      } finally {
        await dynamo.close();
      }
    });
  });
});

describe('replaying the failure queue', () => {
  const sqs = mockClient(SQSClient);
  afterEach(() => sqs.reset());
  const target = (streams: StreamsApi) =>
    ({ kind: 'aws', description: 'test', sqs: new SQSClient({ region: 'eu-west-1' }), ledgerTable: 'Ledger', queues: { meta: { url: 'q', dlqUrl: 'd' } }, secretArns: {}, fanOutFailuresUrl: 'failures', streams: () => streams, functionEnvironment: {} }) as unknown as Target;
  const messages = (...bodies: unknown[]) => bodies.map((b, i) => ({ MessageId: `m${i}`, ReceiptHandle: `rh${i}`, Body: typeof b === 'string' ? b : JSON.stringify(b) }));

  it('leaves a trimmed batch and an unreadable message in the queue (released at once), with why and what to do', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '2' } });
    sqs.on(ReceiveMessageCommand).resolvesOnce({ Messages: messages(lambdaRecord, 'garbage') }).resolves({ Messages: [] });
    const summary = await replayFanOutFailures(target(fakeShard([], { getShardIterator: new StreamsServiceError('TrimmedDataAccessException', 'trimmed', 400) }).api));
    expect(summary).toMatchObject({ messagesRead: 2, messagesDeleted: 0, conversionsRequeued: 0 });
    expect(summary.left).toEqual([
      { messageId: 'm0', kind: 'stream_batch', reason: expect.stringMatching(/24 h/), suggestion: expect.stringMatching(/the 3 conversions committed 2026-12-03T09:21:49Z → 2026-12-03T09:21:50Z can no longer be read.*replay --conversion/) },
      { messageId: 'm1', kind: 'unknown', reason: 'the body is not JSON', suggestion: expect.any(String) },
    ]);
    expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(0);
    const released = sqs.commandCalls(ChangeMessageVisibilityBatchCommand).flatMap((c) => c.args[0].input.Entries ?? []);
    expect(released.map((e) => [e.ReceiptHandle, e.VisibilityTimeout])).toEqual([['rh0', 0], ['rh1', 0]]);
  });

  it('deletes a batch message once its range was read and held nothing to queue; a dry run deletes nothing', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '1' } });
    sqs.on(ReceiveMessageCommand).resolvesOnce({ Messages: messages(lambdaRecord) }).resolves({ Messages: [] });
    const shard = fakeShard([[senderRow(1, 'x'), senderRow(10, 'y')]]);
    const dry = await replayFanOutFailures(target(shard.api), { dryRun: true });
    expect(dry).toMatchObject({ messagesRead: 1, messagesDeleted: 0, left: [] });
    expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(0);

    sqs.reset();
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '1' } });
    sqs.on(ReceiveMessageCommand).resolvesOnce({ Messages: messages(lambdaRecord) }).resolves({ Messages: [] });
    const real = await replayFanOutFailures(target(shard.api));
    expect(real).toMatchObject({ messagesRead: 1, messagesDeleted: 1, conversionsFound: 0, left: [] });
    expect(sqs.commandCalls(DeleteMessageCommand).map((c) => c.args[0].input)).toEqual([{ QueueUrl: 'failures', ReceiptHandle: 'rh0' }]);
  });

  it('works on a message once even when it comes back during the run (past its visibility timeout), and releases it by its newest receipt', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '1' } });
    const [first] = messages('garbage');
    sqs.on(ReceiveMessageCommand).resolvesOnce({ Messages: [first] }).resolvesOnce({ Messages: [{ ...first, ReceiptHandle: 'rh-again' }] }).resolves({ Messages: [] });
    const summary = await replayFanOutFailures(target(fakeShard([]).api));
    expect(summary).toMatchObject({ messagesRead: 1, left: [{ messageId: 'm0', kind: 'unknown' }] });
    const released = sqs.commandCalls(ChangeMessageVisibilityBatchCommand).flatMap((c) => c.args[0].input.Entries ?? []);
    expect(released.map((e) => e.ReceiptHandle)).toEqual(['rh-again']);
  });
});
