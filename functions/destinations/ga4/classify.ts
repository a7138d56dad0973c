import type { PlatformError, PlatformResponse, ResponseVerdict } from '#destinations/types.ts';

/**
 * `/mp/collect` answers 2xx to anything it received, valid or not (GA-ref): a 2xx is all it will ever say, so payloads
 * are validated before sending (schema.ts). Non-2xx means the request did not get through: 429 / 5xx are retried,
 * 401 / 403 / 404 (a proxy refusing us, a wrong base URL) stop the batch.
 *
 * The validation server (`/debug/mp/collect`, GA4_VALIDATE) answers `{validationMessages: [{fieldPath, description,
 * validationCode}]}` (GA-val). Messages that name an event (`events[2]…`, or "Event at index: [2]" in the description)
 * fail that event only; one that names no event (the client ID, the request) concerns them all.
 */
interface ValidationMessage {
  fieldPath?: string;
  description?: string;
  validationCode?: string;
}

export function classifyGa4Response(res: PlatformResponse): ResponseVerdict {
  const httpError = { code: `http_${res.status}`, message: `HTTP ${res.status}${typeof res.body === 'string' && res.body ? `: ${res.body.slice(0, 200)}` : ''}` };
  if (res.status === 429 || res.status >= 500) return { kind: 'transient', error: httpError };
  if (res.status < 200 || res.status >= 300) {
    return res.status === 401 || res.status === 403 || res.status === 404 ? { kind: 'rejected-batch', error: httpError } : { kind: 'rejected-data', error: httpError };
  }
  const messages = (res.body as { validationMessages?: unknown } | undefined)?.validationMessages;
  if (!Array.isArray(messages) || messages.length === 0) return { kind: 'ok' };

  const failures = new Map<number, PlatformError>();
  let requestLevel: PlatformError | undefined;
  for (const m of messages as ValidationMessage[]) {
    const error = { code: m.validationCode || 'VALIDATION_ERROR', message: `${m.fieldPath ?? ''}: ${m.description ?? ''}`.slice(0, 500) };
    const index = eventIndex(m);
    if (index === undefined) requestLevel ??= error;
    else if (!failures.has(index)) failures.set(index, error);
  }
  if (requestLevel) return { kind: 'rejected-data', error: requestLevel };
  return { kind: 'partial', failures: [...failures].map(([index, error]) => ({ index, transient: false, error })) };
}

function eventIndex(m: ValidationMessage): number | undefined {
  const fromPath = /^events\[(\d+)\]/.exec(m.fieldPath ?? '');
  if (fromPath) return Number(fromPath[1]);
  if ((m.fieldPath ?? '').startsWith('events')) {
    const fromText = /index:?\s*\[(\d+)\]/i.exec(m.description ?? '');
    if (fromText) return Number(fromText[1]);
  }
  return undefined;
}
