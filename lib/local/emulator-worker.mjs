// Entry of the local runner's worker threads (lib/local/emulators.ts, lib/local/delivery.ts). Plain JS so a worker
// can start from it whatever loader its parent runs under (tsx, vitest); it registers tsx for this thread, then runs
// the TypeScript module the thread was started for.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData?.module ?? './emulators.ts');
