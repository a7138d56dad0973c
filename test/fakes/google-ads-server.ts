/**
 * Local fake of the Google Ads API conversion upload services and of Google's OAuth token endpoint, for unit and
 * end-to-end tests. It validates requests the way Google documents them (platforms.md §3; reference/rpc/v26
 * ConversionUploadService, ConversionAdjustmentUploadService, ClickConversion, ConversionAdjustment, UserIdentifier;
 * errors/*.proto) and answers in Google's REST shapes:
 * - request-level errors: `{"error":{"code","message","status","details":[GoogleAdsFailure]}}` with the gRPC↔HTTP
 *   mapping (UNAUTHENTICATED 401, PERMISSION_DENIED 403, NOT_FOUND 404, RESOURCE_EXHAUSTED 429, INVALID_ARGUMENT 400);
 * - row errors with partialFailure: HTTP 200, `partialFailureError` (google.rpc.Status, code 3) whose GoogleAdsFailure
 *   errors carry `location.fieldPathElements` `conversions[i]` / `conversion_adjustments[i]`, and `results` with an
 *   empty object for each failed row.
 * Dedup like Google: one conversion per order ID per conversion action (ORDER_ID_ALREADY_IN_USE / DUPLICATE_ORDER_ID),
 * one per click + date-time + action (CLICK_CONVERSION_ALREADY_EXISTS); a retraction of a retracted conversion is
 * CONVERSION_ALREADY_RETRACTED. Enum value choices where Google's docs name none are stated next to them.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, readBody } from './http.ts';

export interface GoogleAdsFakeOptions {
  customerId: string;
  /** The manager account the OAuth user signs in through; when set, `login-customer-id` must name it. */
  loginCustomerId?: string;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  /** Conversion action IDs that exist in the account. */
  conversionActions: string[];
  apiVersion?: string;
  /** Lifetime of issued access tokens (Google: 3599 s). */
  tokenTtlSeconds?: number;
  /** Adjustments on conversions younger than this fail with TOO_RECENT_CONVERSION (Google: 24 h). Default 0. */
  adjustmentMinConversionAgeMs?: number;
}

export interface ReceivedGoogleRequest {
  at: number;
  path: string;
  headers: Record<string, string>;
  body: any;
  status: number;
  response: any;
}

export interface UploadedConversion {
  customerId: string;
  conversion: any;
  at: number;
  retracted?: boolean;
  restatedValue?: number;
}

/** One GoogleAdsError: `{errorCode:{family:value}, message, location?}`. */
export interface GoogleAdsErrorSpec {
  family: string;
  value: string;
  message?: string;
}

type FailReply = { status: number; rpcStatus?: string; message?: string; errors?: GoogleAdsErrorSpec[] } | 'drop' | { delayMs: number };

export interface GoogleAdsFake {
  baseUrl: string;
  tokenUrl: string;
  requests: ReceivedGoogleRequest[];
  /** Successful refreshes and refused ones. */
  tokenRequests: { at: number; body: Record<string, string>; status: number }[];
  /** Click conversions Google kept (validateOnly and failed rows excluded). */
  conversions(): any[];
  uploads(): UploadedConversion[];
  adjustments(): any[];
  /** Invalidates every access token issued so far (as a revoked or expired token): the API answers 401. */
  expireTokens(): void;
  /** The next n API calls (not token calls) fail with this request-level answer, or (`delayMs`) are answered late. */
  failNext(n: number, reply: FailReply): void;
  /** Rows matching `pred` fail with this row error, `times` times (default: always). */
  failRowWhen(pred: (row: any) => boolean, error: GoogleAdsErrorSpec, times?: number): void;
  reset(): void;
  close(): Promise<void>;
}

export const MAX_OPERATIONS = 2000;
const MAX_USER_IDENTIFIERS = 5;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})([+-])(\d{2}):(\d{2})$/;
const SHA256 = /^[0-9a-f]{64}$/;
const CLICK_FIELDS = new Set(['gclid', 'gbraid', 'wbraid', 'conversionAction', 'conversionDateTime', 'conversionValue', 'currencyCode', 'orderId', 'externalAttributionData', 'customVariables', 'cartData', 'userIdentifiers', 'conversionEnvironment', 'consent', 'customerType', 'userIpAddress', 'sessionAttributesEncoded', 'sessionAttributesKeyValuePairs']);
const ADJUSTMENT_FIELDS = new Set(['gclidDateTimePair', 'orderId', 'conversionAction', 'adjustmentDateTime', 'adjustmentType', 'restatementValue', 'userIdentifiers', 'userAgent']);
const CONSENT_VALUES = new Set(['UNSPECIFIED', 'UNKNOWN', 'GRANTED', 'DENIED']);

