import type { PlatformError, PlatformResponse, ResponseVerdict } from '#destinations/types.ts';

/**
 * Classifies a Google Ads API answer on Google's own error codes (platforms.md §3.7; errors/*.proto):
 * - a 200 with `partialFailureError` fails only the operations its errors point at (`location.fieldPathElements`
 *   `conversions[i]` / `conversion_adjustments[i]`), each with its code, e.g. `conversionUploadError.CLICK_NOT_FOUND`;
 * - "already there" codes mean an earlier attempt (or the Google tag) delivered it: success;
 * - "too recent" codes are retried hours later, not dead-lettered;
 * - 401 is an expired or revoked access token: retried (the caller drops its cached token);
 * - 403 and auth / permission / developer-token codes: nothing can succeed until the configuration is fixed;
 * - 429, RESOURCE_EXHAUSTED, 5xx and internal errors: retried with backoff.
 */

/** "This conversion reached Google before": the retry, or the pixel, already delivered it. */
const ALREADY_DELIVERED = new Set([
  'ORDER_ID_ALREADY_IN_USE',
  'DUPLICATE_ORDER_ID',
  'CLICK_CONVERSION_ALREADY_EXISTS',
  'DUPLICATE_CLICK_CONVERSION_IN_REQUEST',
  'CONVERSION_ALREADY_RETRACTED',
  'RESTATEMENT_ALREADY_EXISTS',
  'DUPLICATE_ADJUSTMENT_IN_REQUEST',
  'CONVERSION_ALREADY_ENHANCED',
  'DUPLICATE_ENHANCEMENT_IN_REQUEST',
  // A newer restatement of this conversion is already there: ours has nothing left to say.
  'MORE_RECENT_RESTATEMENT_FOUND',
]);

const HOUR = 3600;
/**
 * Retry later, after Google's own waiting time: a click less than 6 h old (TOO_RECENT_EVENT), an action created less
 * than 6 h ago (TOO_RECENT_CONVERSION_ACTION), an adjustment on a conversion less than 24 h old
 * (TOO_RECENT_CONVERSION); CONVERSION_NOT_FOUND for an adjustment usually means the upload is not processed yet.
 */
const RETRY_LATER_SECONDS: Record<string, number> = {
  TOO_RECENT_EVENT: 6 * HOUR,
  TOO_RECENT_CONVERSION_ACTION: 6 * HOUR,
  TOO_RECENT_CONVERSION: 24 * HOUR,
  CONVERSION_NOT_FOUND: 6 * HOUR,
};

/** Error families where anything is worth retrying with backoff. */
const TRANSIENT_FAMILIES = new Set(['internalError', 'quotaError']);
/** Families meaning credentials, access or account setup: the whole request is refused. */
const CONFIGURATION_FAMILIES = new Set(['authenticationError', 'authorizationError', 'headerError', 'customerClientLinkError']);

export interface GoogleAdsError {
  errorCode?: Record<string, string>;
  message?: string;
  location?: { fieldPathElements?: { fieldName?: string; index?: number }[] };
  details?: { quotaErrorDetails?: { retryDelay?: string } };
}

interface RpcStatus {
  code?: number;
  message?: string;
  status?: string;
  details?: { '@type'?: string; errors?: GoogleAdsError[] }[];
}

export interface ClassifyOptions {
  /** Seconds to wait before retrying a "too recent" answer, instead of Google's documented hours (tests). */
  tooRecentRetrySeconds?: number;
}

export function classifyGoogleAdsResponse(res: PlatformResponse, opts: ClassifyOptions = {}): ResponseVerdict {
  const body = (typeof res.body === 'object' && res.body !== null ? res.body : {}) as { partialFailureError?: RpcStatus; error?: RpcStatus };
  if (res.status >= 200 && res.status < 300) {
    const errors = adsErrors(body.partialFailureError);
    if (errors.length === 0) return { kind: 'ok' };
    const failures = new Map<number, { index: number; transient: boolean; error: PlatformError; retryAfterSeconds?: number }>();
    for (const e of errors) {
      const index = operationIndex(e);
      const value = codeValue(e);
      if (index === undefined || ALREADY_DELIVERED.has(value) || failures.has(index)) continue;
      const delay = retryAfter(e, opts);
      const transient = delay !== undefined || TRANSIENT_FAMILIES.has(codeFamily(e));
      failures.set(index, { index, transient, error: errorOf(e), ...(delay !== undefined && { retryAfterSeconds: delay }) });
    }
    // An error with no operation index in a 200 would be a request-level error Google did not fail the call for.
    if (failures.size === 0 && errors.every((e) => operationIndex(e) === undefined)) {
      return { kind: 'transient', error: errorOf(errors[0]) };
    }
    return failures.size ? { kind: 'partial', failures: [...failures.values()] } : { kind: 'ok' };
  }

  const status = body.error;
  const errors = adsErrors(status);
  const first = errors[0];
  const error: PlatformError = first
    ? errorOf(first)
    : { code: status?.status ?? `http_${res.status}`, message: (status?.message ?? (typeof res.body === 'string' ? res.body : `HTTP ${res.status}`)).slice(0, 500) };
  if (res.status === 401 || status?.status === 'UNAUTHENTICATED') return { kind: 'transient', error: { ...error, code: first ? error.code : 'UNAUTHENTICATED' } };
  if (res.status === 429 || status?.status === 'RESOURCE_EXHAUSTED' || res.status >= 500 || errors.some((e) => TRANSIENT_FAMILIES.has(codeFamily(e)))) {
    const delay = first ? retryAfter(first, opts) : undefined;
    return { kind: 'transient', error, ...(delay !== undefined && { retryAfterSeconds: delay }) };
  }
  if (res.status === 403 || res.status === 404 || errors.some((e) => CONFIGURATION_FAMILIES.has(codeFamily(e)))) return { kind: 'rejected-batch', error };
  // A 400 whose errors point at operations: an event in the batch is at fault, so a split isolates it. Errors about
  // the request itself (customer ID, headers, limits) cannot be fixed by splitting.
  if (errors.length > 0 && errors.every((e) => operationIndex(e) === undefined)) return { kind: 'rejected-batch', error };
  return { kind: 'rejected-data', error };
}

function adsErrors(status: RpcStatus | undefined): GoogleAdsError[] {
  return (status?.details ?? []).flatMap((d) => (Array.isArray(d.errors) ? d.errors : []));
}

/** `conversions[3]` or `conversion_adjustments[3]` in the error's field path → 3. */
function operationIndex(e: GoogleAdsError): number | undefined {
  const first = e.location?.fieldPathElements?.[0];
  return first && typeof first.index === 'number' ? first.index : undefined;
}

const codeFamily = (e: GoogleAdsError) => Object.keys(e.errorCode ?? {})[0] ?? '';
const codeValue = (e: GoogleAdsError) => String(Object.values(e.errorCode ?? {})[0] ?? '');

function errorOf(e: GoogleAdsError): PlatformError {
  const family = codeFamily(e);
  return { code: family ? `${family}.${codeValue(e)}` : 'unknown', message: (e.message ?? 'no message').slice(0, 500) };
}

function retryAfter(e: GoogleAdsError, opts: ClassifyOptions): number | undefined {
  const later = RETRY_LATER_SECONDS[codeValue(e)];
  if (later !== undefined) return opts.tooRecentRetrySeconds ?? later;
  // Quota errors may say how long to back off: "retryDelay": "30s".
  const delay = /^(\d+(?:\.\d+)?)s$/.exec(e.details?.quotaErrorDetails?.retryDelay ?? '');
  return delay ? Math.ceil(Number(delay[1])) : undefined;
}
