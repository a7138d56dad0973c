import { SQSClient, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Route } from '#core/ingest.ts';
import { queueUrlEnv } from '#core/names.ts';
import { conversionItem } from '#store/ingest-store.ts';
import { sendConversions, type ConversionMessage } from '#store/queues.ts';
import { wireImage } from '../../lib/local/stream.ts';
import { conversionFactory } from '../../test/support/factories.ts';
import { fanOut, type FanOutPorts, type UnreadableRecord } from './fan-out.ts';

const queued = (...names: string[]): Route[] => names.map((destination) => ({ destination, status: 'queued' }));

/** An INSERT of a conversion item as the ledger's stream delivers it (NEW_IMAGE, DynamoDB JSON: binary as base64). */
function insert(eventId: string, routes: Route[], seq: number): DynamoDBRecord {
  const image = wireImage(conversionItem(conversionFactory({ eventId, orderId: eventId }), routes, 'inv-1', Date.now()));
  return {
    eventName: 'INSERT',
    eventSource: 'aws:dynamodb',
    dynamodb: { Keys: { pk: image.pk, sk: image.sk } as never, NewImage: image as never, SequenceNumber: String(seq).padStart(21, '0'), StreamViewType: 'NEW_IMAGE' },
  };
}
const batch = (...records: DynamoDBRecord[]): DynamoDBStreamEvent => ({ Records: records });

/** Queues in memory; a destination can be made to refuse some conversions (by event ID) or everything. */
function fakeQueues() {
  const sent = new Map<string, ConversionMessage[]>();
  const refuse = new Map<string, (m: ConversionMessage) => boolean>();
  const reported: UnreadableRecord[] = [];
  const calls: { destination: string; count: number }[] = [];
  const ports: FanOutPorts = {
    async send(destination, messages) {
      calls.push({ destination, count: messages.length });
      const retry = new Set<number>();
      messages.forEach((m, i) => (refuse.get(destination)?.(m) ? retry.add(i) : sent.set(destination, [...(sent.get(destination) ?? []), m])));
      return { retry, refused: new Map<number, string>() };
    },
    async reportUnreadable(records) {
      reported.push(...records);
    },
  };
  return { ports, sent, refuse, reported, calls };
}

