import { bodyObject, classifyHttpStatus } from '#destinations/event-fields.ts';
import type { PlatformError, PlatformResponse, ResponseVerdict } from '#destinations/types.ts';

/**
 * Classifies a UET Conversions API answer (the CAPI guide's "API error handling"; platforms-more.md §5 and §7). The
 * relay sends `continueOnValidationError: false` (the default), so:
 * - 200: every event was processed (fields that drew only a *warning*, e.g. a malformed hash, were dropped from them);
 * - 400 `{"error":{"code":"ValidationError","details":[{index, propertyName, errorMessage, errorCode, isWarning}]}}`:
 *   **nothing** was processed. The events the details name (errors, not warnings) fail; every other one goes again in
 *   a new request (`resendOthers`), which also surfaces any culprit beyond the first 10 details Microsoft lists. With
 *   `continueOnValidationError: true` Microsoft would keep the valid ones, but the shape of that 200's details is not
 *   documented and it too lists only 10: a skipped event could pass for delivered;
 * - 401 `Unauthorized` (token missing, wrong or not for this tag) and 403: the configuration, for every event;
 * - 408 / 429 / 5xx and network errors: retried (Microsoft documents no rate limit or throttling answer).
 */
interface Detail {
  index?: unknown;
  propertyName?: unknown;
  errorMessage?: unknown;
  errorCode?: unknown;
  isWarning?: unknown;
}

export function classifyUetResponse(res: PlatformResponse): ResponseVerdict {
  const body = bodyObject(res);
  const err = bodyObject({ ...res, body: body.error });
  const error: PlatformError = {
    code: typeof err.code === 'string' ? err.code : `http_${res.status}`,
    message: String(err.message || (typeof res.body === 'string' && res.body) || `HTTP ${res.status}`).slice(0, 500),
  };
  const byStatus = classifyHttpStatus(res, error);
  if (byStatus) return byStatus;
  if (res.status >= 200 && res.status < 300) return { kind: 'ok' };
  const details = Array.isArray(err.details) ? (err.details as Detail[]) : [];
  const byIndex = new Map<number, Detail[]>();
  for (const d of details) {
    const index = eventIndex(d);
    // An index outside the request is ignored by the sender, which then halves the batch instead.
    if (d.isWarning === true || index === undefined || index < 0) continue;
    byIndex.set(index, [...(byIndex.get(index) ?? []), d]);
  }
  if (res.status === 400 && byIndex.size > 0) {
    const failures = [...byIndex].map(([index, ds]) => ({
      index,
      transient: false,
      error: {
        code: typeof ds[0].errorCode === 'string' ? ds[0].errorCode : error.code,
        message: ds.map((d) => `${String(d.propertyName ?? 'event')}: ${String(d.errorMessage ?? 'invalid')}`).join('; ').slice(0, 500),
      },
    }));
    return { kind: 'partial', failures, resendOthers: true };
  }
  // A 400 naming no event (or another 4xx): something in the events, not said which; the batch is split to find it.
  return { kind: 'rejected-data', error };
}

/** `index`, or the position in `propertyName` ("data[3].eventTime"). */
function eventIndex(d: Detail): number | undefined {
  if (typeof d.index === 'number' && Number.isInteger(d.index)) return d.index;
  const m = typeof d.propertyName === 'string' ? /^data\[(\d+)\]/.exec(d.propertyName) : null;
  return m ? Number(m[1]) : undefined;
}
