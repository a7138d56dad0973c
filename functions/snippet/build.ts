import { buildSync } from 'esbuild';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export interface BuiltSnippet {
  /** The minified main script (what `/t.js` serves). */
  code: string;
  /** The minified extra part (`/t.js?part=extra`: identify's hashing, TC-string decoding), loaded only when needed. */
  extraCode: string;
  /** First 16 hex characters of the main script's SHA-256: the ETag and the `?v=` of the versioned URL. */
  hash: string;
  /** The same for the extra part. */
  extraHash: string;
  bytes: number;
  gzipBytes: number;
  extraBytes: number;
  extraGzipBytes: number;
}

const DIR = path.dirname(fileURLToPath(import.meta.url));

const bundle = (entry: string, define: Record<string, string> = {}) =>
  buildSync({
    entryPoints: [path.join(DIR, entry)],
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2020',
    platform: 'browser',
    write: false,
    legalComments: 'none',
    // Without the project tsconfig's "use strict" prologue: the snippet does not depend on strict-mode semantics.
    tsconfigRaw: { compilerOptions: { alwaysStrict: false, strict: false } },
    logLevel: 'silent',
    define,
  }).outputFiles[0].text;

const hashOf = (code: string) => createHash('sha256').update(code).digest('hex').slice(0, 12); // 48 bits tell versions apart; every byte counts in the snippet
const gzipBytes = (code: string) => gzipSync(code, { level: 9 }).length;

/**
 * The one build of the browser snippet: used by `npm run build:snippet` (dist/t.js, for self-hosting), by the CDK
 * stack (compiled into the /t.js function) and by the local runner's /t.js. Synchronous so the stack can call it.
 * ES2020 covers every browser with `navigator.sendBeacon`, `fetch` keepalive and SubtleCrypto.
 */
export function buildSnippet(): BuiltSnippet {
  const extraCode = bundle('extra.ts');
  const extraHash = hashOf(extraCode);
  // The main script asks for the extra part by its version: that URL is immutable, like `/t.js?v=`.
  const code = bundle('snippet.ts', { __EXTRA_VERSION__: JSON.stringify(extraHash) });
  return {
    code,
    extraCode,
    hash: hashOf(code),
    extraHash,
    bytes: Buffer.byteLength(code),
    gzipBytes: gzipBytes(code),
    extraBytes: Buffer.byteLength(extraCode),
    extraGzipBytes: gzipBytes(extraCode),
  };
}
