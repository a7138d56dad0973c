import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSnippet } from '../functions/snippet/build.ts';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * `npm run build:snippet`: writes dist/t.js for self-hosting the snippet on the site's own server or CDN
 * (then give the tag `data-relay="https://<relay>"`), and prints its size and version.
 */
const built = buildSnippet();
const out = path.join(PROJECT_ROOT, 'dist', 't.js');
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, built.code);
console.log(`${path.relative(PROJECT_ROOT, out)}: ${built.bytes} bytes, ${built.gzipBytes} bytes gzipped, version ${built.hash}`);
console.log(`served by the relay as /t.js?v=${built.hash} (cached for a year) and /t.js (cached for an hour)`);
