/**
 * Local fake of Google's Data Manager API (`events:ingest`, `requestStatus:retrieve`) and of Google's OAuth token
 * endpoint, for unit and end-to-end tests. It validates requests as Google documents them (checked 2026-12):
 * - `POST /v1/events:ingest` with `Authorization: Bearer` (a token this fake issued), JSON body `IngestEventsRequest`:
 *   1–10 `destinations` with `operatingAccount {accountType: GOOGLE_ADS, accountId}` (the account, digits),
 *   `loginAccount` (the manager, when configured), `productDestinationId` (a known conversion action); at most 2,000
 *   `events` (devguides/limits); `encoding` HEX|BASE64, required when an event has `userData`;
 * - each event: RFC 3339 `eventTimestamp`, `eventSource` (WEB, APP, IN_STORE, PHONE, MESSAGE, OTHER; required for
 *   offline conversions), a `transactionId` (refused when purely numeric, as a third-party report says the live API
 *   does), at least one identifier (`adIdentifiers` gclid/gbraid/wbraid or `userData`), at most 10 user identifiers,
 *   each exactly one of `emailAddress` / `phoneNumber` / `address`, hashed as 64 lowercase hex characters (HEX),
 *   ISO 4217 `currency`, consent values CONSENT_GRANTED / CONSENT_DENIED / CONSENT_STATUS_UNSPECIFIED;
 * - fast-fail: any invalid event fails the whole request: HTTP 400, `{"error":{code: 400, status:
 *   "INVALID_ARGUMENT", message, details: [{"@type": ".../google.rpc.BadRequest", fieldViolations: [{field:
 *   "events[i].…", reason, description}]}]}}`, and nothing of it is kept;
 * - success: `{requestId}`; the events are processed later: `GET /v1/requestStatus:retrieve?requestId=` answers
 *   PROCESSING until `processingMs` have passed, then SUCCESS, FAILED or PARTIAL_SUCCESS per destination with
 *   `errorInfo.errorCounts[] {recordCount, reason}` (counts only, no event index);
 * - adjustments: an event whose `transactionId` matches a kept conversion of the same conversion action restates its
 *   `conversionValue` (events/google-ads/conversion-adjustments);
 * - `validateOnly: true`: validated, nothing kept, no request ID.
 * Token endpoint (`POST /token`, form-encoded): grant_type=refresh_token with the configured client and refresh token,
 * or (when `serviceAccount` is set) grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer with an `assertion` JWT
 * whose RS256 signature verifies against the service account's public key and whose claims are as Google's
 * "OAuth 2.0 for Server to Server Applications" requires: iss = the service account e-mail, scope including the Data
 * Manager scope, aud = the token URL, iat not in the future, exp after now and at most one hour after iat.
 */
import { randomBytes, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, readBody } from './http.ts';

export interface DataManagerFakeOptions {
  /** The Google Ads account that owns the conversion actions (operatingAccount). */
  accountId: string;
  /** The manager account; when set, every destination's loginAccount must name it. */
  loginAccountId?: string;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  /** A service account allowed to use the JWT grant: its e-mail and public key (the test's generated key pair). */
  serviceAccount?: { email: string; publicKey: KeyObject };
  conversionActions: string[];
  /** How long a request stays PROCESSING before its final status. Default 0. */
  processingMs?: number;
}

export interface ReceivedRequest {
  at: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: any;
  status: number;
  response: any;
}

export interface KeptEvent {
  requestId: string;
  action: string;
  event: any;
  at: number;
  /** Set when an asynchronous processing error refused it. */
  refusedFor?: string;
  restatedValue?: number;
}

type FailReply = { status: number; rpcStatus: string; message?: string };

