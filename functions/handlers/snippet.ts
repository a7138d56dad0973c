import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { gzipSync } from 'node:zlib';
import type { HttpResult } from './http.ts';

/**
 * GET /t.js: the browser snippet. In AWS its code is compiled into this function at synth time (esbuild `define`
 * of `__SNIPPET_JS_BASE64__`, see lib/relay-stack.ts); the local runner, which runs the TypeScript as it is, builds it on
 * first request with the same build function.
 *
 * Caching: the content hash is the ETag and the version — `/t.js?v=<hash>` is immutable for a year;
 * `/t.js` itself is cached for an hour, so a plain script tag picks up a new release the same day.
 */
declare const __SNIPPET_JS_BASE64__: string | undefined;

interface Served {
  code: string;
  gzip: string;
  etag: string;
  hash: string;
}

let served: Promise<Served> | undefined;

async function snippet(): Promise<Served> {
  let code: string;
  let hash: string;
  if (typeof __SNIPPET_JS_BASE64__ === 'string') {
    const { createHash } = await import('node:crypto');
    code = Buffer.from(__SNIPPET_JS_BASE64__, 'base64').toString('utf8');
    hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
  } else {
    // Not bundled (local runner, tests): build it. A variable path keeps esbuild from bundling the builder.
    const builder = '../snippet/build.ts';
    ({ code, hash } = (await import(builder)).buildSnippet());
  }
  // Weak: the gzip and the plain representation share it (a strong ETag must differ per content coding).
  return { code, hash, etag: `W/"${hash}"`, gzip: gzipSync(code, { level: 9 }).toString('base64') };
}

export async function handler(event: APIGatewayProxyEventV2): Promise<HttpResult> {
  const s = await (served ??= snippet());
  const versioned = event.queryStringParameters?.v === s.hash;
  const headers: Record<string, string> = {
    'content-type': 'text/javascript; charset=utf-8',
    'cache-control': versioned ? 'public, max-age=31536000, immutable' : 'public, max-age=3600',
    etag: s.etag,
    vary: 'Accept-Encoding',
    'x-content-type-options': 'nosniff',
    // The site embeds it from the relay's (sub)domain.
    'cross-origin-resource-policy': 'cross-origin',
  };
  const header = (name: string) => Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === name)?.[1];
  const known = header('if-none-match')?.split(/\s*,\s*/).map((t) => t.replace(/^W\//, ''));
  if (known?.includes(`"${s.hash}"`)) return { statusCode: 304, headers };
  if (/\bgzip\b/.test(header('accept-encoding') ?? '')) {
    return { statusCode: 200, headers: { ...headers, 'content-encoding': 'gzip' }, body: s.gzip, isBase64Encoded: true };
  }
  return { statusCode: 200, headers, body: s.code };
}
