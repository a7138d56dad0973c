import { bodyObject } from '#destinations/event-fields.ts';
import type { PlatformError, PlatformResponse, ResponseVerdict } from '#destinations/types.ts';

/**
 * Classifies an answer of `OfflineConversions/Apply` or `OfflineConversionAdjustments/Apply` (Campaign Management
 * API v13, REST). Codes from MicrosoftDocs/Advertising `guides/operation-error-codes.md` and
 * `guides/handle-service-errors-exceptions.md`:
 * - 200 `{"PartialErrors":[BatchError{Code, ErrorCode, Message, Index, FieldPath}]}`: the rows named by `Index` (the
 *   list is not aligned with the request) failed, every other one was applied. Per row, 5615 (a goal younger than
 *   2 hours) waits 2 h, 0 / 5612 (internal) are retried, the rest (unknown goal name 5606, click ID invalid 5604, time
 *   out of window 5609 / 5617, conversion before the click 5616, …) need a fix;
 * - a fault (`OperationErrors` / `Errors` / `BatchErrors`, any HTTP status): 117 CallRateExceeded waits 60 s (the
 *   guide), 0 / 5612 and 109 AuthenticationTokenExpired (the next attempt refreshes the token) are retried; batch
 *   errors with an index fail those rows and the rest is sent again (Microsoft ignores a conversion it already has:
 *   same click ID, goal and time); any other operation error (105 InvalidCredentials, 106 UserIsNotAuthorized,
 *   116 missing headers, 5613 offline conversions not enabled for the customer) needs someone to fix the setup;
 * - no error body: 401 (an expired token: refreshed next time), 408 / 429 / 5xx are retried; any other 4xx says
 *   something in the events is wrong, and the batch is split to find it.
 * The REST fault's exact JSON envelope is not shown in the reference; the element names are the SOAP ones, which the
 * REST reference keeps for every object, and all three list names are read.
 */
interface ApiError {
  Code?: unknown;
  ErrorCode?: unknown;
  Message?: unknown;
  Index?: unknown;
  FieldPath?: unknown;
}

const RETRIED = new Set([0, 109, 117, 5612, 5615]);
/** How long Microsoft says to wait: 117 "resubmit … after waiting 60 seconds"; 5615 "wait 2 hours after the goal was created". */
const WAIT_SECONDS: Record<number, number> = { 117: 60, 5615: 2 * 3600 };

function toError(e: ApiError, fallback: string): PlatformError {
  const code = typeof e.Code === 'number' ? e.Code : undefined;
  const name = typeof e.ErrorCode === 'string' && e.ErrorCode ? e.ErrorCode : undefined;
  return {
    code: code !== undefined ? `${code}${name ? `/${name}` : ''}` : (name ?? fallback),
    message: `${String(e.Message || name || 'failed')}${typeof e.FieldPath === 'string' && e.FieldPath ? ` (${e.FieldPath})` : ''}`.slice(0, 500),
  };
}

const numericCode = (e: ApiError) => (typeof e.Code === 'number' ? e.Code : undefined);
const list = (v: unknown): ApiError[] => (Array.isArray(v) ? (v as ApiError[]).filter((e) => typeof e === 'object' && e !== null) : []);

function rowFailures(errors: ApiError[], fallback: string) {
  return errors
    .filter((e) => typeof e.Index === 'number' && Number.isInteger(e.Index) && e.Index >= 0)
    .map((e) => {
      const code = numericCode(e);
      const wait = code === undefined ? undefined : WAIT_SECONDS[code];
      return {
        index: e.Index as number,
        transient: code !== undefined && RETRIED.has(code),
        error: toError(e, fallback),
        ...(wait !== undefined && { retryAfterSeconds: wait }),
      };
    });
}

export function classifyOfflineResponse(res: PlatformResponse): ResponseVerdict {
  const body = bodyObject(res);
  const fallback = `http_${res.status}`;
  if (res.status >= 200 && res.status < 300) {
    const failures = rowFailures(list(body.PartialErrors), fallback);
    return failures.length ? { kind: 'partial', failures } : { kind: 'ok' };
  }
  const operation = [...list(body.OperationErrors), ...list(body.Errors)];
  const rows = list(body.BatchErrors);
  const all = [...operation, ...rows];
  const retried = all.find((e) => RETRIED.has(numericCode(e) ?? -1));
  if (retried) {
    const wait = WAIT_SECONDS[numericCode(retried)!];
    return { kind: 'transient', error: toError(retried, fallback), ...(wait !== undefined && { retryAfterSeconds: wait }) };
  }
  if (operation.length) return { kind: 'rejected-batch', error: toError(operation[0], fallback) };
  const failures = rowFailures(rows, fallback);
  if (failures.length) return { kind: 'partial', failures, resendOthers: true };
  const error = { code: fallback, message: String(body.Message || body.message || (typeof res.body === 'string' && res.body) || `HTTP ${res.status}`).slice(0, 500) };
  if (res.status === 401 || res.status === 408 || res.status === 429 || res.status >= 500) return { kind: 'transient', error };
  if (res.status === 403) return { kind: 'rejected-batch', error };
  return { kind: 'rejected-data', error };
}