export interface DataManagerFake {
  baseUrl: string;
  tokenUrl: string;
  requests: ReceivedRequest[];
  /** Token requests: the grant type and, for the JWT grant, the assertion as received (the test may verify it too). */
  tokenRequests: { at: number; status: number; grant: string; assertion?: string }[];
  /** Events Google kept as conversions (refused ones included, with `refusedFor`). */
  events(): KeptEvent[];
  /** Adjustments: events that matched an earlier conversion's transaction ID. */
  adjustments(): KeptEvent[];
  /** Fast-fail the request whenever an event matches: the violation names its index. */
  rejectEventWhen(pred: (event: any) => boolean, reason: string, description?: string): void;
  /** Accept the request, then refuse matching events while processing (an async ProcessingErrorReason). */
  refuseEventWhen(pred: (event: any) => boolean, reason: string): void;
  failNext(n: number, reply: FailReply): void;
  expireTokens(): void;
  reset(): void;
  close(): Promise<void>;
}

export const MAX_EVENTS = 2000;
const MAX_DESTINATIONS = 10;
const MAX_USER_IDENTIFIERS = 10;
const EVENT_SOURCES = new Set(['WEB', 'APP', 'IN_STORE', 'PHONE', 'MESSAGE', 'OTHER']);
const CONSENT = new Set(['CONSENT_GRANTED', 'CONSENT_DENIED', 'CONSENT_STATUS_UNSPECIFIED']);
const HEX_SHA256 = /^[0-9a-f]{64}$/;
const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const EVENT_FIELDS = new Set(['destinationReferences', 'transactionId', 'eventTimestamp', 'lastUpdatedTimestamp', 'userData', 'consent', 'adIdentifiers', 'currency', 'conversionValue', 'eventSource', 'eventDeviceInfo', 'cartData', 'customVariables', 'experimentalFields', 'userProperties', 'conversionCount']);
const BAD_REQUEST = 'type.googleapis.com/google.rpc.BadRequest';

interface Violation {
  field: string;
  reason: string;
  description: string;
}

