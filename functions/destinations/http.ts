import type { PlatformRequest, PlatformResponse, Transport } from './types.ts';

/** The one HTTP client every destination uses: JSON (or form) in, JSON (or text) out, bounded by a timeout. */
export function fetchTransport(timeoutMs = 10_000): Transport {
  return async (request: PlatformRequest): Promise<PlatformResponse> => {
    const body =
      request.method === 'GET'
        ? undefined
        : request.encoding === 'form'
        ? new URLSearchParams(request.body as Record<string, string>).toString()
        : JSON.stringify(request.body);
    const res = await fetch(request.url, { method: request.method, headers: request.headers, body, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON (a proxy's HTML error page, say): keep the text for the error message.
    }
    return { status: res.status, body: parsed, headers: Object.fromEntries(res.headers) };
  };
}
