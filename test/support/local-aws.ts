import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FAN_OUT_FAILURES_ENV, dlqUrlEnv, queueUrlEnv } from '../../functions/core/names.ts';
import { FAN_OUT_ENTRY, destinations } from '../../functions/registry.ts';
import { startLocalDynamo, type LocalDynamo } from '../../lib/local/dynamo.ts';
import { StreamPoller, type StreamHandler } from '../../lib/local/stream.ts';

/**
 * A queue and a DLQ per registered destination on the local SQS server, and the fan-out's failure queue, their URLs
 * in the handlers' environment (the fan-out puts each conversion on every queue it is routed to).
 */
export async function createDestinationQueues(sqsUrl: string): Promise<SQSClient> {
  const sqs = new SQSClient({ endpoint: sqsUrl, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  for (const d of destinations) {
    process.env[dlqUrlEnv(d.name)] = (await sqs.send(new CreateQueueCommand({ QueueName: `${d.name}-dlq` }))).QueueUrl!;
    process.env[queueUrlEnv(d.name)] = (await sqs.send(new CreateQueueCommand({ QueueName: d.name }))).QueueUrl!;
  }
  process.env[FAN_OUT_FAILURES_ENV] = (await sqs.send(new CreateQueueCommand({ QueueName: 'fan-out-failures' }))).QueueUrl!;
  return sqs;
}

export interface LocalLedger {
  dynamo: LocalDynamo;
  /** Runs the fan-out (the real handler) over every conversion committed so far, as the ledger's stream would. */
  fanOut(): Promise<void>;
  close(): Promise<void>;
}

/**
 * dynalite (in memory) with the ledger's stream emulated as the local runner does it (lib/local/stream.ts). The
 * fan-out handler is imported on first use: by then the test has set the queues' environment.
 */
export async function startLocalLedger(): Promise<LocalLedger> {
  const dir = mkdtempSync(path.join(tmpdir(), 'relay-ledger-stream-'));
  const journalFile = path.join(dir, 'ledger-stream.jsonl');
  const dynamo = await startLocalDynamo(undefined, 'us-east-1', { streamJournal: journalFile });
  let poller: StreamPoller | undefined;
  return {
    dynamo,
    async fanOut() {
      poller ??= new StreamPoller({
        journalFile,
        checkpointFile: path.join(dir, 'ledger-stream.checkpoint'),
        handler: (await import(new URL(`../../${FAN_OUT_ENTRY}`, import.meta.url).href)).handler as StreamHandler,
        context: () => ({ awsRequestId: 'fan-out', functionName: 'fan-out', getRemainingTimeInMillis: () => 30_000 }) as unknown as Context,
        maxRetries: 0,
        onFailure: async (records, reason) => {
          throw new Error(`fan-out failed for ${records.length} record(s): ${reason}`);
        },
      });
      await poller.drain();
    },
    async close() {
      await dynamo.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
