// Entry of an emulator worker thread (lib/local/emulators.ts). Plain JS so a worker can start from it whatever
// loader its parent runs under (tsx, vitest); it registers tsx for this thread, then runs the TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('./emulators.ts');
