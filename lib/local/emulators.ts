import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { startLocalDynamo } from './dynamo.ts';
import { startSqsServer, type SqsServerOptions } from './sqs-server.ts';

/**
 * The local runner's emulators (dynalite, the SQS-compatible server), each on its own worker thread: their CPU
 * (request parsing, leveldb, the journal's writes) then runs beside the handlers on the main thread instead of
 * queueing behind them, so the runner uses more than one core. Threads die with the process, so a crash or
 * SIGKILL never leaves an emulator holding the data directory's files.
 */
export type EmulatorSpec = { kind: 'dynamodb'; dir?: string; region: string; streamJournal?: string } | { kind: 'sqs'; options: SqsServerOptions };

export interface EmulatorThread {
  url: string;
  /** Stops the emulator (its server closed, its files flushed and closed), then the thread. */
  close(): Promise<void>;
  worker: Worker;
}

type FromWorker = { type: 'listening'; url: string } | { type: 'closed' } | { type: 'failed'; message: string };
const WORKER_ENTRY = fileURLToPath(new URL('./emulator-worker.mjs', import.meta.url));

export function startEmulatorThread(spec: EmulatorSpec): Promise<EmulatorThread> {
  const worker = new Worker(WORKER_ENTRY, { workerData: { emulator: spec }, execArgv: [] });
  return new Promise((resolve, reject) => {
    let closing: ((value: void) => void) | undefined;
    const exited = new Promise<void>((r) => worker.once('exit', () => r()));
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'failed') reject(new Error(`${spec.kind} emulator: ${m.message}`));
      else if (m.type === 'closed') closing?.();
      else
        resolve({
          url: m.url,
          worker,
          async close() {
            await new Promise<void>((r) => {
              closing = r;
              worker.postMessage('close');
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

async function serve(spec: EmulatorSpec): Promise<void> {
  const port = parentPort!;
  try {
    const server =
      spec.kind === 'dynamodb' ? await startLocalDynamo(spec.dir, spec.region, { streamJournal: spec.streamJournal }) : await startSqsServer(spec.options);
    port.on('message', async (m) => {
      if (m !== 'close') return;
      await server.close();
      port.postMessage({ type: 'closed' } satisfies FromWorker);
    });
    port.postMessage({ type: 'listening', url: server.url } satisfies FromWorker);
  } catch (err) {
    port.postMessage({ type: 'failed', message: (err as Error).message } satisfies FromWorker);
  }
}

if (!isMainThread && workerData?.emulator) await serve(workerData.emulator as EmulatorSpec);
