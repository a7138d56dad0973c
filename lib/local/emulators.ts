import { fileURLToPath } from 'node:url';
import { isMainThread, MessageChannel, parentPort, Worker, workerData, type MessagePort } from 'node:worker_threads';
import { startLocalDynamo } from './dynamo.ts';
import { startSqsServer, type BatchReceive, type QueueConsumer, type ReceivedMessage, type SqsServerOptions } from './sqs-server.ts';

/**
 * The local runner's emulators (dynalite, the SQS-compatible server), each on its own worker thread: their CPU
 * (request parsing, leveldb, the journal's writes) then runs beside the handlers on the main thread instead of
 * queueing behind them, so the runner uses more than one core. Threads die with the process, so a crash or
 * SIGKILL never leaves an emulator holding the data directory's files.
 *
 * Besides its HTTP endpoint (what the handlers, the CLI and the tests talk to), the SQS thread serves the runner's
 * queue pollers over a message port (`consumerPort()`, read with `queueConsumerClient`): a batch is one message each
 * way instead of a ReceiveMessage and a DeleteMessageBatch per ten messages through the SDK — its signing,
 * serialization and HTTP were most of what the pollers cost.
 */
export type EmulatorSpec = { kind: 'dynamodb'; dir?: string; region: string; streamJournal?: string } | { kind: 'sqs'; options: SqsServerOptions };

export interface EmulatorThread {
  url: string;
  /** Stops the emulator (its server closed, its files flushed and closed), then the thread. */
  close(): Promise<void>;
  worker: Worker;
  /**
   * The SQS emulator: a new port to its queues for the runner's pollers (lib/local/sqs-server.ts QueueConsumer),
   * to hand to any thread, which reads it with `queueConsumerClient`.
   */
  consumerPort(): MessagePort;
}

export interface EmulatorThreadOptions {
  /** DynamoDB with a stream journal: called when records were appended to it (at most once per turn of the thread's loop). */
  onStreamAppend?: () => void;
}

type FromWorker = { type: 'listening'; url: string } | { type: 'closed' } | { type: 'failed'; message: string } | { type: 'stream-appended' };
type ToWorker = { type: 'close' } | { type: 'consumer-port'; port: MessagePort };
/** The queue consumer's calls over a port, and their answers. */
type ConsumerCall =
  | { type: 'receive'; id: number; request: BatchReceive }
  | { type: 'delete'; id: number; queueUrl: string; receiptHandles: string[] }
  | { type: 'cancel'; id: number };
type ConsumerAnswer = { id: number; value?: unknown; error?: string };

const WORKER_ENTRY = fileURLToPath(new URL('./emulator-worker.mjs', import.meta.url));

export function startEmulatorThread(spec: EmulatorSpec, opts: EmulatorThreadOptions = {}): Promise<EmulatorThread> {
  // Only a CPU profile's flags are passed on (`--cpu-prof` profiles each thread); the entry registers tsx itself.
  const worker = new Worker(WORKER_ENTRY, { workerData: { emulator: spec }, execArgv: process.execArgv.filter((a) => a.startsWith('--cpu-prof')) });
  return new Promise((resolve, reject) => {
    let closing: ((value: void) => void) | undefined;
    const exited = new Promise<void>((r) => worker.once('exit', () => r()));
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'stream-appended') opts.onStreamAppend?.();
      else if (m.type === 'failed') reject(new Error(`${spec.kind} emulator: ${m.message}`));
      else if (m.type === 'closed') closing?.();
      else
        resolve({
          url: m.url,
          worker,
          consumerPort() {
            const { port1, port2 } = new MessageChannel();
            worker.postMessage({ type: 'consumer-port', port: port1 } satisfies ToWorker, [port1]);
            return port2;
          },
          async close() {
            await new Promise<void>((r) => {
              closing = r;
              worker.postMessage({ type: 'close' } satisfies ToWorker);
            });
            await worker.terminate();
            await exited;
          },
        });
    });
    worker.once('error', (err) => reject(new Error(`${spec.kind} emulator thread failed: ${err.message}`)));
    worker.once('exit', (code) => reject(new Error(`${spec.kind} emulator thread exited (${code}) before listening`)));
  });
}

