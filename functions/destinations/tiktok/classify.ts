import type { PlatformResponse, ResponseVerdict } from '#destinations/types.ts';

/**
 * Classifies an Events API answer on TikTok's body `code`, which can be non-zero under HTTP 200. Codes: TikTok's own
 * list (github tiktok/tiktok-business-api-sdk `tiktok_code.py`), handling as in platforms.md §2.5 and RudderStack's
 * handler (0 / 20001 ok, 40100 throttled, 40700 retryable, 40001 / 40002 aborted).
 *
 * 20001 ("partial OK") is taken as delivered: TikTok accepted the request, and no public document describes a per-row
 * error list to fail individual events on.
 */
const OK_CODES = new Set([0, 20001]);
/** Throttling, TikTok-side timeouts and outages: worth the same request later. */
const TRANSIENT_CODES = new Set([40100, 40132, 40200, 40201, 40202, 40700, 50000, 50002, 60001, 61000]);
/** Token, permission, version and endpoint errors: no event can go until someone fixes the configuration. */
const CONFIGURATION_CODES = new Set([
  40001, 40003, 40006, 40007, 40008, 40009, 40010, 40014, 40051, 40063, 40101, 40102, 40103, 40104, 40105, 40106, 40107,
  40113, 40114, 40117, 40118, 40125, 40130, 40300, 40301, 40302, 40400, 41000, 41001, 41002,
]);

interface TikTokBody {
  code?: number;
  message?: string;
  request_id?: string;
}

export function classifyTikTokResponse(res: PlatformResponse): ResponseVerdict {
  const body = (typeof res.body === 'object' && res.body !== null ? res.body : {}) as TikTokBody;
  const code = typeof body.code === 'number' ? body.code : undefined;
  const error = {
    code: code === undefined ? `http_${res.status}` : String(code),
    message: (body.message || `HTTP ${res.status}`).slice(0, 500),
  };
  if (res.status === 429 || res.status >= 500) return { kind: 'transient', error };
  if (res.status >= 200 && res.status < 300 && code !== undefined && OK_CODES.has(code)) return { kind: 'ok' };
  if (res.status === 401 || res.status === 403) return { kind: 'rejected-batch', error };
  if (code === undefined) {
    // A 2xx without TikTok's envelope (a proxy, a captive portal) proves nothing was accepted; anything else is
    // a request TikTok will not take as it is.
    return res.status >= 200 && res.status < 300 ? { kind: 'transient', error } : { kind: 'rejected-data', error };
  }
  if (TRANSIENT_CODES.has(code) || (code >= 51000 && code < 54000)) return { kind: 'transient', error };
  if (CONFIGURATION_CODES.has(code)) return { kind: 'rejected-batch', error };
  // 40002 names the offending field; one about the pixel (event_source_id) concerns every event of the request.
  if (code === 40002 && /event_source_id|pixel/i.test(error.message)) return { kind: 'rejected-batch', error };
  // 40000 / 40002 / 40061 / 40062 and the rest of 4xxxx: something in the events (a bad row fails the whole batch),
  // so the batch is split to isolate it. 40061 (batch too large) is cured by the same split.
  return { kind: 'rejected-data', error };
}
