import { SHA256_HEX, startConversionApiFake, type ConversionApiFake } from './conversion-api-fake.ts';

/**
 * Microsoft Advertising as documented (MicrosoftDocs/Advertising@a21125d; platforms-more.md §5), on one loopback server:
 * - the UET Conversions API `POST /v1/{tagId}/events`: Bearer token of that tag (else 401 Unauthorized); `data` of
 *   1..1000; per event `eventType` pageLoad|custom, `eventTime` integer **seconds** within the last 7 days,
 *   `eventSourceUrl` for pageLoad, `userData` with at least one of anonymousId / externalId / em / ph / msclkid / idfa
 *   / gaid, `msclkid` a UUID, `adStorageConsent` G|D; a malformed `em` / `ph` (not lowercase SHA-256 hex), currency or
 *   pageType is a *warning*: the field is dropped, the event kept. Any error → 400 ValidationError (first 10 details),
 *   nothing kept, unless `continueOnValidationError`;
 * - Microsoft's identity platform `POST /oauth2/v2.0/token` (refresh grant with the Bing Ads scope; a public client
 *   must not send a secret);
 * - Campaign Management v13 `OfflineConversions/Apply` and `OfflineConversionAdjustments/Apply`: OAuth bearer,
 *   DeveloperToken, CustomerId, CustomerAccountId; ≤ 1,000 rows (5601); per row the goal name (5606), a UTC
 *   ConversionTime within 90 days (5607 / 5609 / 5614), an msclkid or hashed e-mail / phone (5603, 8004 when not
 *   hashed), adjustment type and values (5618–5625); failed rows in `PartialErrors` by Index; a duplicate (same click,
 *   goal and time) is ignored.
 */
export interface MicrosoftFakeOptions {
  tagId: string;
  capiToken: string;
  offline?: { developerToken: string; customerId: string; accountId: string; clientId: string; clientSecret?: string; refreshToken: string; goals: string[] };
}

export interface MicrosoftFake extends ConversionApiFake<any> {
  tokenUrl: string;
  /** Offline rows kept (conversions and adjustments), apart from the CAPI events. */
  offlineRows(): any[];
  /** Every access token issued so far stops working (expired): the API answers 109. */
  expireTokens(): void;
  tokenRequests(): Record<string, string>[];
}

const DAY_S = 86400;
const UUID = /^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;
const LOWER_SHA256 = SHA256_HEX;
const PAGE_TYPES = new Set(['cart', 'category', 'home', 'other', 'product', 'purchase', 'searchresults']);
const IDENTIFIERS = ['anonymousId', 'externalId', 'em', 'ph', 'msclkid', 'idfa', 'gaid'];

interface Detail {
  index: number;
  propertyName: string;
  errorMessage: string;
  errorCode: string;
  isWarning: boolean;
  attemptedValue?: unknown;
}

