import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { Context, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { conversionItem } from '../../functions/store/ingest-store.ts';
import { conversionFactory } from '../../test/support/factories.ts';
import { startLocalDynamo } from './dynamo.ts';
import { LOCAL_SHARD_ID, STREAM_RETENTION_MS, StreamJournal, StreamPoller, compactJournal, localStreamArn, streamBatchFailureRecord, streamsApiAnswer, type StreamPollerOptions } from './stream.ts';

let dir: string;
let journalFile: string;
let checkpointFile: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ledger-stream-'));
  journalFile = path.join(dir, 'ledger-stream.jsonl');
  checkpointFile = path.join(dir, 'ledger-stream.checkpoint');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const item = (eventId: string) => conversionItem(conversionFactory({ eventId, orderId: eventId }), [{ destination: 'meta', status: 'queued' }], 'inv-1', Date.now());
function append(...eventIds: string[]) {
  const journal = new StreamJournal(journalFile);
  for (const id of eventIds) {
    const image = item(id);
    journal.append({ pk: image.pk, sk: image.sk }, image);
  }
  journal.close();
}
const idsOf = (e: DynamoDBStreamEvent) => e.Records.map((r) => r.dynamodb!.Keys!.pk.S!.slice(2));

/** The fan-out as a recorder of what it was handed; `answer` decides each invocation's response. */
function poller(answer: (e: DynamoDBStreamEvent, n: number) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }> = async () => ({ batchItemFailures: [] }), extra: Partial<StreamPollerOptions> = {}) {
  const seen: string[][] = [];
  const failed: { ids: string[]; reason: string }[] = [];
  const p = new StreamPoller({
    journalFile,
    checkpointFile,
    handler: async (e) => (seen.push(idsOf(e)), answer(e, seen.length)),
    context: () => ({}) as Context,
    retryBaseMs: 1,
    onFailure: async (records: DynamoDBRecord[], reason) => void failed.push({ ids: records.map((r) => r.dynamodb!.Keys!.pk.S!.slice(2)), reason }),
    ...extra,
  });
  return { p, seen, failed };
}

