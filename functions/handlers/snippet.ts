import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { gzipSync } from 'node:zlib';
import type { HttpResult } from './http.ts';

/**
 * GET /t.js: the browser snippet, and `?part=extra`, its second part (identify's hashing, TC-string decoding), which
 * the main script loads only when a page needs it (functions/snippet/extra.ts). In AWS their code is compiled into this function at synth time (esbuild
 * `define` of `__SNIPPET_JS_BASE64__` and `__SNIPPET_EXTRA_JS_BASE64__`, see lib/relay-stack.ts); the local runner,
 * which runs the TypeScript as it is, builds them on first request with the same build function.
 *
 * Caching, the same for both parts: the content hash is the ETag and the version — `?v=<hash>` is immutable for a
 * year; without it (or with an old version) an hour, so a plain script tag picks up a new release the same day.
 */
declare const __SNIPPET_JS_BASE64__: string | undefined;
declare const __SNIPPET_EXTRA_JS_BASE64__: string | undefined;

interface ServedPart {
  code: string;
  gzip: string;
  etag: string;
  hash: string;
}

type Part = 'main' | 'extra';

let served: Promise<Record<Part, ServedPart | undefined>> | undefined;

async function servedPart(code: string): Promise<ServedPart> {
  const { createHash } = await import('node:crypto');
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 12); // as the build's hashOf (snippet/build.ts)
  // Weak: the gzip and the plain representation share it (a strong ETag must differ per content coding).
  return { code, hash, etag: `W/"${hash}"`, gzip: gzipSync(code, { level: 9 }).toString('base64') };
}

async function snippet(): Promise<Record<Part, ServedPart | undefined>> {
  let main: string;
  let extra: string | undefined;
  if (typeof __SNIPPET_JS_BASE64__ === 'string') {
    const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
    main = decode(__SNIPPET_JS_BASE64__);
    extra = typeof __SNIPPET_EXTRA_JS_BASE64__ === 'string' ? decode(__SNIPPET_EXTRA_JS_BASE64__) : undefined;
  } else {
    // Not bundled (local runner, tests): build it. A variable path keeps esbuild from bundling the builder.
    const builder = '../snippet/build.ts';
    ({ code: main, extraCode: extra } = (await import(builder)).buildSnippet());
  }
  return { main: await servedPart(main), extra: extra === undefined ? undefined : await servedPart(extra) };
}

export async function handler(event: APIGatewayProxyEventV2): Promise<HttpResult> {
  const query = event.queryStringParameters ?? {};
  const parts = await (served ??= snippet());
  const s = query.part === undefined ? parts.main : query.part === 'extra' ? parts.extra : undefined;
  if (!s) return { statusCode: 404, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'no such part' };
  const versioned = query.v === s.hash;
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