/** The errors and warnings of one CAPI event; warnings remove their field from `e` (as Microsoft does). */
export function uetEventDetails(e: any, index: number, nowSeconds: number): Detail[] {
  const out: Detail[] = [];
  const p = (path: string) => `data[${index}].${path}`;
  const error = (path: string, errorCode: string, errorMessage: string, attemptedValue?: unknown) => out.push({ index, propertyName: p(path), errorMessage, errorCode, isWarning: false, ...(attemptedValue !== undefined && { attemptedValue }) });
  const warn = (obj: any, key: string, path: string, errorCode: string, errorMessage: string) => {
    out.push({ index, propertyName: p(path), errorMessage, errorCode, isWarning: true });
    delete obj[key];
  };
  if (e?.eventType !== 'pageLoad' && e?.eventType !== 'custom') error('eventType', 'InvalidEnumValue', "'eventType' must be one of the following: pageLoad, custom.");
  if (e?.eventTime === undefined) error('eventTime', 'Empty', "'eventTime' must not be empty.");
  else if (!Number.isInteger(e.eventTime) || e.eventTime < nowSeconds - 7 * DAY_S || e.eventTime > nowSeconds + 300) {
    error('eventTime', 'InvalidEventTime', "'eventTime' must be a valid UNIX UTC timestamp in seconds within last 7 days.", e.eventTime);
  }
  if (e?.eventType === 'pageLoad' && !e.eventSourceUrl) error('eventSourceUrl', 'Empty', "'eventSourceUrl' must not be empty for pageLoad events.");
  if (e?.eventSourceUrl !== undefined && !URL.canParse(e.eventSourceUrl)) error('eventSourceUrl', 'InvalidUrl', "'eventSourceUrl' must be a valid URL.");
  if (e?.adStorageConsent !== undefined && e.adStorageConsent !== 'G' && e.adStorageConsent !== 'D') error('adStorageConsent', 'InvalidEnumValue', "'adStorageConsent' must be one of the following: G, D.");
  const u = e?.userData;
  if (typeof u !== 'object' || u === null) error('userData', 'Empty', "'userData' must not be empty.");
  else {
    for (const key of ['em', 'ph']) if (key in u && !(typeof u[key] === 'string' && LOWER_SHA256.test(u[key]))) warn(u, key, `userData.${key}`, 'InvalidSha256', `'${key}' must be a valid SHA256 string.`);
    if ('msclkid' in u && !(typeof u.msclkid === 'string' && UUID.test(u.msclkid))) error('userData.msclkid', 'InvalidUuid', "'msclkid' must be a valid UUID.", u.msclkid);
    if (!IDENTIFIERS.some((k) => typeof u[k] === 'string' && u[k])) error('userData', 'MissingIdentifier', "'userData' must include at least one of anonymousId, externalId, em, ph, msclkid, idfa, gaid.");
  }
  const c = e?.customData;
  if (c && typeof c === 'object') {
    if (c.value !== undefined && typeof c.value !== 'number') error('customData.value', 'InvalidNumber', "'value' must be a number.");
    if (c.currency !== undefined && !/^[A-Z]{3}$/.test(c.currency)) warn(c, 'currency', 'customData.currency', 'InvalidCurrency', "'currency' must be a 3-letter ISO 4217 code.");
    if (c.pageType !== undefined && !PAGE_TYPES.has(c.pageType)) warn(c, 'pageType', 'customData.pageType', 'InvalidEnumValue', "'pageType' is not supported.");
  }
  return out;
}

const opError = (Code: number, ErrorCode: string, Message: string) => ({ TrackingId: 'fake-tracking-id', Type: 'ApiFaultDetail', BatchErrors: [], OperationErrors: [{ Code, ErrorCode, Message, Details: null }] });
const rowError = (Index: number, Code: number, ErrorCode: string, Message: string, FieldPath?: string) => ({ Code, ErrorCode, Message, Index, FieldPath: FieldPath ?? null, Details: null, Type: 'BatchError' });

function utcTime(v: unknown): number | undefined {
  return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(v) ? Date.parse(v) : undefined;
}

