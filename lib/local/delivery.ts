import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData, type MessagePort } from 'node:worker_threads';
import { FAN_OUT_BATCH_SIZE, FAN_OUT_RETRY_ATTEMPTS } from '../../functions/core/names.ts';
import { destinationDefinitions } from '../../functions/destinations/definitions.ts';
import { FAN_OUT_ENTRY, destinationEntry } from '../../functions/registry.ts';
import { PROJECT_ROOT } from '../project-root.ts';
import { queueConsumerClient } from './emulators.ts';
import { LOCAL_REGION, lambdaContext } from './lambda-context.ts';
import type { QueueConsumer, ReceivedMessage } from './sqs-server.ts';
import { StreamPoller, streamBatchFailureRecord, type StreamHandler } from './stream.ts';

/**
 * The local runner's delivery side — what Lambda's event source mappings run: the fan-out on the ledger stream and
 * each destination's sender on its queue — on a thread of its own, so the HTTP functions (webhooks, /collect) have
 * the main thread to themselves and a burst of deliveries never holds an answer to a webhook back. Like a Lambda
 * function's execution environment, the thread imports its own copy of the handlers (and of the logger and metrics
 * they share). It reads the queues through the SQS thread's consumer port and the stream from its journal file;
 * everything it knows is on disk or in the emulators, so a crash anywhere is recovered as before.
 */
export interface DeliverySpec {
  /** Each destination's queue URL. */
  queues: Record<string, string>;
  fanOutFailuresUrl: string;
  streamJournal: string;
  streamCheckpoint: string;
  /** false: the ledger stream is not read (the stack's mapping disabled); the senders still run. */
  fanOut: boolean;
  /** A sender poller's batching window. */
  batchingWindowMs: number;
  /** The ledger stream's batching window. */
  streamBatchingWindowMs: number;
  visibilitySeconds: number;
  /** First retry delay of a failing stream batch (StreamPoller's default unless given; tests shorten it). */
  fanOutRetryBaseMs?: number;
}

export interface Delivery {
  /** New records in the stream journal: the fan-out's poller reads now. */
  notifyStream(): void;
  /** Stops every poller (an invocation under way finishes first). */
  stop(): Promise<void>;
}

type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
const load = async <T>(entry: string): Promise<T> => (await import(pathToFileURL(path.join(PROJECT_ROOT, entry)).href)).handler as T;

/** The fan-out's and the senders' pollers, started; in the thread that calls it (the delivery thread, below). */
export async function runDelivery(spec: DeliverySpec, queue: QueueConsumer, log: (line: string) => void): Promise<Delivery> {
  const pollers: Poller[] = [];
  for (const d of destinationDefinitions) {
    const handler = await load<SqsHandler>(destinationEntry(d.name));
    pollers.push(new Poller(queue, d.name, spec.queues[d.name], Math.min(d.maxBatchSize, 10_000), spec.batchingWindowMs, spec.visibilitySeconds, handler, log));
  }
  const sqs = new SQSClient({ region: LOCAL_REGION });
  // The stream event source mapping of the stack (lib/constructs/fan-out.ts): same batch size and retries; the
  // failure queue gets what Lambda's on-failure destination would (the batch's place in the stream, no keys), which
  // `conversion-relay replay --fan-out-failures` reads back from the journal as it reads Lambda's from the stream.
  const fanOut = new StreamPoller({
    journalFile: spec.streamJournal,
    checkpointFile: spec.streamCheckpoint,
    handler: await load<StreamHandler>(FAN_OUT_ENTRY),
    context: () => lambdaContext('fan-out'),
    batchSize: FAN_OUT_BATCH_SIZE,
    maxRetries: FAN_OUT_RETRY_ATTEMPTS,
    // Woken on each append (notifyStream); the poll only backs that up.
    pollMs: 1000,
    batchWindowMs: spec.streamBatchingWindowMs,
    region: LOCAL_REGION,
    log,
    ...(spec.fanOutRetryBaseMs !== undefined ? { retryBaseMs: spec.fanOutRetryBaseMs } : {}),
    onFailure: async (records, _reason, last) => {
      const body = streamBatchFailureRecord(records, { functionName: 'fan-out', region: LOCAL_REGION, ...last });
      await sqs.send(new SendMessageCommand({ QueueUrl: spec.fanOutFailuresUrl, MessageBody: JSON.stringify(body) }));
    },
  });
  for (const p of pollers) p.start();
  if (spec.fanOut) fanOut.start();
  return {
    notifyStream: () => fanOut.notify(),
    async stop() {
      await Promise.all([fanOut.stop(), ...pollers.map((p) => p.stop())]);
      sqs.destroy();
    },
  };
}

export interface DeliveryThread {
  notifyStream(): void;
  /** Stops the pollers (invocations under way finish), then the thread. */
  close(): Promise<void>;
  worker: Worker;
}

type ToThread = { type: 'stream-appended' } | { type: 'stop' };
type FromThread = { type: 'ready' } | { type: 'stopped' } | { type: 'failed'; message: string } | { type: 'log'; line: string };
const THREAD_ENTRY = fileURLToPath(new URL('./emulator-worker.mjs', import.meta.url));
const THIS_MODULE = import.meta.url;

/**
 * The delivery thread, with the environment as it is now (the handlers read their queue URLs and endpoints from it
 * at import) and `consumerPort` (the SQS thread's consumerPort()) for its pollers; its log lines go to `log`.
 */
