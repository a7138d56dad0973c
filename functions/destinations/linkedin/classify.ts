import { bodyObject, classifyHttpStatus } from '#destinations/event-fields.ts';
import type { PlatformResponse, ResponseVerdict } from '#destinations/types.ts';

/**
 * Classifies a LinkedIn `BATCH_CREATE` answer (platforms-more.md §1 and §7; errors `{status, serviceErrorCode, code,
 * message}`):
 * - 200 `{elements:[{status:201}, …]}` in request order: an element with another status fails alone (`partial`);
 * - 401 `INVALID_ACCESS_TOKEN` (65600, expired) is transient when a refresh token is configured (the next attempt
 *   refreshes); 401 `REVOKED_ACCESS_TOKEN`, 403 and 426 (sunset LinkedIn-Version) need someone to act: rejected batch;
 * - 408 / 423 / 429 / 5xx retried (as Segment's LinkedIn destination does);
 * - 422 fails the whole batch for one element ("Index: 0, ERROR :: /conversionValue/amount …"); nothing was kept,
 *   so the batch is split to isolate the culprit; 400 (e.g. a rule not made for CONVERSIONS_API) likewise.
 */
export function classifyLinkedInResponse(res: PlatformResponse, refreshable = false): ResponseVerdict {
  const body = bodyObject(res);
  const error = {
    code: typeof body.code === 'string' ? body.code : typeof body.serviceErrorCode === 'number' ? String(body.serviceErrorCode) : `http_${res.status}`,
    message: String(body.message || `HTTP ${res.status}`).slice(0, 500),
  };
  if (res.status === 401 && refreshable && error.code === 'INVALID_ACCESS_TOKEN') return { kind: 'transient', error };
  if (res.status === 423) return { kind: 'transient', error };
  if (res.status === 426) return { kind: 'rejected-batch', error };
  const byStatus = classifyHttpStatus(res, error);
  if (byStatus) return byStatus;
  if (res.status === 201) return { kind: 'ok' };
  if (res.status >= 200 && res.status < 300) {
    if (!Array.isArray(body.elements)) return { kind: 'transient', error: { code: 'no_elements', message: 'answer without per-element results: nothing proves the events were taken' } };
    const failures = (body.elements as { status?: number; message?: string }[]).flatMap((e, index) =>
      typeof e.status === 'number' && e.status >= 200 && e.status < 300
        ? []
        : [{ index, transient: typeof e.status === 'number' && (e.status === 429 || e.status >= 500), error: { code: `element_${e.status ?? 'unknown'}`, message: String(e.message || 'not created').slice(0, 500) } }],
    );
    return failures.length ? { kind: 'partial', failures } : { kind: 'ok' };
  }
  return { kind: 'rejected-data', error };
}
