import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { queueConsumerClient, startEmulatorThread } from './emulators.ts';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const dir = mkdtempSync(path.join(tmpdir(), 'relay-emulators-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('emulator worker threads', () => {
  it('the SQS server runs on its own thread, keeps its journal, and its thread ends on close', async () => {
    const dataFile = path.join(dir, 'sqs.journal');
    const first = await startEmulatorThread({ kind: 'sqs', options: { dataFile, region: 'us-east-1' } });
    const sqs = new SQSClient({ endpoint: first.url, region: 'us-east-1', credentials });
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'meta' }));
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'kept' }));
    const exited = new Promise<number>((r) => first.worker.once('exit', r));
    await first.close();
    await exited; // resolves only once the thread has really ended
    sqs.destroy();

    const second = await startEmulatorThread({ kind: 'sqs', options: { dataFile, region: 'us-east-1' } });
    const again = new SQSClient({ endpoint: second.url, region: 'us-east-1', credentials });
    const got = await again.send(new ReceiveMessageCommand({ QueueUrl: `${second.url}/000000000000/meta`, MaxNumberOfMessages: 10 }));
    expect(got.Messages?.map((m) => m.Body)).toEqual(['kept']);
    again.destroy();
    await second.close();
  });

  it("serves the runner's pollers through a port: a batch received and deleted across threads", async () => {
    const thread = await startEmulatorThread({ kind: 'sqs', options: { region: 'us-east-1' } });
    const sqs = new SQSClient({ endpoint: thread.url, region: 'us-east-1', credentials });
    try {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'meta' }));
      const consumer = queueConsumerClient(thread.consumerPort());
      const batch = consumer.receiveBatch({ queueUrl: QueueUrl!, max: 10, visibilitySeconds: 30, waitMs: 5000, windowMs: 50 });
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'across', MessageAttributes: { destination: { DataType: 'String', StringValue: 'meta' } } }));
      const got = await batch;
      expect(got.map((m) => [m.Body, m.MessageAttributes?.destination?.StringValue])).toEqual([['across', 'meta']]);
      await consumer.deleteBatch(QueueUrl!, got.map((m) => m.ReceiptHandle));
      // A poller passes one signal to every receive: none of them leaves a listener on it.
      const pollerSignal = new AbortController().signal;
      for (let i = 0; i < 12; i++) await consumer.receiveBatch({ queueUrl: QueueUrl!, max: 10, visibilitySeconds: 30, waitMs: 0, windowMs: 0 }, pollerSignal);
      expect(getEventListeners(pollerSignal, 'abort')).toHaveLength(0);
      // A call the thread refuses comes back as an error, not a hang.
      await expect(consumer.receiveBatch({ queueUrl: `${thread.url}/000000000000/none`, max: 1, visibilitySeconds: 1, waitMs: 0, windowMs: 0 })).rejects.toThrow(/does not exist/);
    } finally {
      sqs.destroy();
      await thread.close();
    }
  });

  it('dynalite runs on its own thread with the relay tables on disk, and reopens them after close', async () => {
    const tables = async () => {
      const t = await startEmulatorThread({ kind: 'dynamodb', dir: path.join(dir, 'dynamodb'), region: 'us-east-1' });
      const ddb = new DynamoDBClient({ endpoint: t.url, region: 'us-east-1', credentials });
      const names = (await ddb.send(new ListTablesCommand({}))).TableNames;
      ddb.destroy();
      await t.close();
      return names;
    };
    expect(await tables()).toEqual(['ledger', 'visitors']);
    // A second start finds the tables on disk (leveldb's lock was released by the first thread's close).
    expect(await tables()).toEqual(['ledger', 'visitors']);
  });

  it('a start that fails is reported, not hung', async () => {
    const notADirectory = path.join(dir, 'plain-file');
    writeFileSync(notADirectory, '');
    await expect(startEmulatorThread({ kind: 'sqs', options: { dataFile: path.join(notADirectory, 'sqs.journal'), region: 'us-east-1' } })).rejects.toThrow(/sqs emulator: (EEXIST|ENOTDIR)/);
  });
});
