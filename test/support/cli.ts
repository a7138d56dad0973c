import { spawn } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from './relay-process.ts';

/** Runs the operator CLI as a user does (`env`: extra environment, e.g. platform credentials) (`npx conversion-relay …` runs bin/conversion-relay.mjs) against a local relay's data dir. */
export function cli(args: string[], dataDir: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin/conversion-relay.mjs'), ...args, '--data-dir', dataDir], {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
