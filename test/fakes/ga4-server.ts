/**
 * Local fake of the GA4 Measurement Protocol for end-to-end tests: `POST /mp/collect` and the validation server
 * `POST /debug/mp/collect` (/work/shared/reference/platforms.md §4). Like GA4 itself:
 * - `/mp/collect` answers 204 to anything it receives; an invalid payload, a wrong measurement ID or API secret is
 *   dropped silently (here it is kept in `dropped()` with the reason, for tests to see);
 * - `/debug/mp/collect` records nothing and answers `{validationMessages: [{fieldPath, description, validationCode}]}`
 *   with GA's codes (VALUE_INVALID, VALUE_REQUIRED, NAME_INVALID, NAME_RESERVED, VALUE_OUT_OF_BOUNDS,
 *   EXCEEDED_MAX_ENTITIES); recommendations (purchase needs transaction_id, value needs currency) are reported when the
 *   request asks for `validation_behavior: ENFORCE_RECOMMENDATIONS`. It does not check the API secret (GA-val).
 * Rules: ≤25 events, ≤25 params an event, names ≤40 alphanumerics/underscores starting with a letter, no reserved
 * names or prefixes, param values ≤100 characters, timestamps back-dated ≤72 h, user_data as lowercase SHA-256 hex.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, readBody } from './http.ts';

export interface Ga4FakeOptions { measurementId?: string; apiSecret?: string }
export interface ValidationMessage { fieldPath: string; description: string; validationCode: string }
export interface ReceivedGa4Request { at: number; path: string; query: Record<string, string>; body: any; status: number; response: any }
export interface Ga4Hit { clientId: string; userId?: string; event: any; body: any; at: number }
export type Ga4FailReply = { status: number; body?: string } | 'drop' | 'hang';
export interface Ga4Fake {
  baseUrl: string;
  requests: ReceivedGa4Request[];
  /** Events GA4 would have recorded (from /mp/collect, valid, right measurement ID and secret). */
  hits(): Ga4Hit[];
  events(): any[];
  /** Requests /mp/collect received and GA4 would have thrown away, with why. */
  dropped(): { body: any; reasons: string[] }[];
  failNext(n: number, reply: Ga4FailReply): void;
  reset(): void;
  close(): Promise<void>;
}

const MAX_EVENTS = 25;
const MAX_PARAMS = 25;
const MAX_PARAM_VALUE = 100;
const MAX_BACKDATE_MICROS = 72 * 3600 * 1e6;
const NAME = /^[A-Za-z][A-Za-z0-9_]{0,39}$/;
const RESERVED_PREFIXES = ['_', 'firebase_', 'ga_', 'google_', 'gtag.'];
const RESERVED_EVENTS = new Set(['ad_activeview', 'ad_click', 'ad_exposure', 'ad_impression', 'ad_query', 'ad_reward', 'adunit_exposure', 'app_background', 'app_clear_data', 'app_exception', 'app_remove', 'app_store_refund', 'app_store_subscription_cancel', 'app_store_subscription_convert', 'app_store_subscription_renew', 'app_update', 'app_upgrade', 'dynamic_link_app_open', 'dynamic_link_app_update', 'dynamic_link_first_open', 'error', 'first_open', 'first_visit', 'in_app_purchase', 'notification_dismiss', 'notification_foreground', 'notification_open', 'notification_receive', 'os_update', 'screen_view', 'session_start', 'user_engagement']);
const SHA256_HEX = /^[0-9a-f]{64}$/;

const msg = (fieldPath: string, description: string, validationCode: string): ValidationMessage => ({ fieldPath, description, validationCode });
const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);
const reservedPrefix = (name: string) => RESERVED_PREFIXES.find((p) => name.toLowerCase().startsWith(p));

