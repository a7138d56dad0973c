import type { PlatformError, PlatformResponse, ResponseVerdict } from '#destinations/types.ts';

/**
 * Classifies a Data Manager API `events:ingest` answer. Google's error model (devguides/concepts/understand-errors,
 * reference/rest/v1/BadRequest; checked 2026-12):
 * - success: HTTP 200 `{requestId}`; processing is asynchronous (devguides/diagnostics);
 * - fast-fail: "if any record fails validation for a required field, the entire request fails" — a REST error
 *   `{"error":{code, status, message, details[]}}` whose `BadRequest` detail lists `fieldViolations[] {field,
 *   description, reason}`. The field path names the event (`events[3].event_source`, or `events.events[3]…` as seen
 *   in a third-party report): those events fail, every other one is sent again (nothing of the request was kept);
 * - 401 UNAUTHENTICATED: the access token is stale (refreshed next time); 403 PERMISSION_DENIED / 404: configuration;
 * - 429 RESOURCE_EXHAUSTED (devguides/limits), 500 INTERNAL, 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED: retried.
 */

interface FieldViolation {
  field?: string;
  description?: string;
  reason?: string;
}

interface RestError {
  code?: number;
  status?: string;
  message?: string;
  details?: { '@type'?: string; fieldViolations?: FieldViolation[]; reason?: string }[];
}

/** `events[3]`, `events.events[3]` or `events[3].ad_identifiers.gclid` → 3. */
const EVENT_INDEX = /(?:^|\.)events\[(\d+)\]/;

export function eventIndexOf(field: string | undefined): number | undefined {
  const m = field ? EVENT_INDEX.exec(field) : null;
  return m ? Number(m[1]) : undefined;
}

export function classifyDataManagerResponse(res: PlatformResponse): ResponseVerdict {
  const body = (typeof res.body === 'object' && res.body !== null ? res.body : {}) as { requestId?: unknown; error?: RestError };
  if (res.status >= 200 && res.status < 300) {
    // validateOnly answers without a request ID: nothing is processed, there is nothing to ask about later.
    return typeof body.requestId === 'string' && body.requestId ? { kind: 'ok', requestId: body.requestId } : { kind: 'ok' };
  }
  const err = body.error ?? {};
  const violations = (err.details ?? []).flatMap((d) => d.fieldViolations ?? []);
  const infoReason = (err.details ?? []).find((d) => typeof d.reason === 'string')?.reason;
  const status = err.status ?? `http_${res.status}`;
  const error: PlatformError = {
    code: violations[0]?.reason ?? infoReason ?? status,
    message: (violations[0]?.description ?? err.message ?? (typeof res.body === 'string' ? res.body : `HTTP ${res.status}`)).slice(0, 500),
  };
  if (res.status === 401 || status === 'UNAUTHENTICATED') return { kind: 'transient', error: { ...error, code: 'UNAUTHENTICATED' } };
  if (res.status === 429 || res.status >= 500 || ['RESOURCE_EXHAUSTED', 'UNAVAILABLE', 'DEADLINE_EXCEEDED', 'INTERNAL'].includes(status)) {
    return { kind: 'transient', error };
  }
  if (res.status === 403 || res.status === 404 || status === 'PERMISSION_DENIED' || status === 'NOT_FOUND') return { kind: 'rejected-batch', error };
  // A 400 naming events: those fail with their own reason, the rest go again.
  const byEvent = new Map<number, PlatformError>();
  for (const v of violations) {
    const index = eventIndexOf(v.field);
    if (index !== undefined && !byEvent.has(index)) {
      byEvent.set(index, { code: v.reason ?? status, message: `${v.field}: ${v.description ?? 'invalid'}`.slice(0, 500) });
    }
  }
  if (byEvent.size > 0) {
    return { kind: 'partial', resendOthers: true, failures: [...byEvent].map(([index, e]) => ({ index, transient: false, error: e })) };
  }
  // Violations about the request itself (destinations, encoding, too many events) cannot be fixed by splitting.
  if (violations.length > 0) return { kind: 'rejected-batch', error };
  return { kind: 'rejected-data', error };
}
