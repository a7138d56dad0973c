import { bodyObject, classifyHttpStatus } from '#destinations/event-fields.ts';
import type { PlatformResponse, ResponseVerdict } from '#destinations/types.ts';

/**
 * Classifies a Snapchat CAPI v3 answer. Snap's SDK schema gives the body `{status: "VALID"|"INVALID", reason,
 * errors: {codes[], error_msgs[]}}` for any HTTP status; the HTTP codes themselves are not documented, so (as Snap's
 * own GTM tag and Stape do) 2xx with VALID is delivered, 429 / 5xx transient, 401 / 403 the token, and INVALID or any
 * other 4xx something in the events: the batch is split to isolate it (Snap answers one status for the request).
 */
export function classifySnapchatResponse(res: PlatformResponse): ResponseVerdict {
  const body = bodyObject(res);
  const errors = bodyObject({ ...res, body: body.errors });
  const codes = Array.isArray(errors.codes) ? errors.codes : [];
  const messages = Array.isArray(errors.error_msgs) ? errors.error_msgs : [];
  const error = {
    code: codes.length ? String(codes[0]) : `http_${res.status}`,
    message: String(messages[0] ?? body.reason ?? `HTTP ${res.status}`).slice(0, 500),
  };
  const byStatus = classifyHttpStatus(res, error);
  if (byStatus) return byStatus;
  if (res.status >= 200 && res.status < 300) {
    if (body.status === 'VALID') return { kind: 'ok' };
    // A 2xx without Snap's envelope (a proxy) proves nothing was accepted.
    if (body.status !== 'INVALID') return { kind: 'transient', error };
  }
  return { kind: 'rejected-data', error };
}