/** Parses Google's date-time format to Unix ms, or undefined. */
export function parseGoogleDateTime(s: unknown): number | undefined {
  const m = typeof s === 'string' ? DATE_TIME.exec(s) : null;
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se, sign, oh, om] = m;
  const local = Date.UTC(+y, +mo - 1, +d, +h, +mi, +se);
  const check = new Date(local);
  if (check.getUTCMonth() !== +mo - 1 || check.getUTCDate() !== +d || +h > 23 || +mi > 59 || +se > 59 || +oh > 14 || +om > 59) return undefined;
  return local - (sign === '+' ? 1 : -1) * (+oh * 60 + +om) * 60_000;
}

const failureType = (version: string) => `type.googleapis.com/google.ads.googleads.${version}.errors.GoogleAdsFailure`;

export async function startGoogleAdsFake(opts: GoogleAdsFakeOptions): Promise<GoogleAdsFake> {
  const version = opts.apiVersion ?? 'v26';
  const ttl = opts.tokenTtlSeconds ?? 3599;
  const requests: ReceivedGoogleRequest[] = [];
  const tokenRequests: GoogleAdsFake['tokenRequests'] = [];
  const tokens = new Map<string, number>(); // token → expiry (ms)
  let uploads: UploadedConversion[] = [];
  let adjustments: any[] = [];
  let queue: FailReply[] = [];
  let rowRules: { pred: (row: any) => boolean; error: GoogleAdsErrorSpec; left: number }[] = [];
  let tokenCounter = 0;

  const requestId = () => randomBytes(11).toString('base64url');

  function rpcError(status: number, rpcStatus: string, message: string, errors: (GoogleAdsErrorSpec & { location?: any })[] = []) {
    return {
      error: {
        code: status,
        message,
        status: rpcStatus,
        details: errors.length
          ? [{ '@type': failureType(version), errors: errors.map((e) => ({ errorCode: { [e.family]: e.value }, message: e.message ?? e.value, ...(e.location && { location: e.location }) })), requestId: requestId() }]
          : [],
      },
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const raw = await readBody(req);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v ?? '')]));

    if (url.pathname === '/token') return handleToken(raw, headers, at, res);

    let body: any;
    try {
      body = raw ? JSON.parse(raw) : {};
    } catch {
      body = raw;
    }
    const record: ReceivedGoogleRequest = { at, path: url.pathname, headers, body, status: 0, response: undefined };
    requests.push(record);
    const reply = (status: number, response: any) => {
      record.status = status;
      record.response = response;
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'request-id': requestId() });
      res.end(JSON.stringify(response));
    };

    let injected = queue.shift();
    if (injected === 'drop') {
      req.socket.destroy();
      return;
    }
    if (injected && 'delayMs' in injected) {
      await new Promise((r) => setTimeout(r, (injected as { delayMs: number }).delayMs));
      injected = undefined;
    }
    if (injected) return reply(injected.status, rpcError(injected.status, injected.rpcStatus ?? 'UNAVAILABLE', injected.message ?? 'The service is currently unavailable.', injected.errors));

    const route = /^\/(v\d+)\/customers\/([^/:]+):(uploadClickConversions|uploadConversionAdjustments)$/.exec(url.pathname);
    if (!route || req.method !== 'POST') return reply(404, rpcError(404, 'NOT_FOUND', `Method not found: ${req.method} ${url.pathname}`));
    const [, pathVersion, customerId, method] = route;
    if (pathVersion !== version) return reply(404, rpcError(404, 'NOT_FOUND', `Version ${pathVersion} is not supported; this fake serves ${version}.`));

    // G-auth: Authorization: Bearer <OAuth access token>.
    const token = /^Bearer (\S+)$/.exec(headers.authorization ?? '')?.[1];
    const expiry = token ? tokens.get(token) : undefined;
    if (!token || expiry === undefined || expiry <= at) {
      return reply(401, rpcError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.'));
    }
    // Customer IDs are digits only, without dashes; login-customer-id likewise.
    if (!/^\d{10}$/.test(customerId)) {
      return reply(400, rpcError(400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.', [{ family: 'requestError', value: 'INVALID_CUSTOMER_ID', message: `Invalid customer ID '${customerId}'.` }]));
    }
    const login = headers['login-customer-id'];
    if (login !== undefined && !/^\d{10}$/.test(login)) {
      return reply(400, rpcError(400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.', [{ family: 'headerError', value: 'INVALID_LOGIN_CUSTOMER_ID', message: 'The login customer ID could not be validated.' }]));
    }
    if (customerId !== opts.customerId || (opts.loginCustomerId !== undefined && login !== opts.loginCustomerId)) {
      return reply(403, rpcError(403, 'PERMISSION_DENIED', 'The caller does not have permission', [{ family: 'authorizationError', value: 'USER_PERMISSION_DENIED', message: "User doesn't have permission to access customer. Note: If you're accessing a client customer, the manager's customer id must be set in the 'login-customer-id' header." }]));
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return reply(400, rpcError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.'));
    // G-proto: partial_failure is required and "should always be set to true" for these methods.
    if (body.partialFailure !== true) {
      return reply(400, rpcError(400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.', [{ family: 'fieldError', value: 'REQUIRED', message: 'partial_failure must be true.', location: { fieldPathElements: [{ fieldName: 'partial_failure' }] } }]));
    }
    const adjustmentsCall = method === 'uploadConversionAdjustments';
    const listName = adjustmentsCall ? 'conversionAdjustments' : 'conversions';
    const pathName = adjustmentsCall ? 'conversion_adjustments' : 'conversions';
    const rows = body[listName];
    if (!Array.isArray(rows) || rows.length === 0) {
      return reply(400, rpcError(400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.', [{ family: 'fieldError', value: 'REQUIRED', message: `${pathName} is required.`, location: { fieldPathElements: [{ fieldName: pathName }] } }]));
    }
    if (rows.length > MAX_OPERATIONS) {
      const family = adjustmentsCall ? 'conversionAdjustmentUploadError' : 'conversionUploadError';
      const value = adjustmentsCall ? 'TOO_MANY_ADJUSTMENTS_IN_REQUEST' : 'TOO_MANY_CONVERSIONS_IN_REQUEST';
      return reply(400, rpcError(400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.', [{ family, value, message: `At most ${MAX_OPERATIONS} operations a request.` }]));
    }
    // Proto JSON parsing fails the whole call (no GoogleAdsFailure), like Google's ESF for unknown fields and bad enums.
    for (let i = 0; i < rows.length; i++) {
      const problem = protoProblem(rows[i], adjustmentsCall, `${pathName}[${i}]`);
      if (problem) return reply(400, { error: { code: 400, message: problem, status: 'INVALID_ARGUMENT', details: [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: `${pathName}[${i}]`, description: problem }] }] } });
    }

    const validateOnly = body.validateOnly === true;
    const errors: any[] = [];
    const results: any[] = [];
    const seenOrders = new Set<string>();
    const fail = (i: number, spec: GoogleAdsErrorSpec, field?: string) =>
      errors.push({
        errorCode: { [spec.family]: spec.value },
        message: spec.message ?? spec.value,
        location: { fieldPathElements: [{ fieldName: pathName, index: i }, ...(field ? [{ fieldName: field }] : [])] },
      });
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      const problem = adjustmentsCall ? checkAdjustment(row, customerId, at) : checkClick(row, customerId, seenOrders);
      if (problem) {
        fail(i, problem.spec, problem.field);
        results.push({});
        continue;
      }
      const rule = rowRules.find((r) => r.left > 0 && r.pred(row));
      if (rule) {
        rule.left--;
        fail(i, rule.error);
        results.push({});
        continue;
      }
      if (adjustmentsCall) {
        if (!validateOnly) applyAdjustment(row, customerId);
        results.push({ conversionAction: row.conversionAction, adjustmentType: row.adjustmentType, adjustmentDateTime: row.adjustmentDateTime, orderId: row.orderId });
      } else {
        if (!validateOnly) uploads.push({ customerId, conversion: row, at });
        results.push({
          ...(row.gclid && { gclid: row.gclid }),
          ...(row.gbraid && { gbraid: row.gbraid }),
          ...(row.wbraid && { wbraid: row.wbraid }),
          conversionAction: row.conversionAction,
          conversionDateTime: row.conversionDateTime,
          ...(row.userIdentifiers && { userIdentifiers: row.userIdentifiers }),
        });
      }
    }
    const response: any = validateOnly ? {} : { results, jobId: String(2 ** 31 + requests.length) };
    if (errors.length) {
      const first = errors[0];
      response.partialFailureError = {
        code: 3,
        message: `${first.message}, at ${pathName}[${first.location.fieldPathElements[0].index}]`,
        details: [{ '@type': failureType(version), errors, requestId: requestId() }],
      };
    }
    return reply(200, response);
  }

  function handleToken(raw: string, headers: Record<string, string>, at: number, res: ServerResponse) {
    const body = Object.fromEntries(new URLSearchParams(raw));
    const answer = (status: number, response: any) => {
      tokenRequests.push({ at, body, status });
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache, no-store' });
      res.end(JSON.stringify(response));
    };
    // RFC 6749 §4.1.3/§6: form-encoded; errors as {error, error_description}.
    if (!String(headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')) return answer(400, { error: 'invalid_request', error_description: 'Content-Type must be application/x-www-form-urlencoded' });
    if (body.grant_type !== 'refresh_token') return answer(400, { error: 'unsupported_grant_type', error_description: `Invalid grant_type: ${body.grant_type ?? ''}` });
    if (body.client_id !== opts.clientId || body.client_secret !== opts.clientSecret) return answer(401, { error: 'invalid_client', error_description: 'Unauthorized' });
    if (body.refresh_token !== opts.refreshToken) return answer(400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
    const token = `ya29.fake-${++tokenCounter}-${randomBytes(6).toString('hex')}`;
    tokens.set(token, at + ttl * 1000);
    return answer(200, { access_token: token, expires_in: ttl, scope: 'https://www.googleapis.com/auth/adwords', token_type: 'Bearer' });
  }

  function protoProblem(row: any, adjustment: boolean, path: string): string | undefined {
    if (typeof row !== 'object' || row === null || Array.isArray(row)) return `Invalid value at '${path}': not an object`;
    const known = adjustment ? ADJUSTMENT_FIELDS : CLICK_FIELDS;
    for (const k of Object.keys(row)) if (!known.has(k)) return `Invalid JSON payload received. Unknown name "${k}" at '${path}': Cannot find field.`;
    if (row.consent !== undefined) {
      for (const [k, v] of Object.entries(row.consent ?? {})) {
        if (k !== 'adUserData' && k !== 'adPersonalization') return `Invalid JSON payload received. Unknown name "${k}" at '${path}.consent': Cannot find field.`;
        if (!CONSENT_VALUES.has(String(v))) return `Invalid value at '${path}.consent.${k}' (type.googleapis.com/google.ads.googleads.${version}.enums.ConsentStatusEnum.ConsentStatus), "${String(v)}"`;
      }
    }
    if (row.conversionValue !== undefined && typeof row.conversionValue !== 'number') return `Invalid value at '${path}.conversion_value' (TYPE_DOUBLE), "${String(row.conversionValue)}"`;
    return undefined;
  }

  /** `customers/{cid}/conversionActions/{id}` naming this customer and an existing action. */
  function checkAction(resource: unknown, customerId: string): { spec: GoogleAdsErrorSpec; field: string } | undefined {
    const m = typeof resource === 'string' ? /^customers\/(\d+)\/conversionActions\/(\d+)$/.exec(resource) : null;
    if (!m) return { spec: { family: 'fieldError', value: 'REQUIRED', message: 'The conversion action resource name is required: customers/{customer_id}/conversionActions/{conversion_action_id}.' }, field: 'conversion_action' };
    if (m[1] !== customerId || !opts.conversionActions.includes(m[2])) {
      return { spec: { family: 'conversionUploadError', value: 'NO_CONVERSION_ACTION_FOUND', message: 'The conversion action specified in the upload request cannot be found. Make sure it\'s available in this account.' }, field: 'conversion_action' };
    }
    return undefined;
  }

  function checkClick(row: any, customerId: string, seenOrders: Set<string>): { spec: GoogleAdsErrorSpec; field?: string } | undefined {
    const action = checkAction(row.conversionAction, customerId);
    if (action) return action;
    const when = parseGoogleDateTime(row.conversionDateTime);
    if (when === undefined) {
      return { spec: { family: 'dateError', value: 'INVALID_FIELD_VALUES_IN_DATE_TIME', message: 'The field values in the date time are invalid: expected yyyy-mm-dd hh:mm:ss+|-hh:mm.' }, field: 'conversion_date_time' };
    }
    if (when > Date.now() + 60_000) return { spec: { family: 'dateError', value: 'LATER_THAN_MAXIMUM_DATE', message: 'The conversion date time is in the future.' }, field: 'conversion_date_time' };
    const clickKeys = ['gclid', 'gbraid', 'wbraid'].filter((k) => typeof row[k] === 'string' && row[k] !== '');
    if (row.gbraid && row.wbraid) return { spec: { family: 'conversionUploadError', value: 'GBRAID_WBRAID_BOTH_SET', message: 'Only one of gbraid or wbraid may be set.' }, field: 'wbraid' };
    // The proto allows only one click identifier; Google names no dedicated code for gclid + a braid, so this fake uses
    // fieldError.VALUE_MUST_BE_UNSET on the second one.
    if (clickKeys.length > 1) return { spec: { family: 'fieldError', value: 'VALUE_MUST_BE_UNSET', message: `Only one click identifier may be set, got ${clickKeys.join(' and ')}.` }, field: clickKeys[1] };
    const ids = row.userIdentifiers;
    if (ids !== undefined) {
      if (!Array.isArray(ids)) return { spec: { family: 'conversionUploadError', value: 'INVALID_USER_IDENTIFIER', message: 'user_identifiers must be a list.' }, field: 'user_identifiers' };
      if (ids.length > MAX_USER_IDENTIFIERS) return { spec: { family: 'collectionSizeError', value: 'TOO_MANY', message: `At most ${MAX_USER_IDENTIFIERS} user identifiers.` }, field: 'user_identifiers' };
      for (const id of ids) {
        const kinds = Object.keys(id ?? {}).filter((k) => k !== 'userIdentifierSource');
        if (kinds.includes('addressInfo') || kinds.includes('mobileId') || kinds.includes('thirdPartyUserId')) {
          return { spec: { family: 'conversionUploadError', value: 'UNSUPPORTED_USER_IDENTIFIER', message: 'Only hashed_email and hashed_phone_number are supported for conversion uploads.' }, field: 'user_identifiers' };
        }
        // UserIdentifier is a oneof: exactly one identifier, as SHA-256 hex.
        if (kinds.length !== 1 || !SHA256.test(String(id[kinds[0]]))) {
          return { spec: { family: 'conversionUploadError', value: 'INVALID_USER_IDENTIFIER', message: 'The user identifier must be exactly one of hashed_email / hashed_phone_number, hashed with SHA-256 (hex).' }, field: 'user_identifiers' };
        }
      }
    }
    if (clickKeys.length === 0 && !(Array.isArray(ids) && ids.length > 0)) {
      return { spec: { family: 'fieldError', value: 'REQUIRED', message: 'A click identifier (gclid, gbraid or wbraid) or user identifiers are required.' } };
    }
    if (row.currencyCode !== undefined && !/^[A-Z]{3}$/.test(String(row.currencyCode))) return { spec: { family: 'currencyCodeError', value: 'UNSUPPORTED', message: 'The currency code is not supported.' }, field: 'currency_code' };
    const actionId = String(row.conversionAction);
    if (row.orderId !== undefined) {
      const key = `${customerId}|${actionId}|${row.orderId}`;
      if (seenOrders.has(key)) return { spec: { family: 'conversionUploadError', value: 'DUPLICATE_ORDER_ID', message: 'Request contains two conversions with the same order ID and conversion action.' } };
      seenOrders.add(key);
      if (uploads.some((u) => u.customerId === customerId && u.conversion.conversionAction === actionId && u.conversion.orderId === row.orderId)) {
        return { spec: { family: 'conversionUploadError', value: 'ORDER_ID_ALREADY_IN_USE', message: 'The order ID has already been used for this conversion action.' }, field: 'order_id' };
      }
    }
    if (row.gclid && uploads.some((u) => u.conversion.gclid === row.gclid && u.conversion.conversionAction === actionId && u.conversion.conversionDateTime === row.conversionDateTime)) {
      return { spec: { family: 'conversionUploadError', value: 'CLICK_CONVERSION_ALREADY_EXISTS', message: 'A conversion with this click, conversion action and date-time already exists.' } };
    }
    return undefined;
  }

  function checkAdjustment(row: any, customerId: string, now: number): { spec: GoogleAdsErrorSpec; field?: string } | undefined {
    const family = 'conversionAdjustmentUploadError';
    const action = checkAction(row.conversionAction, customerId);
    if (action) return action.spec.value === 'NO_CONVERSION_ACTION_FOUND' ? { spec: { ...action.spec, family }, field: action.field } : action;
    const when = parseGoogleDateTime(row.adjustmentDateTime);
    if (when === undefined) return { spec: { family: 'dateError', value: 'INVALID_FIELD_VALUES_IN_DATE_TIME', message: 'The field values in the date time are invalid.' }, field: 'adjustment_date_time' };
    if (!['RETRACTION', 'RESTATEMENT', 'ENHANCEMENT'].includes(row.adjustmentType)) return { spec: { family: 'fieldError', value: 'REQUIRED', message: 'adjustment_type is required.' }, field: 'adjustment_type' };
    if (row.orderId && row.gclidDateTimePair) return { spec: { family, value: 'GCLID_DATE_TIME_PAIR_AND_ORDER_ID_BOTH_SET', message: 'Both gclid_date_time_pair and order_id are set.' } };
    if (!row.orderId) return { spec: { family: 'fieldError', value: 'REQUIRED', message: 'order_id is required to identify the conversion.' }, field: 'order_id' };
    if (row.adjustmentType === 'RESTATEMENT' && typeof row.restatementValue?.adjustedValue !== 'number') return { spec: { family: 'fieldError', value: 'REQUIRED', message: 'restatement_value.adjusted_value is required for a restatement.' }, field: 'restatement_value' };
    if (row.adjustmentType === 'RETRACTION' && row.restatementValue !== undefined) return { spec: { family: 'fieldError', value: 'VALUE_MUST_BE_UNSET', message: 'restatement_value must not be set for a retraction.' }, field: 'restatement_value' };
    const original = uploads.find((u) => u.customerId === customerId && u.conversion.conversionAction === row.conversionAction && u.conversion.orderId === row.orderId);
    if (!original) return { spec: { family, value: 'CONVERSION_NOT_FOUND', message: 'The conversion for this adjustment could not be found. Make sure the order ID and conversion action match an uploaded conversion.' } };
    if (now - original.at < (opts.adjustmentMinConversionAgeMs ?? 0)) return { spec: { family, value: 'TOO_RECENT_CONVERSION', message: 'The conversion was uploaded too recently; retry after 24 hours.' } };
    if (when < (parseGoogleDateTime(original.conversion.conversionDateTime) ?? 0)) return { spec: { family, value: 'ADJUSTMENT_PRECEDES_CONVERSION', message: 'The adjustment date time precedes the conversion.' }, field: 'adjustment_date_time' };
    if (original.retracted) return { spec: { family, value: 'CONVERSION_ALREADY_RETRACTED', message: 'The conversion has already been retracted.' } };
    if (row.adjustmentType === 'RESTATEMENT' && adjustments.some((a) => a.orderId === row.orderId && a.adjustmentType === 'RESTATEMENT' && a.adjustmentDateTime === row.adjustmentDateTime)) {
      return { spec: { family, value: 'RESTATEMENT_ALREADY_EXISTS', message: 'A restatement with this adjustment date time already exists.' } };
    }
    return undefined;
  }

  function applyAdjustment(row: any, customerId: string) {
    adjustments.push(row);
    const original = uploads.find((u) => u.customerId === customerId && u.conversion.conversionAction === row.conversionAction && u.conversion.orderId === row.orderId)!;
    if (row.adjustmentType === 'RETRACTION') original.retracted = true;
    if (row.adjustmentType === 'RESTATEMENT') original.restatedValue = row.restatementValue.adjustedValue;
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 500, status: 'INTERNAL', message: `Google Ads fake internal error: ${String(err)}` } }));
    });
  });
  const listening = await listenOnLoopback(server);
  const baseUrl = listening.baseUrl;

  return {
    baseUrl,
    tokenUrl: `${baseUrl}/token`,
    requests,
    tokenRequests,
    conversions: () => uploads.map((u) => u.conversion),
    uploads: () => uploads,
    adjustments: () => adjustments,
    expireTokens: () => {
      for (const t of tokens.keys()) tokens.set(t, 0);
    },
    failNext: (n, reply) => {
      for (let i = 0; i < n; i++) queue.push(reply);
    },
    failRowWhen: (pred, error, times = Infinity) => {
      rowRules.push({ pred, error, left: times });
    },
    reset: () => {
      requests.length = 0;
      tokenRequests.length = 0;
      uploads = [];
      adjustments = [];
      queue = [];
      rowRules = [];
    },
    close: listening.close,
  };
}
