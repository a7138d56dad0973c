import { bodyObject, classifyHttpStatus } from '#destinations/event-fields.ts';
import type { PlatformResponse, ResponseVerdict } from '#destinations/types.ts';

/**
 * Classifies a Reddit Conversions API v3 answer (Reddit's error table as captured in segmentio/action-destinations
 * `V3-API-REFERENCE.md`; RudderStack's fixtures; platforms-more.md §4 and §7):
 * - 200 `{data: {message: "Successfully processed N conversion events."}}` (v2 answered `{message}` at the top): ok;
 * - 400 "There were N invalid conversion events. None were processed." with `invalid_events[{error_message, event}]`,
 *   or a schema error (`JSON error "unknown field" …`, "invalid action_source: web"), or "Bad Request" for more than
 *   1,000 events: nothing of the request was kept, so the batch is split to isolate the bad event;
 * - 401 (no / invalid token) and 403 (no access to the pixel, missing `adsconversions` scope): the configuration;
 * - 429 (quota, or a default user agent throttled) and 5xx ("No conversion events were processed"): retried.
 * Error bodies come as `{message}`, `{error: {code, message}}` or `{success: false, error: {reason, explanation}}`.
 */
export function classifyRedditResponse(res: PlatformResponse): ResponseVerdict {
  const body = bodyObject(res);
  const nested = bodyObject({ ...res, body: body.error });
  const invalid = Array.isArray(body.invalid_events) ? bodyObject({ ...res, body: body.invalid_events[0] }) : {};
  const message = invalid.error_message ?? nested.message ?? nested.explanation ?? body.message ?? (typeof res.body === 'string' && res.body ? res.body : `HTTP ${res.status}`);
  const error = { code: String(nested.reason ?? (invalid.error_message ? 'invalid_event' : `http_${res.status}`)), message: String(message).slice(0, 500) };
  const byStatus = classifyHttpStatus(res, error);
  if (byStatus) return byStatus;
  if (res.status >= 200 && res.status < 300) {
    const data = bodyObject({ ...res, body: body.data });
    // A 2xx without Reddit's "Successfully processed" message (a proxy's page) proves nothing was taken.
    if (/successfully processed/i.test(String(data.message ?? body.message ?? ''))) return { kind: 'ok' };
    return { kind: 'transient', error: { code: 'no_confirmation', message: 'answer without Reddit’s "Successfully processed" message: nothing proves the events were taken' } };
  }
  return { kind: 'rejected-data', error };
}