export function startDeliveryThread(spec: DeliverySpec, consumerPort: MessagePort, log: (line: string) => void): Promise<DeliveryThread> {
  const worker = new Worker(THREAD_ENTRY, {
    workerData: { module: THIS_MODULE, delivery: spec, consumerPort },
    transferList: [consumerPort],
    env: { ...process.env },
    execArgv: process.execArgv.filter((a) => a.startsWith('--cpu-prof')),
  });
  return new Promise((resolve, reject) => {
    let stopped: (() => void) | undefined;
    const exited = new Promise<void>((r) => worker.once('exit', () => r()));
    const post = (m: ToThread) => worker.postMessage(m);
    worker.on('message', (m: FromThread) => {
      if (m.type === 'log') log(m.line);
      else if (m.type === 'failed') reject(new Error(`delivery thread: ${m.message}`));
      else if (m.type === 'stopped') stopped?.();
      else
        resolve({
          worker,
          notifyStream: () => post({ type: 'stream-appended' }),
          async close() {
            await new Promise<void>((r) => {
              stopped = r;
              post({ type: 'stop' });
            });
            await worker.terminate();
            await exited;
          },
        });
    });
    worker.once('error', (err) => reject(new Error(`delivery thread failed: ${err.message}`)));
    worker.once('exit', (code) => reject(new Error(`delivery thread exited (${code}) before it was ready`)));
  });
}

async function serveDelivery(): Promise<void> {
  const port = parentPort!;
  const log = (line: string) => port.postMessage({ type: 'log', line } satisfies FromThread);
  try {
    const delivery = await runDelivery(workerData.delivery as DeliverySpec, queueConsumerClient(workerData.consumerPort as MessagePort), log);
    port.on('message', async (m: ToThread) => {
      if (m.type === 'stream-appended') delivery.notifyStream();
      else {
        await delivery.stop();
        port.postMessage({ type: 'stopped' } satisfies FromThread);
      }
    });
    port.postMessage({ type: 'ready' } satisfies FromThread);
  } catch (err) {
    port.postMessage({ type: 'failed', message: (err as Error).message } satisfies FromThread);
  }
}


/**
 * What Lambda's SQS event source mapping does: gather a batch (up to the batch size, within the batching window),
 * invoke the sender, delete what it did not report as failed. A failed or crashed invocation leaves the messages
 * for SQS to hand out again after their visibility timeout. It reads the queue through the SQS thread's consumer
 * port (the same receive as ReceiveMessage, without the SDK and HTTP per ten messages: lib/local/emulators.ts).
 */
class Poller {
  private running = false;
  private loop?: Promise<void>;
  private abort = new AbortController();

  constructor(
    private readonly queue: QueueConsumer,
    private readonly name: string,
    private readonly queueUrl: string,
    private readonly batchSize: number,
    private readonly windowMs: number,
    private readonly visibility: number,
    private readonly handler: SqsHandler,
    private readonly log: (line: string) => void,
  ) {}

  start() {
    this.running = true;
    this.loop = this.run();
  }

  async stop() {
    this.running = false;
    this.abort.abort();
    await this.loop;
  }

  private async run() {
    while (this.running) {
      try {
        const batch = await this.gather();
        if (batch.length && this.running) await this.invoke(batch);
      } catch (err) {
        if (!this.running) return;
        this.log(`local runner: poller ${this.name}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /**
   * A long poll for the first message, then the batching window: the batch goes when full or when the window ends
   * (as the stack's mapping does with MaximumBatchingWindowInSeconds), so a busy queue is delivered in few batches.
   */
  private gather(): Promise<ReceivedMessage[]> {
    return this.queue.receiveBatch(
      { queueUrl: this.queueUrl, max: this.batchSize, visibilitySeconds: this.visibility, waitMs: 1000, windowMs: this.windowMs },
      this.abort.signal,
    );
  }

  private async invoke(batch: ReceivedMessage[]) {
    const arn = `arn:aws:sqs:${LOCAL_REGION}:000000000000:${this.name}`;
    const event: SQSEvent = {
      Records: batch.map((m) => ({
        messageId: m.MessageId!,
        receiptHandle: m.ReceiptHandle!,
        body: m.Body ?? '',
        attributes: {
          ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
          SentTimestamp: m.Attributes?.SentTimestamp ?? String(Date.now()),
          SenderId: 'local',
          ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
        },
        messageAttributes: Object.fromEntries(
          Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [
            k,
            { dataType: v.DataType ?? 'String', stringValue: v.StringValue, ...(v.BinaryValue !== undefined ? { binaryValue: v.BinaryValue } : {}), stringListValues: [], binaryListValues: [] },
          ]),
        ),
        md5OfBody: m.MD5OfBody ?? '',
        eventSource: 'aws:sqs',
        eventSourceARN: arn,
        awsRegion: LOCAL_REGION,
      })),
    };
    let failed: Set<string>;
    try {
      const res = await this.handler(event, lambdaContext(`send-${this.name}`));
      failed = new Set((res?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (err) {
      this.log(`local runner: sender ${this.name} threw; ${batch.length} messages will be retried: ${(err as Error).message}`);
      return;
    }
    const done = batch.filter((m) => !failed.has(m.MessageId!));
    if (done.length) await this.queue.deleteBatch(this.queueUrl, done.map((m) => m.ReceiptHandle!));
  }
}

// Last: the thread's work starts once everything above (the Poller class too) is defined.
if (!isMainThread && workerData?.delivery) await serveDelivery();