describe('fan-out (ledger stream → destination queues)', () => {
  it('puts each conversion on the queue of every destination it is queued for, with the body as the ledger holds it', async () => {
    const q = fakeQueues();
    const records = [insert('e1', queued('meta', 'ga4'), 1), insert('e2', [...queued('meta'), { destination: 'tiktok', status: 'skipped', reason: 'no consent' }], 2)];

    const res = await fanOut(q.ports)(batch(...records));

    expect(res.batchItemFailures).toEqual([]);
    expect(q.sent.get('meta')!.map((m) => m.conversionId)).toEqual(['e1', 'e2']);
    expect(q.sent.get('ga4')!.map((m) => m.conversionId)).toEqual(['e1']);
    expect(q.sent.has('tiktok')).toBe(false);
    expect(JSON.parse(q.sent.get('ga4')![0].body)).toEqual(conversionFactory({ eventId: 'e1', orderId: 'e1' }));
    // One send per destination for the whole batch.
    expect(q.calls).toEqual([{ destination: 'meta', count: 2 }, { destination: 'ga4', count: 1 }]);
  });

  it('reports the records whose messages were not all queued (by sequence number), so Lambda retries from the first', async () => {
    const q = fakeQueues();
    q.refuse.set('ga4', (m) => m.conversionId === 'e2');
    const records = [insert('e1', queued('meta', 'ga4'), 1), insert('e2', queued('meta', 'ga4'), 2), insert('e3', queued('meta'), 3)];

    const res = await fanOut(q.ports)(batch(...records));

    expect(res.batchItemFailures).toEqual([{ itemIdentifier: records[1].dynamodb!.SequenceNumber }]);
  });

  it('puts a record whose message a queue refused as sent on the failure queue with the reason, without retrying it', async () => {
    const q = fakeQueues();
    const ports: FanOutPorts = {
      ...q.ports,
      send: async (d, m) => (d === 'ga4' ? { retry: new Set(), refused: new Map([[0, 'InvalidMessageContents: Invalid binary character']]) } : q.ports.send(d, m)),
    };
    const records = [insert('e1', queued('meta', 'ga4'), 1)];

    const res = await fanOut(ports)(batch(...records));

    expect(res.batchItemFailures).toEqual([]);
    expect(q.sent.get('meta')!.map((m) => m.conversionId)).toEqual(['e1']);
    expect(q.reported).toEqual([{ reason: 'the ga4 queue refused the message: InvalidMessageContents: Invalid binary character', destination: 'ga4', pk: 'C#e1', sk: 'conversion', sequenceNumber: records[0].dynamodb!.SequenceNumber }]);
  });

  it('fails every record bound for a destination whose send throws (no queue for it)', async () => {
    const q = fakeQueues();
    const ports: FanOutPorts = { ...q.ports, send: async (d, m) => (d === 'x' ? Promise.reject(new Error('RELAY_QUEUE_URL_X is not set')) : q.ports.send(d, m)) };
    const records = [insert('e1', queued('meta'), 1), insert('e2', queued('x'), 2), insert('e3', queued('x', 'meta'), 3)];

    const res = await fanOut(ports)(batch(...records));

    expect(res.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([records[1].dynamodb!.SequenceNumber, records[2].dynamodb!.SequenceNumber]);
  });

  it('puts a record that is no conversion item on the failure queue with the reason, and does not retry it', async () => {
    const q = fakeQueues();
    const broken = insert('e2', queued('meta'), 2);
    delete (broken.dynamodb!.NewImage as Record<string, AttributeValue>).c;

    const res = await fanOut(q.ports)(batch(insert('e1', queued('meta'), 1), broken));

    expect(res.batchItemFailures).toEqual([]);
    expect(q.reported).toEqual([{ reason: 'conversion item C#e2 lacks conversion', pk: 'C#e2', sk: 'conversion', sequenceNumber: broken.dynamodb!.SequenceNumber }]);
    expect(q.sent.get('meta')!.map((m) => m.conversionId)).toEqual(['e1']);
  });

  it('puts a record whose Conversion bytes are corrupt on the failure queue, saying why', async () => {
    const q = fakeQueues();
    const broken = insert('e3', queued('meta'), 3);
    (broken.dynamodb!.NewImage as Record<string, { B?: string }>).c = { B: Buffer.from([1, 2, 3, 4]).toString('base64') };

    const res = await fanOut(q.ports)(batch(broken));

    expect(res.batchItemFailures).toEqual([]);
    expect(q.reported).toHaveLength(1);
    expect(q.reported[0]).toMatchObject({ pk: 'C#e3' });
    expect(q.reported[0].reason.length).toBeGreaterThan(0);
    expect(q.sent.get('meta') ?? []).toEqual([]);
  });

  it('retries an unreadable record when the failure queue cannot take it either', async () => {
    const q = fakeQueues();
    const broken = insert('e1', queued('meta'), 1);
    delete (broken.dynamodb!.NewImage as Record<string, AttributeValue>).r;

    const res = await fanOut({ ...q.ports, reportUnreadable: () => Promise.reject(new Error('SQS down')) })(batch(broken));

    expect(res.batchItemFailures).toEqual([{ itemIdentifier: broken.dynamodb!.SequenceNumber }]);
  });
});

describe('sendConversions (one destination queue)', () => {
  const sqs = mockClient(SQSClient);
  beforeEach(() => {
    sqs.reset();
    process.env[queueUrlEnv('meta')] = 'https://sqs.local/meta';
  });
  const messages = (n: number): ConversionMessage[] => Array.from({ length: n }, (_, i) => ({ conversionId: `e${i}`, eventName: 'Purchase', body: `{"eventId":"e${i}"}` }));

  it('sends ten per SendMessageBatch, with the attributes the senders read', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });

    expect(await sendConversions('meta', messages(23), new SQSClient({}))).toEqual({ retry: new Set(), refused: new Map() });

    expect(sqs).toHaveReceivedCommandTimes(SendMessageBatchCommand, 3);
    const first = sqs.commandCalls(SendMessageBatchCommand)[0].args[0].input;
    expect(first.QueueUrl).toBe('https://sqs.local/meta');
    expect(first.Entries).toHaveLength(10);
    expect(first.Entries![0]).toEqual({
      Id: '0',
      MessageBody: '{"eventId":"e0"}',
      MessageAttributes: {
        destination: { DataType: 'String', StringValue: 'meta' },
        conversionId: { DataType: 'String', StringValue: 'e0' },
        eventName: { DataType: 'String', StringValue: 'Purchase' },
      },
    });
  });

  it('answers the indexes to retry: failed entries on SQS’s side and every entry of a failed request', async () => {
    sqs.on(SendMessageBatchCommand).resolvesOnce({ Failed: [{ Id: '3', Code: 'InternalError', SenderFault: false }] }).rejectsOnce(new Error('timeout'));

    const outcome = await sendConversions('meta', messages(12), new SQSClient({}));
    expect([...outcome.retry].sort((a, b) => a - b)).toEqual([3, 10, 11]);
    expect(outcome.refused.size).toBe(0);
  });

  it('answers the entries SQS refused as sent (SenderFault) apart, with its reason: they are not retried', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Failed: [{ Id: '1', Code: 'InvalidMessageContents', Message: 'Invalid binary character', SenderFault: true }] });

    const outcome = await sendConversions('meta', messages(2), new SQSClient({}));
    expect(outcome.retry.size).toBe(0);
    expect(outcome.refused).toEqual(new Map([[1, 'InvalidMessageContents: Invalid binary character']]));
  });
});
