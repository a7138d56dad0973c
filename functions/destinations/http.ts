import type { PlatformRequest, PlatformResponse } from './types.ts';
import type { Transport } from './deliver.ts';

/** The one HTTP client every destination uses: JSON in, JSON (or text) out, bounded by a timeout. */
export function fetchTransport(timeoutMs = 10_000): Transport {
  return async (request: PlatformRequest): Promise<PlatformResponse> => {
    const res = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: JSON.stringify(request.body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON (a proxy's HTML error page, say): keep the text for the error message.
    }
    return { status: res.status, body, headers: Object.fromEntries(res.headers) };
  };
}
