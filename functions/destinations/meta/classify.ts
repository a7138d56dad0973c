import type { PlatformResponse, ResponseVerdict } from '#destinations/types.ts';

/**
 * Classifies a Graph API answer on Meta's error code, not on the HTTP status alone (Graph throttling comes back as
 * 4xx). Codes: https://developers.facebook.com/docs/graph-api/guides/error-handling and the Marketing API rate
 * limiting page. `is_transient: true` in the body wins.
 */
const TRANSIENT_CODES = new Set([1, 2, 4, 17, 32, 341, 368, 613]);
/**
 * Token, permission and unknown-pixel errors, a missing token (104) and a sunset API version (2635, "You are calling
 * a deprecated version of the Ads API"): nothing in the batch can succeed until the configuration is fixed, and
 * splitting the batch would only multiply the requests.
 */
const CONFIGURATION_CODES = new Set([102, 104, 190, 803, 2635]);

interface GraphError {
  message?: string;
  type?: string;
  code?: number;
  error_subcode?: number;
  is_transient?: boolean;
  error_user_msg?: string;
}

export function classifyMetaResponse(res: PlatformResponse): ResponseVerdict {
  if (res.status >= 200 && res.status < 300) return { kind: 'ok' };
  const err = ((res.body as { error?: GraphError } | undefined)?.error ?? {}) as GraphError;
  const code = typeof err.code === 'number' ? err.code : undefined;
  const error = {
    code: code === undefined ? `http_${res.status}` : err.error_subcode ? `${code}/${err.error_subcode}` : String(code),
    message: (err.error_user_msg || err.message || `HTTP ${res.status}`).slice(0, 500),
  };
  if (res.status === 429 || res.status >= 500 || err.is_transient === true) return { kind: 'transient', error };
  if (code !== undefined && (TRANSIENT_CODES.has(code) || (code >= 80000 && code <= 80014))) return { kind: 'transient', error };
  if (code !== undefined && (CONFIGURATION_CODES.has(code) || (code >= 200 && code < 300) || code === 10)) {
    return { kind: 'rejected-batch', error };
  }
  // Code 100 with subcode 33: the pixel ID does not exist or the token cannot see it.
  if (code === 100 && err.error_subcode === 33) return { kind: 'rejected-batch', error };
  if (res.status === 401 || res.status === 403) return { kind: 'rejected-batch', error };
  // Anything else (code 100 invalid parameter and its subcodes): an event in the batch is at fault.
  return { kind: 'rejected-data', error };
}