export async function startMicrosoftFake(opts: MicrosoftFakeOptions): Promise<MicrosoftFake> {
  const tokens = new Map<string, boolean>(); // token → still valid
  const tokenRequests: Record<string, string>[] = [];
  const rows: any[] = [];
  let issued = 0;

  const token = (body: Record<string, string>) => {
    tokenRequests.push(body);
    const o = opts.offline;
    const bad = (error: string, error_description: string) => ({ status: 400, body: { error, error_description } });
    if (!o) return bad('invalid_client', 'no such application');
    if (body.grant_type !== 'refresh_token') return bad('unsupported_grant_type', 'refresh_token expected');
    if (body.client_id !== o.clientId) return bad('invalid_client', 'AADSTS700016: Application not found');
    if (!o.clientSecret && body.client_secret !== undefined) return bad('invalid_request', "Public clients can't send a client secret.");
    if (o.clientSecret && body.client_secret !== o.clientSecret) return bad('invalid_client', 'AADSTS7000215: Invalid client secret provided.');
    if (!String(body.scope ?? '').split(' ').includes('https://ads.microsoft.com/msads.manage')) return bad('invalid_scope', 'The scope https://ads.microsoft.com/msads.manage is required.');
    if (body.refresh_token !== o.refreshToken) return bad('invalid_grant', 'The user could not be authenticated or the grant is expired.');
    const access = `ms-fake-${++issued}`;
    tokens.set(access, true);
    return { status: 200, body: { token_type: 'Bearer', scope: 'https://ads.microsoft.com/msads.manage', expires_in: 3600, access_token: access, refresh_token: `${o.refreshToken}-rotated-${issued}` } };
  };

  const capi = (tagId: string, headers: Record<string, unknown>, body: any) => {
    if (tagId !== opts.tagId || headers.authorization !== `Bearer ${opts.capiToken}`) return { status: 401, body: { error: { code: 'Unauthorized', message: 'You are not authorized to access this resource.' } } };
    if (!Array.isArray(body?.data) || body.data.length < 1 || body.data.length > 1000) {
      return { status: 400, body: { error: { code: 'ValidationError', message: 'One or multiple parameters did not pass validation checks, see details.', details: [{ propertyName: 'data', errorMessage: "'data' must hold 1 to 1000 events.", errorCode: 'InvalidLength', isWarning: false }] } } };
    }
    const now = Math.floor(Date.now() / 1000);
    const events = structuredClone(body.data) as any[];
    const details = events.flatMap((e, i) => uetEventDetails(e, i, now));
    const failed = new Set(details.filter((d) => !d.isWarning).map((d) => d.index));
    const shown = details.slice(0, 10);
    const valid = events.filter((_, i) => !failed.has(i));
    const message = 'One or multiple parameters did not pass validation checks, see details. Note that only the first 10 errors and warnings are shown.';
    if (failed.size && (!body.continueOnValidationError || valid.length === 0)) return { status: 400, body: { error: { code: 'ValidationError', message, details: shown } } };
    return { status: 200, body: { eventsReceived: valid.length, ...(shown.length && { error: { code: failed.size ? 'ValidationError' : 'ValidationWarning', message, details: shown } }) }, accepted: valid };
  };

  const offline = (operation: 'OfflineConversions' | 'OfflineConversionAdjustments', headers: Record<string, unknown>, body: any) => {
    const o = opts.offline;
    const bearer = /^Bearer (\S+)$/.exec(String(headers.authorization ?? ''))?.[1];
    if (!o || !bearer || !tokens.has(bearer)) return { status: 401, body: opError(105, 'InvalidCredentials', 'Authentication failed. Either supplied credentials are invalid or the account is inactive') };
    if (!tokens.get(bearer)) return { status: 401, body: opError(109, 'AuthenticationTokenExpired', 'Authentication token expired. Please renew it or obtain a new token.') };
    if (headers.developertoken !== o.developerToken) return { status: 401, body: opError(105, 'InvalidCredentials', 'Authentication failed. Invalid developer token.') };
    if (!headers.customerid || !headers.customeraccountid) return { status: 400, body: opError(116, 'RequestMissingHeaders', 'One or more required header elements are missing from the request.') };
    if (headers.customerid !== o.customerId || headers.customeraccountid !== o.accountId) return { status: 400, body: opError(106, 'UserIsNotAuthorized', 'The user is not authorized to perform this action.') };
    const list = body?.[operation];
    if (!Array.isArray(list) || list.length === 0) return { status: 400, body: opError(5600, 'OfflineConversionsNullOrEmpty', 'The list of offline conversions cannot be null or empty.') };
    if (list.length > 1000) return { status: 400, body: opError(5601, 'OfflineConversionsLimitExceeded', 'The list of offline conversions exceeds the limit.') };
    const now = Date.now();
    const errors: any[] = [];
    const kept: any[] = [];
    list.forEach((r: any, i: number) => {
      const fail = (code: number, name: string, message: string, field?: string) => errors.push(rowError(i, code, name, message, field));
      const time = utcTime(r?.ConversionTime);
      if (!o.goals.includes(r?.ConversionName)) return fail(5606, 'OfflineConversionNameInvalid', 'The conversion name do not match an existing offline conversion goal.', 'ConversionName');
      if (r?.ConversionTime === undefined) return fail(5608, 'OfflineConversionTimeNullOrEmpty', 'The conversion time of offline conversion cannot be null or empty .', 'ConversionTime');
      if (time === undefined) return fail(5607, 'OfflineConversionTimeInvalid', 'The conversion time of offline conversion is invalid.', 'ConversionTime');
      if (time > now + 60_000) return fail(5614, 'FutureConversionTimeCannotBeSet', 'A future conversion time cannot be set.', 'ConversionTime');
      if (time < now - 90 * DAY_S * 1000) return fail(5609, 'OfflineConversionTimeOutOfWindow', 'The conversion time is out of the conversion window.', 'ConversionTime');
      if (!r.MicrosoftClickId && !r.HashedEmailAddress && !r.HashedPhoneNumber) return fail(5603, 'OfflineConversionMicrosoftClickIdNullOrEmpty', 'The Microsoft Click Id of offline conversion cannot be null or empty.', 'MicrosoftClickId');
      if (r.MicrosoftClickId !== undefined && !UUID.test(String(r.MicrosoftClickId))) return fail(5604, 'OfflineConversionMicrosoftClickIdInvalid', 'The Microsoft Click Id of the offline conversion is invalid.', 'MicrosoftClickId');
      for (const k of ['HashedEmailAddress', 'HashedPhoneNumber']) if (r[k] !== undefined && !LOWER_SHA256.test(String(r[k]))) return fail(8004, 'EmailMustBeHashed', `${k} can't be in plain text and must be hashed.`, k);
      if (operation === 'OfflineConversions') {
        if (r.ConversionValue !== undefined && typeof r.ConversionValue !== 'number') return fail(5610, 'OfflineConversionValueInvalid', 'The conversion value of offline conversion is invalid.', 'ConversionValue');
        if (r.ConversionCurrencyCode !== undefined && !/^[A-Z]{3}$/.test(r.ConversionCurrencyCode)) return fail(5611, 'OfflineConversionCurrencyCodeInvalid', 'The currency code of offline conversion is invalid.', 'ConversionCurrencyCode');
      } else {
        const at = utcTime(r.AdjustmentTime);
        if (r.AdjustmentType !== 'Retract' && r.AdjustmentType !== 'Restate') return fail(5618, 'OfflineConversionInvalidAdjustmentType', 'The offline conversion adjustment type is invalid.', 'AdjustmentType');
        if (r.AdjustmentTime === undefined) return fail(5619, 'OfflineConversionAdjustmentTimeNullOrEmpty', 'The offline conversion adjustment time is empty.', 'AdjustmentTime');
        if (at === undefined) return fail(5621, 'OfflineConversionAdjustmentTimeInvalid', 'The offline conversion adjustment time is invalid.', 'AdjustmentTime');
        if (at < time) return fail(5620, 'OfflineConversionAdjustmentTimeEarlierThanConversionTime', 'The offline conversion adjustment time is earlier than conversion time.', 'AdjustmentTime');
        if (at > now + 60_000) return fail(5622, 'OfflineConversionFutureAdjustmentTimeCannotBeSet', 'The offline conversion adjustment time cannot be in the future.', 'AdjustmentTime');
        if (r.AdjustmentType === 'Restate' && typeof r.AdjustmentValue !== 'number') return fail(5625, 'OfflineConversionAdjustmentValueRequired', 'The offline conversion adjustment value is required.', 'AdjustmentValue');
        if (r.AdjustmentType === 'Retract' && r.AdjustmentValue !== undefined) return fail(5624, 'OfflineConversionAdjustmentValueNotExpected', 'The offline conversion adjustment value is not expected.', 'AdjustmentValue');
      }
      // "The same conversion can't be applied more than once … the first instance will be used and the others ignored."
      const key = (x: any) => `${operation}|${x.ConversionName}|${x.ConversionTime}|${x.MicrosoftClickId ?? x.HashedEmailAddress ?? x.HashedPhoneNumber}|${x.AdjustmentType ?? ''}`;
      if (!rows.some((x) => key(x) === key(r)) && !kept.some((x) => key(x) === key(r))) kept.push({ ...r, operation });
    });
    rows.push(...kept);
    return { status: 200, body: { PartialErrors: errors }, accepted: kept };
  };

  const fake = await startConversionApiFake<any>(
    (body) => (Array.isArray(body?.data) ? body.data : Array.isArray(body?.OfflineConversions) ? body.OfflineConversions : Array.isArray(body?.OfflineConversionAdjustments) ? body.OfflineConversionAdjustments : []),
    ({ url, headers, body }) => {
      const tag = /^\/v1\/([^/]+)\/events$/.exec(url.pathname);
      if (tag) return capi(decodeURIComponent(tag[1]), headers, body);
      if (url.pathname === '/oauth2/v2.0/token') return token(body);
      const op = /^\/CampaignManagement\/v13\/(OfflineConversions|OfflineConversionAdjustments)\/Apply$/.exec(url.pathname);
      if (op) return offline(op[1] as 'OfflineConversions' | 'OfflineConversionAdjustments', headers, body);
      return { status: 404, body: { error: { code: 'NotFound', message: `no such resource ${url.pathname}` } } };
    },
  );
  const reset = fake.reset;
  return {
    ...fake,
    tokenUrl: `${fake.baseUrl}/oauth2/v2.0/token`,
    offlineRows: () => [...rows],
    expireTokens: () => {
      for (const t of tokens.keys()) tokens.set(t, false);
    },
    tokenRequests: () => [...tokenRequests],
    reset: () => {
      reset();
      rows.length = 0;
      tokenRequests.length = 0;
    },
  };
}

/** A 400 the UET Conversions API answers for one event (for `failWhen`). */
export const uetValidationError = (index: number, propertyName: string, errorMessage: string, errorCode = 'InvalidValue') => ({
  error: { code: 'ValidationError', message: 'One or multiple parameters did not pass validation checks, see details.', details: [{ index, propertyName: `data[${index}].${propertyName}`, errorMessage, errorCode, isWarning: false }] },
});