export async function startDataManagerFake(opts: DataManagerFakeOptions): Promise<DataManagerFake> {
  const requests: ReceivedRequest[] = [];
  const tokenRequests: DataManagerFake['tokenRequests'] = [];
  const tokens = new Set<string>();
  let kept: KeptEvent[] = [];
  let adjustments: KeptEvent[] = [];
  let statuses = new Map<string, { at: number; total: number; refused: Map<string, number> }>();
  let rejectRules: { pred: (e: any) => boolean; reason: string; description?: string }[] = [];
  let refuseRules: { pred: (e: any) => boolean; reason: string }[] = [];
  let failures: FailReply[] = [];

  /** RFC 7523 §3 as Google applies it: RS256 over header.claims with the service account's key, claims checked. */
  const validAssertion = (jwt: string, tokenUrl: string, at: number): boolean => {
    if (!opts.serviceAccount) return false;
    const parts = jwt.split('.');
    if (parts.length !== 3) return false;
    try {
      const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString());
      const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
      if (header.alg !== 'RS256') return false;
      if (!verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), opts.serviceAccount.publicKey, Buffer.from(parts[2], 'base64url'))) return false;
      const nowS = at / 1000;
      return (
        claims.iss === opts.serviceAccount.email &&
        typeof claims.scope === 'string' &&
        claims.scope.split(' ').includes('https://www.googleapis.com/auth/datamanager') &&
        claims.aud === tokenUrl &&
        typeof claims.iat === 'number' &&
        typeof claims.exp === 'number' &&
        claims.iat <= nowS + 60 &&
        claims.exp > nowS &&
        claims.exp - claims.iat <= 3600
      );
    } catch {
      return false;
    }
  };

  const error = (code: number, status: string, message: string, violations: Violation[] = []) => ({
    error: { code, status, message, details: violations.length ? [{ '@type': BAD_REQUEST, fieldViolations: violations }] : [] },
  });

  function validate(body: any): Violation[] {
    const v: Violation[] = [];
    const add = (field: string, reason: string, description: string) => v.push({ field, reason, description });
    const dests = body?.destinations;
    if (!Array.isArray(dests) || dests.length === 0) add('destinations', 'REQUIRED_FIELD_MISSING', 'At least one destination is required.');
    else if (dests.length > MAX_DESTINATIONS) add('destinations', 'TOO_MANY_DESTINATIONS', `At most ${MAX_DESTINATIONS} destinations.`);
    const refs = new Set<string>();
    (Array.isArray(dests) ? dests : []).forEach((d: any, i: number) => {
      const f = `destinations[${i}]`;
      if (d?.operatingAccount?.accountType !== 'GOOGLE_ADS') add(`${f}.operating_account.account_type`, 'REQUIRED_FIELD_MISSING', 'accountType GOOGLE_ADS is required.');
      if (d?.operatingAccount?.accountId !== opts.accountId) add(`${f}.operating_account.account_id`, 'INVALID_DESTINATION', 'The operating account must own the conversion action.');
      if (opts.loginAccountId && (d?.loginAccount?.accountId !== opts.loginAccountId || d?.loginAccount?.accountType !== 'GOOGLE_ADS')) {
        add(`${f}.login_account`, 'PERMISSION_DENIED', 'The caller has no access to the operating account without its manager as login account.');
      }
      if (!opts.conversionActions.includes(String(d?.productDestinationId))) add(`${f}.product_destination_id`, 'INVALID_CONVERSION_ACTION_ID', 'Unknown conversion action.');
      if (typeof d?.reference === 'string') refs.add(d.reference);
    });
    const events = body?.events;
    if (!Array.isArray(events) || events.length === 0) {
      add('events', 'REQUIRED_FIELD_MISSING', 'At least one event is required.');
      return v;
    }
    if (events.length > MAX_EVENTS) {
      add('events', 'TOO_MANY_EVENTS', `At most ${MAX_EVENTS} events per request.`);
      return v;
    }
    const hasUserData = events.some((e: any) => e?.userData);
    if (hasUserData && body.encoding !== 'HEX' && body.encoding !== 'BASE64') add('encoding', 'REQUIRED_FIELD_MISSING', 'encoding is required when user data is present.');
    const hash = body.encoding === 'BASE64' ? BASE64_SHA256 : HEX_SHA256;
    if (body.consent !== undefined) checkConsent(body.consent, 'consent', add);
    events.forEach((e: any, i: number) => {
      const f = `events[${i}]`;
      for (const k of Object.keys(e ?? {})) if (!EVENT_FIELDS.has(k)) add(`${f}.${k}`, 'INVALID_ARGUMENT', `Unknown field ${k}.`);
      if (typeof e?.eventTimestamp !== 'string' || !RFC3339.test(e.eventTimestamp) || Number.isNaN(Date.parse(e.eventTimestamp))) add(`${f}.event_timestamp`, 'INVALID_FORMAT', 'eventTimestamp must be an RFC 3339 timestamp.');
      if (!EVENT_SOURCES.has(e?.eventSource)) add(`${f}.event_source`, 'REQUIRED_FIELD_MISSING', 'eventSource is required for offline conversions.');
      if (typeof e?.transactionId !== 'string' || e.transactionId === '') add(`${f}.transaction_id`, 'REQUIRED_FIELD_MISSING', 'transactionId is required.');
      else if (/^\d+$/.test(e.transactionId)) add(`${f}.transaction_id`, 'INVALID_FORMAT', 'transactionId must not be purely numeric.');
      if (e?.currency !== undefined && !/^[A-Z]{3}$/.test(e.currency)) add(`${f}.currency`, 'INVALID_CURRENCY_CODE', 'currency must be an ISO 4217 code.');
      if (e?.conversionValue !== undefined && (typeof e.conversionValue !== 'number' || !Number.isFinite(e.conversionValue))) add(`${f}.conversion_value`, 'INVALID_FORMAT', 'conversionValue must be a number.');
      for (const r of e?.destinationReferences ?? []) if (!refs.has(r)) add(`${f}.destination_references`, 'INVALID_DESTINATION', `No destination with reference ${r}.`);
      const ad = e?.adIdentifiers ?? {};
      const clickIds = ['gclid', 'gbraid', 'wbraid'].filter((k) => typeof ad[k] === 'string' && ad[k] !== '');
      const ids = e?.userData?.userIdentifiers;
      if (clickIds.length === 0 && !(Array.isArray(ids) && ids.length > 0)) add(f, 'NO_IDENTIFIERS_PROVIDED', 'At least one identifier is required.');
      if (Array.isArray(ids)) {
        if (ids.length > MAX_USER_IDENTIFIERS) add(`${f}.user_data.user_identifiers`, 'TOO_MANY_USER_IDENTIFIERS', `At most ${MAX_USER_IDENTIFIERS}.`);
        ids.forEach((id: any, k: number) => {
          const keys = Object.keys(id ?? {});
          const g = `${f}.user_data.user_identifiers[${k}]`;
          if (keys.length !== 1 || !['emailAddress', 'phoneNumber', 'address'].includes(keys[0])) add(g, 'INVALID_ARGUMENT', 'Exactly one of emailAddress, phoneNumber, address.');
          else if (keys[0] !== 'address' && !hash.test(id[keys[0]])) add(`${g}.${keys[0]}`, body.encoding === 'BASE64' ? 'INVALID_BASE64_ENCODING' : 'INVALID_SHA256_FORMAT', 'Not a SHA-256 hash in the declared encoding.');
        });
      }
      for (const dev of [e?.eventDeviceInfo, ad.landingPageDeviceInfo]) {
        if (dev?.ipAddress !== undefined && !/^[\d.:a-fA-F]+$/.test(dev.ipAddress)) add(`${f}.event_device_info.ip_address`, 'INVALID_FORMAT', 'Not an IP address.');
      }
      if (e?.consent !== undefined) checkConsent(e.consent, `${f}.consent`, add);
      for (const rule of rejectRules) if (rule.pred(e)) add(`${f}`, rule.reason, rule.description ?? rule.reason);
    });
    return v;
  }

  function checkConsent(c: any, field: string, add: (f: string, r: string, d: string) => void) {
    for (const k of ['adUserData', 'adPersonalization']) if (c?.[k] !== undefined && !CONSENT.has(c[k])) add(`${field}.${k}`, 'INVALID_ARGUMENT', `Bad consent value ${c[k]}.`);
  }

  function ingest(body: any, at: number): { status: number; response: any } {
    const violations = validate(body);
    if (violations.length) return { status: 400, response: error(400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.', violations) };
    if (body.validateOnly === true) return { status: 200, response: {} };
    const requestId = randomBytes(12).toString('hex');
    const byRef = new Map<string, string>((body.destinations as any[]).map((d) => [d.reference, String(d.productDestinationId)]));
    const refused = new Map<string, number>();
    for (const e of body.events as any[]) {
      const action = byRef.get(e.destinationReferences?.[0]) ?? String(body.destinations[0].productDestinationId);
      const original = kept.find((k) => k.action === action && k.event.transactionId === e.transactionId && !k.refusedFor);
      const rule = refuseRules.find((r) => r.pred(e));
      if (rule) refused.set(rule.reason, (refused.get(rule.reason) ?? 0) + 1);
      if (original && !rule) {
        original.restatedValue = e.conversionValue;
        adjustments.push({ requestId, action, event: e, at });
      } else {
        kept.push({ requestId, action, event: e, at, ...(rule && { refusedFor: rule.reason }) });
      }
    }
    statuses.set(requestId, { at, total: body.events.length, refused });
    return { status: 200, response: { requestId } };
  }

  function status(requestId: string | null, at: number): { status: number; response: any } {
    const s = requestId ? statuses.get(requestId) : undefined;
    if (!s) return { status: 400, response: error(400, 'INVALID_ARGUMENT', 'Unknown request ID.', [{ field: 'request_id', reason: 'INVALID_REQUEST_ID', description: 'Unknown request ID.' }]) };
    const processing = at - s.at < (opts.processingMs ?? 0);
    const failed = [...s.refused.values()].reduce((a, b) => a + b, 0);
    const requestStatus = processing ? 'PROCESSING' : failed === 0 ? 'SUCCESS' : failed === s.total ? 'FAILED' : 'PARTIAL_SUCCESS';
    return {
      status: 200,
      response: {
        requestStatusPerDestination: [
          {
            destination: { operatingAccount: { accountType: 'GOOGLE_ADS', accountId: opts.accountId } },
            requestStatus,
            ...(!processing && failed > 0 && { errorInfo: { errorCounts: [...s.refused].map(([reason, recordCount]) => ({ recordCount: String(recordCount), reason })) } }),
            eventsIngestionStatus: { recordCount: String(s.total) },
          },
        ],
      },
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const raw = await readBody(req);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v ?? '')]));
    const send = (status: number, response: any) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(response));
      return { status, response };
    };
    if (url.pathname === '/token') {
      const form = new URLSearchParams(raw);
      const good =
        form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:jwt-bearer'
          ? validAssertion(form.get('assertion') ?? '', `${baseUrl}/token`, at)
          : form.get('grant_type') === 'refresh_token' && form.get('client_id') === opts.clientId && form.get('client_secret') === opts.clientSecret && form.get('refresh_token') === opts.refreshToken;
      const token = `ya29.dm-fake-${randomBytes(8).toString('hex')}`;
      if (good) tokens.add(token);
      tokenRequests.push({ at, status: good ? 200 : 400, grant: form.get('grant_type') ?? '', ...(form.get('assertion') ? { assertion: form.get('assertion')! } : {}) });
      send(good ? 200 : 400, good ? { access_token: token, expires_in: 3599, scope: 'https://www.googleapis.com/auth/datamanager', token_type: 'Bearer' } : { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
      return;
    }
    let body: any;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const record = (r: { status: number; response: any }) => requests.push({ at, method: req.method ?? '', path: url.pathname, headers, body, ...r });
    const bearer = /^Bearer (.+)$/.exec(headers.authorization ?? '')?.[1];
    if (!bearer || !tokens.has(bearer)) return void record(send(401, error(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.')));
    if (headers['developer-token'] || headers['login-customer-id']) {
      return void record(send(400, error(400, 'INVALID_ARGUMENT', 'The Data Manager API takes neither developer-token nor login-customer-id headers.')));
    }
    const fail = failures.shift();
    if (fail) return void record(send(fail.status, error(fail.status, fail.rpcStatus, fail.message ?? fail.rpcStatus)));
    if (req.method === 'POST' && url.pathname === '/v1/events:ingest') return void record(send(...Object.values(ingest(body, at)) as [number, any]));
    if (req.method === 'GET' && url.pathname === '/v1/requestStatus:retrieve') return void record(send(...Object.values(status(url.searchParams.get('requestId'), at)) as [number, any]));
    record(send(404, error(404, 'NOT_FOUND', `no route ${req.method} ${url.pathname}`)));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => res.writeHead(500).end(String(err)));
  });
  const { baseUrl, close } = await listenOnLoopback(server);
  return {
    baseUrl,
    tokenUrl: `${baseUrl}/token`,
    requests,
    tokenRequests,
    events: () => kept,
    adjustments: () => adjustments,
    rejectEventWhen: (pred, reason, description) => void rejectRules.push({ pred, reason, description }),
    refuseEventWhen: (pred, reason) => void refuseRules.push({ pred, reason }),
    failNext: (n, reply) => {
      for (let i = 0; i < n; i++) failures.push(reply);
    },
    expireTokens: () => tokens.clear(),
    reset() {
      requests.length = 0;
      tokenRequests.length = 0;
      kept = [];
      adjustments = [];
      statuses = new Map();
      rejectRules = [];
      refuseRules = [];
      failures = [];
    },
    close,
  };
}
