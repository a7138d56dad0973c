import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { destinationDefinitions } from '../functions/destinations/definitions.ts';
import { sources } from '../functions/registry.ts';
import { PROJECT_ROOT } from '../lib/project-root.ts';
import { startRunner } from '../lib/local/runner.ts';

/**
 * `npm start`: the relay on this machine, no AWS account, no docker. Settings come from the environment and from
 * `.env` (the environment wins). Data is kept under RELAY_DATA_DIR (default .relay-data/), so a restart keeps
 * everything that was accepted.
 */
const envFile = path.join(PROJECT_ROOT, '.env');
if (existsSync(envFile)) {
  for (const [k, v] of Object.entries(parseEnv(readFileSync(envFile, 'utf8')))) {
    if (process.env[k] === undefined) process.env[k] = v;
  }
}

const dataDir = path.resolve(PROJECT_ROOT, process.env.RELAY_DATA_DIR ?? '.relay-data');
const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number, got "${process.env.PORT}"`);
  process.exit(1);
}

try {
  // Test and tuning knob: how long a message stays hidden after a crash mid-batch (default 60 s).
  const visibility = process.env.RELAY_VISIBILITY_TIMEOUT_SECONDS ? Number(process.env.RELAY_VISIBILITY_TIMEOUT_SECONDS) : undefined;
  // Fault-test knobs: RELAY_FAN_OUT_DISABLED=true leaves the ledger stream unread (the stack's mapping disabled);
  // RELAY_FAN_OUT_RETRY_BASE_MS shortens the failing stream batch's retries (default 200 ms, doubled up to 5 s).
  const fanOutRetryBaseMs = process.env.RELAY_FAN_OUT_RETRY_BASE_MS ? Number(process.env.RELAY_FAN_OUT_RETRY_BASE_MS) : undefined;
  const runner = await startRunner({ dataDir, port, visibilityTimeoutSeconds: visibility, fanOut: process.env.RELAY_FAN_OUT_DISABLED !== 'true', fanOutRetryBaseMs });
  const lines = [
    `conversion-relay listening on ${runner.url}`,
    `data kept in ${dataDir}`,
    `storage: dynamodb ${runner.endpoints.dynamodb}  sqs ${runner.endpoints.sqs}`,
    'routes:',
    `  POST ${runner.url}/collect`,
    `  GET  ${runner.url}/t.js   (browser snippet)`,
    ...sources.flatMap((s) => s.routes.map((r) => `  ${r.method} ${runner.url}${r.path}   (${s.name})`)),
    'destinations:',
    ...destinationDefinitions.map((d) => {
      const { missing } = d.configure(process.env);
      return missing.length ? `  ${d.name}: dry-run (set ${missing.join(', ')} to send)` : `  ${d.name}: live`;
    }),
  ];
  console.log(lines.join('\n'));
  const stop = async () => {
    await runner.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (err) {
  console.error(`conversion-relay could not start: ${(err as Error).message}`);
  process.exit(1);
}