describe('the local ledger stream (journal + poller)', () => {
  it('delivers after a restart what was journaled before the crash and never delivered', async () => {
    append('e1', 'e2');
    // The runner died here: journaled, no poller ran. A new one (after the restart) finds both.
    const { p, seen } = poller();
    await p.drain();
    expect(seen).toEqual([['e1', 'e2']]);
  });

  it('does not deliver again after a restart what was checkpointed, and goes on from there in order', async () => {
    append('e1', 'e2');
    await poller().p.drain();
    append('e3');
    const { p, seen } = poller();
    await p.drain();
    expect(seen).toEqual([['e3']]);
  });

  it('cuts off a line torn by a crash mid-write, so the next record is read whole', async () => {
    append('e1');
    appendFileSync(journalFile, '{"seq":2,"at":1,"keys":{"pk":');
    append('e3');
    const { p, seen } = poller();
    await p.drain();
    expect(seen).toEqual([['e1', 'e3']]);
  });

  it('continues the sequence numbers across restarts of the journal', async () => {
    append('e1');
    append('e2');
    const { p } = poller(async (e) => {
      expect(e.Records.map((r) => Number(r.dynamodb!.SequenceNumber))).toEqual([1, 2]);
      return { batchItemFailures: [] };
    });
    await p.drain();
  });

  it('retries a batch whose invocation throws, bisecting it, until it is delivered', async () => {
    append('e1', 'e2', 'e3', 'e4');
    const { p, seen, failed } = poller(async (_e, n) => {
      if (n <= 2) throw new Error('SQS unavailable');
      return { batchItemFailures: [] };
    });
    await p.drain();
    // Whole batch, then half, then the half again succeeds; the rest follows.
    expect(seen).toEqual([['e1', 'e2', 'e3', 'e4'], ['e1', 'e2'], ['e1'], ['e2', 'e3', 'e4']]);
    expect(failed).toEqual([]);
  });

  it('takes a partial batch response as Lambda does: done up to the first failed record, retried from it', async () => {
    append('e1', 'e2', 'e3');
    const { p, seen } = poller(async (e, n) => ({ batchItemFailures: n === 1 ? [{ itemIdentifier: e.Records[1].dynamodb!.SequenceNumber! }] : [] }));
    await p.drain();
    expect(seen[0]).toEqual(['e1', 'e2', 'e3']);
    expect(seen[1][0]).toBe('e2');
    expect(seen.flat().filter((id) => id === 'e1')).toHaveLength(1);
  });

  it('gives a record up to the failure destination after the last retry, with the reason, and goes on', async () => {
    append('e1', 'e2');
    const { p, seen, failed } = poller(async (e) => {
      if (idsOf(e)[0] === 'e1') throw new Error('RELAY_QUEUE_URL_X is not set');
      return { batchItemFailures: [] };
    }, { maxRetries: 2 });
    await p.drain();
    expect(failed).toEqual([{ ids: ['e1'], reason: 'RetryAttemptsExhausted: RELAY_QUEUE_URL_X is not set' }]);
    expect(seen.at(-1)).toEqual(['e2']);
  });

  it('cuts delivered records older than 24 h from the journal at start-up, keeps recent and undelivered ones, and numbers on', async () => {
    append('e1', 'e2');
    const day = Date.now() + STREAM_RETENTION_MS + 60_000;
    compactJournal(journalFile, checkpointFile, day);
    expect(readFileSync(journalFile, 'utf8').split('\n').filter(Boolean)).toHaveLength(2); // not delivered yet: kept
    await poller().p.drain();
    compactJournal(journalFile, checkpointFile);
    expect(readFileSync(journalFile, 'utf8').split('\n').filter(Boolean)).toHaveLength(2); // delivered but recent: kept
    compactJournal(journalFile, checkpointFile, day);
    expect(statSync(journalFile).size).toBe(0);
    append('e3');
    const { p, seen } = poller(async (e) => {
      // Numbering goes on past what was cut: a failure record's range never names a reused number.
      expect(e.Records.map((r) => Number(r.dynamodb!.SequenceNumber))).toEqual([3]);
      return { batchItemFailures: [] };
    });
    await p.drain();
    expect(seen).toEqual([['e3']]);
  });

  it('after a partial cut, the poller goes on from the same record (the checkpoint moved with the cut)', async () => {
    append('e1');
    await poller().p.drain();
    // e2 is appended a day later; e1 is then over 24 h old and delivered, e2 neither.
    const later = Date.now() + STREAM_RETENTION_MS + 60_000;
    append('e2');
    compactJournal(journalFile, checkpointFile, later);
    expect(readFileSync(journalFile, 'utf8')).not.toContain('C#e1');
    const { p, seen } = poller();
    await p.drain();
    expect(seen).toEqual([['e2']]);
  });

  it('runs continuously once started, delivering what is appended later', async () => {
    const { p, seen } = poller(undefined, { pollMs: 5 });
    p.start();
    append('e1');
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await p.stop();
    expect(seen).toEqual([['e1']]);
  });

  it('is woken by notify() rather than its poll, and hands what arrives within the batching window over as one batch', async () => {
    // A poll an hour apart: only notify() can make it read.
    const { p, seen } = poller(undefined, { pollMs: 3_600_000, batchWindowMs: 300 });
    p.start();
    await new Promise((r) => setTimeout(r, 20)); // its first look found nothing; it sleeps
    const started = Date.now();
    append('e1');
    p.notify();
    await new Promise((r) => setTimeout(r, 50));
    append('e2');
    p.notify();
    for (let i = 0; i < 200 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const waited = Date.now() - started;
    await p.stop();
    expect(seen).toEqual([['e1', 'e2']]);
    expect(waited).toBeGreaterThanOrEqual(290);
  });

  it('does not wait out the batching window for a batch that is already full', async () => {
    const { p, seen } = poller(undefined, { pollMs: 3_600_000, batchWindowMs: 60_000, batchSize: 2 });
    p.start();
    append('e1', 'e2', 'e3');
    p.notify();
    for (let i = 0; i < 200 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await p.stop();
    expect(seen).toEqual([['e1', 'e2']]);
  });

  it('waits out a retry backoff even when new records are journaled meanwhile', async () => {
    const times: number[] = [];
    const { p, seen } = poller(
      async (_e, n) => {
        times.push(Date.now());
        return { batchItemFailures: n === 1 ? [{ itemIdentifier: '1'.padStart(21, '0') }] : [] };
      },
      { pollMs: 3_600_000, retryBaseMs: 400 },
    );
    p.start();
    append('e1');
    p.notify();
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    append('e2');
    p.notify(); // during the backoff: must not cut it short
    for (let i = 0; i < 200 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    await p.stop();
    expect(seen[1]).toEqual(['e1']); // the retry (bisected to the failed record) came after the whole backoff
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(390);
  });
});

describe('dynalite with the journal: what is journaled', () => {
  it('journals a committing put of an accepted conversion item, not a failed one, nor other items', async () => {
    const dynamo = await startLocalDynamo(undefined, 'us-east-1', { streamJournal: journalFile });
    try {
      const put = (Item: Record<string, any>, condition = true) =>
        dynamo.client.send(new PutItemCommand({ TableName: 'ledger', Item, ...(condition ? { ConditionExpression: 'attribute_not_exists(pk)' } : {}) }));
      await put(item('e1'));
      await expect(put(item('e1'))).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
      await put({ pk: { S: 'C#e1' }, sk: { S: 'D#meta' }, status: { S: 'delivered' } }, false);
      await put({ pk: { S: 'S#stripe#evt' }, sk: { S: 'source' }, status: { S: 'skipped' } });
      const lines = readFileSync(journalFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.map((l) => l.keys.pk.S)).toEqual(['C#e1']);
      expect(lines[0].image.c.B).toBe(Buffer.from(item('e1').c.B!).toString('base64'));
    } finally {
      await dynamo.close();
    }
    expect(existsSync(journalFile)).toBe(true);
  });
});

describe('the local stream as DynamoDB Streams answers (GetShardIterator, GetRecords) and Lambda’s failure record', () => {
  const arn = localStreamArn('us-east-1');
  const iterator = (SequenceNumber: string, type = 'AT_SEQUENCE_NUMBER', now?: number) =>
    streamsApiAnswer(journalFile, 'GetShardIterator', { StreamArn: arn, ShardId: LOCAL_SHARD_ID, ShardIteratorType: type, SequenceNumber }, 'us-east-1', now);
  const records = (ShardIterator: unknown, Limit?: number, now?: number) => streamsApiAnswer(journalFile, 'GetRecords', { ShardIterator, Limit }, 'us-east-1', now);
  const seqOf = (n: number) => String(n).padStart(21, '0');

  it('reads from a sequence number on, page by page, with the records Lambda was handed', () => {
    append('e1', 'e2', 'e3');
    const first = records(iterator(seqOf(2)).body.ShardIterator, 1);
    expect(first.status).toBe(200);
    const page = first.body.Records as DynamoDBRecord[];
    expect(page.map((r) => r.dynamodb!.SequenceNumber)).toEqual([seqOf(2)]);
    expect(page[0]).toMatchObject({ eventName: 'INSERT', dynamodb: { Keys: { pk: { S: 'C#e2' } }, NewImage: { sk: { S: 'conversion' }, status: { S: 'accepted' } } } });
    const second = records(first.body.NextShardIterator, 10);
    expect((second.body.Records as DynamoDBRecord[]).map((r) => r.dynamodb!.Keys!.pk.S)).toEqual(['C#e3']);
    // Past the newest record: an empty page and an iterator to go on with (the shard is open).
    const third = records(second.body.NextShardIterator);
    expect(third.body.Records).toEqual([]);
    expect(third.body.NextShardIterator).toBeTruthy();
    expect(records(iterator(seqOf(1), 'AFTER_SEQUENCE_NUMBER').body.ShardIterator).body.Records).toHaveLength(2);
  });

  it('refuses a trimmed position, an expired iterator, and another shard or stream, with DynamoDB Streams’ error names', async () => {
    append('e1');
    const it = iterator(seqOf(1)).body.ShardIterator;
    expect(records(it, 10, Date.now() + 16 * 60_000)).toMatchObject({ status: 400, body: { __type: expect.stringMatching(/#ExpiredIteratorException$/) } });
    await poller().p.drain();
    compactJournal(journalFile, checkpointFile, Date.now() + STREAM_RETENTION_MS + 60_000);
    expect(iterator(seqOf(1)).body.__type).toMatch(/#TrimmedDataAccessException$/);
    expect(records(it).body.__type).toMatch(/#TrimmedDataAccessException$/);
    const otherShard = streamsApiAnswer(journalFile, 'GetShardIterator', { StreamArn: arn, ShardId: 'shardId-00000000000000000001-00000000', ShardIteratorType: 'TRIM_HORIZON' });
    expect(otherShard.body.__type).toMatch(/#ResourceNotFoundException$/);
    const otherStream = streamsApiAnswer(journalFile, 'GetShardIterator', { StreamArn: arn.replace('ledger', 'visitors'), ShardId: LOCAL_SHARD_ID, ShardIteratorType: 'TRIM_HORIZON' });
    expect(otherStream.body.__type).toMatch(/#ResourceNotFoundException$/);
  });

  it('describes a given-up batch as Lambda does: its range in the stream, no keys', async () => {
    append('e1', 'e2', 'e3');
    const given: DynamoDBRecord[][] = [];
    const { p } = poller(
      async (e) => {
        if (idsOf(e).includes('e2')) throw new Error('queue gone');
        return { batchItemFailures: [] };
      },
      { maxRetries: 3, onFailure: async (recs) => void given.push(recs) },
    );
    await p.drain();
    // Bisected down to e2 alone before giving up: e1 and e3 went through.
    expect(given.map((g) => g.map((r) => r.dynamodb!.Keys!.pk.S))).toEqual([['C#e2']]);
    const record = streamBatchFailureRecord(given[0], { functionName: 'fan-out', invokeCount: 2, functionError: true, now: new Date('2026-12-03T10:00:00Z'), requestId: 'r1' });
    expect(record).toEqual({
      requestContext: { requestId: 'r1', functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fan-out', condition: 'RetryAttemptsExhausted', approximateInvokeCount: 2 },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: '2026-12-03T10:00:00.000Z',
      DDBStreamBatchInfo: {
        shardId: LOCAL_SHARD_ID,
        startSequenceNumber: given[0][0].dynamodb!.SequenceNumber,
        endSequenceNumber: given[0].at(-1)!.dynamodb!.SequenceNumber,
        approximateArrivalOfFirstRecord: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        approximateArrivalOfLastRecord: expect.stringMatching(/Z$/),
        batchSize: given[0].length,
        streamArn: arn,
      },
    });
    expect(JSON.stringify(record)).not.toContain('C#e2');
  });
});
