import { buildSync } from 'esbuild';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export interface BuiltSnippet {
  /** The minified script. */
  code: string;
  /** First 16 hex characters of its SHA-256: the ETag and the `?v=` of the versioned URL. */
  hash: string;
  bytes: number;
  gzipBytes: number;
}

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'snippet.ts');

/**
 * The one build of the browser snippet: used by `npm run build:snippet` (dist/t.js, for self-hosting), by the CDK
 * stack (compiled into the /t.js function) and by the local runner's /t.js. Synchronous so the stack can call it.
 * ES2020 covers every browser with `navigator.sendBeacon`, `fetch` keepalive and SubtleCrypto.
 */
export function buildSnippet(): BuiltSnippet {
  const result = buildSync({
    entryPoints: [ENTRY],
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2020',
    platform: 'browser',
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].text;
  return {
    code,
    hash: createHash('sha256').update(code).digest('hex').slice(0, 16),
    bytes: Buffer.byteLength(code),
    gzipBytes: gzipSync(code, { level: 9 }).length,
  };
}