/** Every problem GA4's validation server would report for this body. */
export function validateGa4Body(body: unknown, nowMs: number): ValidationMessage[] {
  if (!isObject(body)) return [msg('', 'Unable to parse the request body as JSON.', 'VALUE_INVALID')];
  const out: ValidationMessage[] = [];
  const enforce = body.validation_behavior === 'ENFORCE_RECOMMENDATIONS';
  if (typeof body.client_id !== 'string' || body.client_id === '') out.push(msg('client_id', 'Measurement requires a client_id.', 'VALUE_REQUIRED'));
  if (body.user_id !== undefined && (typeof body.user_id !== 'string' || body.user_id.length > 256)) out.push(msg('user_id', 'user_id must be a string of at most 256 characters.', 'VALUE_INVALID'));
  for (const key of ['ad_user_data', 'ad_personalization']) {
    const v = body.consent?.[key];
    if (v !== undefined && v !== 'GRANTED' && v !== 'DENIED') out.push(msg(`consent.${key}`, `${key} must be GRANTED or DENIED.`, 'VALUE_INVALID'));
  }
  const ud = body.user_data;
  if (ud !== undefined) {
    for (const key of ['sha256_email_address', 'sha256_phone_number']) {
      const values = ud[key] === undefined ? [] : Array.isArray(ud[key]) ? ud[key] : [ud[key]];
      if (values.length > 3) out.push(msg(`user_data.${key}`, `At most 3 values for ${key}.`, 'EXCEEDED_MAX_ENTITIES'));
      for (const v of values) if (typeof v !== 'string' || !SHA256_HEX.test(v)) out.push(msg(`user_data.${key}`, `${key} must be a SHA-256 hex digest.`, 'VALUE_INVALID'));
    }
    for (const [k, a] of (Array.isArray(ud.address) ? ud.address : []).entries()) {
      for (const key of ['sha256_first_name', 'sha256_last_name', 'sha256_street']) {
        if (a?.[key] !== undefined && (typeof a[key] !== 'string' || !SHA256_HEX.test(a[key]))) out.push(msg(`user_data.address[${k}].${key}`, `${key} must be a SHA-256 hex digest.`, 'VALUE_INVALID'));
      }
    }
  }
  if (!Array.isArray(body.events) || body.events.length === 0) {
    out.push(msg('events', 'Measurement requires at least one event.', 'VALUE_REQUIRED'));
    return out;
  }
  if (body.events.length > MAX_EVENTS) out.push(msg('events', `A request may contain at most ${MAX_EVENTS} events; found ${body.events.length}.`, 'EXCEEDED_MAX_ENTITIES'));
  const nowMicros = nowMs * 1000;
  body.events.forEach((ev: any, i: number) => {
    const name = ev?.name;
    if (typeof name !== 'string' || !NAME.test(name) || reservedPrefix(name)) {
      out.push(msg('events', `Event at index: [${i}] has invalid name [${name}]. Names must start with an alphabetic character and contain only alphanumerics and underscores, up to 40 characters.`, 'NAME_INVALID'));
      return;
    }
    if (RESERVED_EVENTS.has(name)) out.push(msg('events', `Event at index: [${i}] has name [${name}] which is reserved.`, 'NAME_RESERVED'));
    const ts = ev.timestamp_micros ?? body.timestamp_micros;
    if (ts !== undefined && (typeof ts !== 'number' || ts < nowMicros - MAX_BACKDATE_MICROS || ts > nowMicros + 60e6)) {
      out.push(msg(`events[${i}].timestamp_micros`, 'timestamp_micros must be in microseconds, at most 72 hours in the past and not in the future.', 'VALUE_OUT_OF_BOUNDS'));
    }
    const params = ev.params ?? {};
    if (!isObject(params)) return void out.push(msg(`events[${i}].params`, 'params must be an object.', 'VALUE_INVALID'));
    if (Object.keys(params).length > MAX_PARAMS) out.push(msg(`events[${i}].params`, `An event may have at most ${MAX_PARAMS} parameters.`, 'EXCEEDED_MAX_ENTITIES'));
    for (const [key, value] of Object.entries(params)) {
      if (!NAME.test(key) || reservedPrefix(key)) out.push(msg(`events[${i}].params`, `Event param [${key}] has invalid name.`, 'NAME_INVALID'));
      if (typeof value === 'string' && value.length > MAX_PARAM_VALUE) out.push(msg(`events[${i}].params.${key}`, `Value is longer than ${MAX_PARAM_VALUE} characters.`, 'VALUE_OUT_OF_BOUNDS'));
      if (key !== 'items' && value !== null && typeof value === 'object') out.push(msg(`events[${i}].params.${key}`, 'Parameter values must be strings, numbers or booleans.', 'VALUE_INVALID'));
    }
    if (params.items !== undefined) {
      if (!Array.isArray(params.items)) out.push(msg(`events[${i}].params.items`, 'items must be a list.', 'VALUE_INVALID'));
      else params.items.forEach((item: any, k: number) => {
        if (!isObject(item) || (item.item_id === undefined && item.item_name === undefined)) out.push(msg(`events[${i}].params.items[${k}]`, 'An item requires item_id or item_name.', 'VALUE_REQUIRED'));
      });
    }
    if (params.currency !== undefined && (typeof params.currency !== 'string' || !/^[A-Z]{3}$/.test(params.currency))) out.push(msg(`events[${i}].params.currency`, 'currency must be a 3-letter ISO 4217 code.', 'VALUE_INVALID'));
    if (params.value !== undefined && typeof params.value !== 'number') out.push(msg(`events[${i}].params.value`, 'value must be a number.', 'VALUE_INVALID'));
    if (enforce) {
      if (params.value !== undefined && params.currency === undefined) out.push(msg(`events[${i}].params.currency`, 'currency is required when value is set.', 'VALUE_REQUIRED'));
      if ((name === 'purchase' || name === 'refund') && typeof params.transaction_id !== 'string') out.push(msg(`events[${i}].params.transaction_id`, `${name} requires transaction_id.`, 'VALUE_REQUIRED'));
    }
  });
  return out;
}

