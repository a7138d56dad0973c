import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { PlatformRequest, PlatformResponse, Transport } from './types.ts';

/**
 * The one HTTP client every destination uses: JSON (or form) in, JSON (or text) out, bounded by a timeout.
 * node:http(s) rather than `fetch`: Node loads and compiles its bundled undici on the first `fetch`, 45–70 ms of a
 * sender's cold start; the http module is loaded already. Connections are kept alive (Node's default agents).
 */
export function fetchTransport(timeoutMs = 10_000): Transport {
  return async (request: PlatformRequest): Promise<PlatformResponse> => {
    const body =
      request.method === 'GET'
        ? undefined
        : request.encoding === 'form'
        ? new URLSearchParams(request.body as Record<string, string>).toString()
        : JSON.stringify(request.body);
    const { status, text, headers } = await send(request.url, request.method, request.headers, body, timeoutMs);
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON (a proxy's HTML error page, say): keep the text for the error message.
    }
    return { status, body: parsed, headers };
  };
}

/** One request, the whole exchange (connect to last byte of the answer) bounded by `timeoutMs`. */
function send(url: string, method: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<{ status: number; text: string; headers: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const outgoing: Record<string, string> = { ...headers };
    const named = (name: string) => Object.keys(outgoing).some((k) => k.toLowerCase() === name);
    // What fetch sent with a string body when the caller named no type.
    if (body !== undefined && !named('content-type')) outgoing['content-type'] = 'text/plain;charset=UTF-8';
    if (body !== undefined) outgoing['content-length'] = String(Buffer.byteLength(body));
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, { method, headers: outgoing }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        clearTimeout(timer);
        const flat: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v;
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: flat });
      });
    });
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer from ${new URL(url).host} within ${timeoutMs} ms`), { name: 'TimeoutError' })), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(body);
  });
}
