import { bodyObject, classifyHttpStatus } from '#destinations/event-fields.ts';
import type { PlatformResponse, ResponseVerdict } from '#destinations/types.ts';

/**
 * Classifies a Pinterest `events/create` answer (OpenAPI v5 responses; platforms-more.md §2 and §7):
 * - 200 `{num_events_received, num_events_processed, events:[{status:"processed"|"failed", error_message}]}` in
 *   request order: failed rows fail alone (`partial`);
 * - 422 code 953 "Not all events were successfully processed", `details` of the same shape: only the `failed` rows
 *   are retried after a fix (the spec says so; whether the processed ones of a 422 are kept is not documented, and
 *   Pinterest's dedup on event_id makes a resend of them harmless);
 * - 429 code 8 and 503 code 4197 throttling → transient; 401 code 2 / 403 code 29 → the token; 400 code 4196 → the
 *   request as a whole is malformed, so the batch is split to find the culprit.
 */
interface EventResult {
  status?: string;
  error_message?: string | null;
}

export function classifyPinterestResponse(res: PlatformResponse): ResponseVerdict {
  const body = bodyObject(res);
  const code = typeof body.code === 'number' ? body.code : undefined;
  const error = { code: code === undefined ? `http_${res.status}` : String(code), message: String(body.message || `HTTP ${res.status}`).slice(0, 500) };
  const byStatus = classifyHttpStatus(res, error);
  if (byStatus) return byStatus;
  const details = res.status === 422 ? bodyObject({ ...res, body: body.details }) : body;
  const events = Array.isArray(details.events) ? (details.events as EventResult[]) : undefined;
  if ((res.status >= 200 && res.status < 300) || (res.status === 422 && events)) {
    if (!events) return { kind: 'transient', error: { code: 'no_events', message: 'answer without per-event results: nothing proves the events were taken' } };
    const failures = events.flatMap((e, index) =>
      e.status === 'processed' ? [] : [{ index, transient: false, error: { code: 'event_failed', message: String(e.error_message || 'failed').slice(0, 500) } }],
    );
    return failures.length ? { kind: 'partial', failures } : { kind: 'ok' };
  }
  return { kind: 'rejected-data', error };
}