export async function startGa4Fake(opts: Ga4FakeOptions = {}): Promise<Ga4Fake> {
  const requests: ReceivedGa4Request[] = [];
  let hits: Ga4Hit[] = [];
  let dropped: { body: any; reasons: string[] }[] = [];
  let queue: Ga4FailReply[] = [];

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const query = Object.fromEntries(url.searchParams);
    const raw = await readBody(req);
    let body: any;
    try {
      body = JSON.parse(raw);
    } catch {
      body = raw;
    }
    const record: ReceivedGa4Request = { at, path: url.pathname, query, body, status: 0, response: undefined };
    requests.push(record);
    const reply = (status: number, response?: any) => {
      record.status = status;
      record.response = response;
      if (response === undefined) res.writeHead(status).end();
      else res.writeHead(status, { 'content-type': 'application/json' }).end(typeof response === 'string' ? response : JSON.stringify(response));
    };

    const injected = queue.shift();
    if (injected === 'drop') { req.socket.destroy(); return; }
    if (injected === 'hang') return;
    if (injected) return reply(injected.status, injected.body ?? '');

    if (req.method !== 'POST' || (url.pathname !== '/mp/collect' && url.pathname !== '/debug/mp/collect')) return reply(404, 'Not Found');
    const messages = validateGa4Body(body, at);
    if (url.pathname === '/debug/mp/collect') return reply(200, { validationMessages: messages });

    const reasons = messages.map((m) => `${m.validationCode} ${m.fieldPath}: ${m.description}`);
    if (!query.measurement_id || (opts.measurementId !== undefined && query.measurement_id !== opts.measurementId)) reasons.push('unknown measurement_id');
    if (!query.api_secret || (opts.apiSecret !== undefined && query.api_secret !== opts.apiSecret)) reasons.push('wrong api_secret');
    if (reasons.length) dropped.push({ body, reasons });
    else for (const event of body.events) hits.push({ clientId: body.client_id, userId: body.user_id, event, body, at });
    return reply(204);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  const listening = await listenOnLoopback(server);

  return {
    baseUrl: listening.baseUrl,
    requests,
    hits: () => [...hits],
    events: () => hits.map((h) => h.event),
    dropped: () => [...dropped],
    failNext: (n, reply) => { for (let i = 0; i < n; i++) queue.push(reply); },
    reset: () => { requests.length = 0; hits = []; dropped = []; queue = []; },
    close: listening.close,
  };
}
