import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { RUNNER_DISCOVERY_FILE } from '../../lib/local/discovery.ts';
import { startRelay } from '../support/relay-process.ts';

it('`npm start`s runner exits 0 on SIGTERM, its emulator threads closed (no thread keeps it alive)', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'relay-shutdown-'));
  try {
    const relay = await startRelay({}, dataDir);
    expect((await fetch(`${relay.url}/health`)).status).toBe(200);
    const code = new Promise<number | null>((r) => relay.child.once('exit', (c) => r(c)));
    const started = Date.now();
    await relay.stop();
    expect(await code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(existsSync(path.join(dataDir, RUNNER_DISCOVERY_FILE))).toBe(false);
    // The data directory is free again: a second runner opens the same leveldb and journal.
    const again = await startRelay({}, dataDir);
    expect((await fetch(`${again.url}/health`)).status).toBe(200);
    await again.stop();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 90_000);