/** The queue consumer behind a port from `consumerPort()`, in whichever thread holds the port. */
export function queueConsumerClient(port: MessagePort): QueueConsumer {
  const calls = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  port.on('message', (m: ConsumerAnswer) => {
    const pending = calls.get(m.id);
    calls.delete(m.id);
    if (m.error !== undefined) pending?.reject(new Error(m.error));
    else pending?.resolve(m.value);
  });
  // A pending call holds the thread open; an idle port does not.
  port.unref();
  const call = <T>(message: ConsumerCall): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      calls.set(message.id, { resolve, reject });
      port.postMessage(message);
    });
  return {
    async receiveBatch(request, signal) {
      const id = ++nextId;
      // The poller's signal lives as long as the poller: the listener goes with the call, or they would pile up.
      const cancel = () => port.postMessage({ type: 'cancel', id } satisfies ConsumerCall);
      signal?.addEventListener('abort', cancel, { once: true });
      try {
        return await call<ReceivedMessage[]>({ type: 'receive', id, request });
      } finally {
        signal?.removeEventListener('abort', cancel);
      }
    },
    deleteBatch(queueUrl, receiptHandles) {
      return call<void>({ type: 'delete', id: ++nextId, queueUrl, receiptHandles });
    },
  };
}

/** The SQS thread's end of a consumer port: each call run on the server's consumer, its answer posted back. */
function serveConsumer(port: MessagePort, consumer: QueueConsumer, cancels: Map<number, AbortController>): void {
  const answer = async (id: number, work: () => unknown) => {
    try {
      port.postMessage({ id, value: await work() } satisfies ConsumerAnswer);
    } catch (err) {
      port.postMessage({ id, error: (err as Error).message } satisfies ConsumerAnswer);
    }
  };
  port.on('message', async (m: ConsumerCall) => {
    if (m.type === 'receive') {
      const abort = new AbortController();
      cancels.set(m.id, abort);
      await answer(m.id, () => consumer.receiveBatch(m.request, abort.signal));
      cancels.delete(m.id);
    } else if (m.type === 'delete') await answer(m.id, () => consumer.deleteBatch(m.queueUrl, m.receiptHandles));
    else cancels.get(m.id)?.abort();
  });
}

async function serve(spec: EmulatorSpec): Promise<void> {
  const port = parentPort!;
  try {
    // One message per turn of this thread's loop however many puts it committed in it: the poller reads them all.
    let appendSignalled = false;
    const onStreamAppend = () => {
      if (appendSignalled) return;
      appendSignalled = true;
      setImmediate(() => {
        appendSignalled = false;
        port.postMessage({ type: 'stream-appended' } satisfies FromWorker);
      });
    };
    const server =
      spec.kind === 'dynamodb' ? await startLocalDynamo(spec.dir, spec.region, { streamJournal: spec.streamJournal, onStreamAppend }) : await startSqsServer(spec.options);
    // Receives waiting on any consumer port (ids are per port, so one map per port), cancelled on close.
    const waiting: Map<number, AbortController>[] = [];
    port.on('message', async (m: ToWorker) => {
      if (m.type === 'consumer-port') {
        if (!('consumer' in server)) throw new Error('only the SQS emulator serves a queue consumer');
        const cancels = new Map<number, AbortController>();
        waiting.push(cancels);
        serveConsumer(m.port, server.consumer, cancels);
        return;
      }
      for (const cancels of waiting) for (const c of cancels.values()) c.abort();
      await server.close();
      port.postMessage({ type: 'closed' } satisfies FromWorker);
    });
    port.postMessage({ type: 'listening', url: server.url } satisfies FromWorker);
  } catch (err) {
    port.postMessage({ type: 'failed', message: (err as Error).message } satisfies FromWorker);
  }
}

if (!isMainThread && workerData?.emulator) await serve(workerData.emulator as EmulatorSpec);
