import { bodyObject, classifyHttpStatus } from '#destinations/event-fields.ts';
import type { PlatformResponse, ResponseVerdict } from '#destinations/types.ts';

/**
 * Classifies an X Conversion API answer (web-conversions.mdx "Troubleshooting", fundamentals/error-codes-and-responses;
 * platforms-more.md §6 and §7):
 * - 200 `{data:{conversions_processed, debug_id}}`: "a single request will only be successful when there are zero
 *   errors for all conversions", so a 200 is every conversion taken;
 * - 400 `{errors:[{code:"INVALID_PARAMETER", message, parameter}]}` for any invalid conversion rejects the whole
 *   request: the batch is split to isolate the culprit — except an `event_id` error ("is not a single event tag",
 *   "Event ID was not found"), which is configuration (X_EVENT_IDS) and holds for every conversion of the request
 *   (requests carry one event_id each: `groupKey`);
 * - 404 (`NOT_FOUND` "event_id … does not belong to provided account", no access to the pixel's account, bad
 *   pixel / route) and 401 `UNAUTHORIZED_ACCESS` (bad OAuth signature or token), 403 (no Ads API access): the
 *   configuration, every event to the DLQ;
 * - 408 `CANCELLED_REQUEST`, 423 `LOCK_ACQUISITION_TIMEOUT`, 429 `TOO_MANY_REQUESTS` (60,000 events per account per
 *   15 min; `x-rate-limit-reset` says when the window resets), 5xx: retried.
 */
interface XError {
  code?: string;
  message?: string;
  parameter?: string;
}

/** The longest wait a 429 can ask for: X's rate-limit window is 15 minutes. */
const MAX_RATE_LIMIT_WAIT_S = 15 * 60;

export function classifyXResponse(res: PlatformResponse, nowMs = Date.now()): ResponseVerdict {
  const body = bodyObject(res);
  const errors = Array.isArray(body.errors) ? (body.errors as XError[]) : [];
  const error = {
    code: errors[0]?.code ? String(errors[0].code) : `http_${res.status}`,
    message: (errors.length ? errors.map((e) => String(e.message ?? e.code)).join('; ') : `HTTP ${res.status}`).slice(0, 500),
  };
  if (res.status === 423) return { kind: 'transient', error };
  if (res.status === 429) {
    const reset = Number(res.headers['x-rate-limit-reset']);
    const wait = Number.isFinite(reset) && reset > 0 ? Math.ceil(reset - nowMs / 1000) : undefined;
    return wait !== undefined && wait > 0 ? { kind: 'transient', error, retryAfterSeconds: Math.min(wait, MAX_RATE_LIMIT_WAIT_S) } : { kind: 'transient', error };
  }
  const byStatus = classifyHttpStatus(res, error);
  if (byStatus) return byStatus;
  if (res.status >= 200 && res.status < 300) {
    const data = bodyObject({ ...res, body: body.data });
    if (typeof data.conversions_processed !== 'number') {
      return { kind: 'transient', error: { code: 'no_result', message: 'answer without data.conversions_processed: nothing proves the conversions were taken' } };
    }
    return { kind: 'ok' };
  }
  if (res.status === 404) return { kind: 'rejected-batch', error };
  if (res.status === 400 && errors.length > 0 && errors.every((e) => e.parameter === 'event_id')) return { kind: 'rejected-batch', error };
  return { kind: 'rejected-data', error };
}
