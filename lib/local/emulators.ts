import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { startLocalDynamo } from './dynamo.ts';
import { startSqsServer, type BatchReceive, type QueueConsumer, type ReceivedMessage, type SqsServerOptions } from './sqs-server.ts';

/**
 * The local runner's emulators (dynalite, the SQS-compatible server), each on its own worker thread: their CPU
 * (request parsing, leveldb, the journal's writes) then runs beside the handlers on the main thread instead of
 * queueing behind them, so the runner uses more than one core. Threads die with the process, so a crash or
 * SIGKILL never leaves an emulator holding the data directory's files.
 *
 * Besides its HTTP endpoint (what the handlers, the CLI and the tests talk to), the SQS thread serves the runner's
 * queue pollers over the thread's message port (`consumer`): a batch is one message each way instead of a
 * ReceiveMessage and a DeleteMessageBatch per ten messages through the SDK — its signing, serialization and HTTP
 * were most of what the pollers cost the main thread.
 */
export type EmulatorSpec = { kind: 'dynamodb'; dir?: string; region: string; streamJournal?: string } | { kind: 'sqs'; options: SqsServerOptions };

export interface EmulatorThread {
  url: string;
  /** Stops the emulator (its server closed, its files flushed and closed), then the thread. */
  close(): Promise<void>;
  worker: Worker;
  /** The SQS emulator's queues for the runner's pollers (lib/local/sqs-server.ts QueueConsumer), across the thread. */
  consumer: QueueConsumer;
}

export interface EmulatorThreadOptions {
  /** DynamoDB with a stream journal: called when records were appended to it (at most once per turn of the thread's loop). */
  onStreamAppend?: () => void;
}

type FromWorker =
  | { type: 'listening'; url: string }
  | { type: 'closed' }
  | { type: 'failed'; message: string }
  | { type: 'stream-appended' }
  | { type: 'result'; id: number; value?: unknown; error?: string };
type ToWorker =
  | { type: 'close' }
  | { type: 'receive'; id: number; request: BatchReceive }
  | { type: 'delete'; id: number; queueUrl: string; receiptHandles: string[] }
  | { type: 'cancel'; id: number };

const WORKER_ENTRY = fileURLToPath(new URL('./emulator-worker.mjs', import.meta.url));

export function startEmulatorThread(spec: EmulatorSpec, opts: EmulatorThreadOptions = {}): Promise<EmulatorThread> {
  // Only a CPU profile's flags are passed on (`--cpu-prof` profiles each thread); the entry registers tsx itself.
  const worker = new Worker(WORKER_ENTRY, { workerData: { emulator: spec }, execArgv: process.execArgv.filter((a) => a.startsWith('--cpu-prof')) });
  const calls = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  const call = <T>(message: ToWorker & { id: number }): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      calls.set(message.id, { resolve, reject });
      worker.postMessage(message);
    });
  const consumer: QueueConsumer = {
    receiveBatch(request, signal) {
      const id = ++nextId;
      signal?.addEventListener('abort', () => worker.postMessage({ type: 'cancel', id } satisfies ToWorker), { once: true });
      return call<ReceivedMessage[]>({ type: 'receive', id, request });
    },
    deleteBatch(queueUrl, receiptHandles) {
      return call<void>({ type: 'delete', id: ++nextId, queueUrl, receiptHandles });
    },
  };
  return new Promise((resolve, reject) => {
    let closing: ((value: void) => void) | undefined;
    const exited = new Promise<void>((r) => worker.once('exit', () => r()));
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'result') {
        const pending = calls.get(m.id);
        calls.delete(m.id);
        if (m.error !== undefined) pending?.reject(new Error(m.error));
        else pending?.resolve(m.value);
      } else if (m.type === 'stream-appended') opts.onStreamAppend?.();
      else if (m.type === 'failed') reject(new Error(`${spec.kind} emulator: ${m.message}`));
      else if (m.type === 'closed') closing?.();
      else
        resolve({
          url: m.url,
          worker,
          consumer,
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
    worker.once('exit', (code) => {
      reject(new Error(`${spec.kind} emulator thread exited (${code}) before listening`));
      for (const pending of calls.values()) pending.reject(new Error(`${spec.kind} emulator thread exited (${code})`));
      calls.clear();
    });
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
    const cancels = new Map<number, AbortController>();
    const answer = async (id: number, work: () => unknown) => {
      try {
        port.postMessage({ type: 'result', id, value: await work() } satisfies FromWorker);
      } catch (err) {
        port.postMessage({ type: 'result', id, error: (err as Error).message } satisfies FromWorker);
      }
    };
    port.on('message', async (m: ToWorker) => {
      if (m.type === 'close') {
        for (const c of cancels.values()) c.abort();
        await server.close();
        port.postMessage({ type: 'closed' } satisfies FromWorker);
        return;
      }
      if (!('consumer' in server)) return void answer((m as { id: number }).id, () => Promise.reject(new Error('not a queue emulator')));
      const { consumer } = server;
      if (m.type === 'receive') {
        const abort = new AbortController();
        cancels.set(m.id, abort);
        await answer(m.id, () => consumer.receiveBatch(m.request, abort.signal));
        cancels.delete(m.id);
      } else if (m.type === 'delete') await answer(m.id, () => consumer.deleteBatch(m.queueUrl, m.receiptHandles));
      else if (m.type === 'cancel') cancels.get(m.id)?.abort();
    });
    port.postMessage({ type: 'listening', url: server.url } satisfies FromWorker);
  } catch (err) {
    port.postMessage({ type: 'failed', message: (err as Error).message } satisfies FromWorker);
  }
}

if (!isMainThread && workerData?.emulator) await serve(workerData.emulator as EmulatorSpec);
