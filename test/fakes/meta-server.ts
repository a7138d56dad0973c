/**
 * Local fake of Meta's Conversions API (`POST /{version}/{pixelId}/events`) for end-to-end tests.
 *
 * It validates requests the way Meta documents them (see /work/shared/reference/platforms.md §1) and
 * answers with Meta's error envelope. Doc keys used in comments:
 *   M-using  conversions-api/using-the-api          (≤1000 events, one bad event rejects the batch)
 *   M-server parameters/server-event                 (required fields, event_time in seconds, 7-day age)
 *   M-cust   parameters/customer-information-params  (hashing, IP, UA, baseline since Graph v13)
 *   M-fbc    parameters/fbp-and-fbc                  (fb.{subdomainIndex}.{creationTime ms}.{value})
 *   M-custom parameters/custom-data                  (Purchase needs currency + value)
 *   M-err    graph-api/guides/error-handling         ({error:{message,type,code,error_subcode,...}})
 * Subcodes: 2804003 (too old, real response captured in rudder-transformer fixtures), 2804050 (insufficient
 * customer information, real responses in Setono/meta-conversions-api), 2804001 ("Click ID Incorrectly
 * Formatted", community report), 33 (unknown/unauthorised object). Everything else uses 2804019, which Meta
 * returns as "Server-side API parameter error" (e.g. "The parameter $['data'][0]['event_time'] is required.").
 * Meta does not document a future tolerance for event_time; this fake allows 60 s of clock skew.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { isIP } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readBody } from './http.ts';
import { createDatasetQualityFake, type DatasetQualityFake } from './meta-dataset-quality.ts';

export interface MetaFakeOptions { pixelId?: string; accessToken?: string; apiVersion?: string /* e.g. 'v24.0' */ }
export interface ReceivedMetaRequest { at: number; pixelId: string; query: Record<string, string>; body: any; accessToken?: string; status: number; response: any }
/**
 * 'drop' destroys the connection, 'hang' never answers; 'accept-then-hang' validates and accepts the events (Meta
 * counts them) but never answers: what a sender sees when it dies, or times out, after Meta accepted its batch.
 */
export type MetaFailReply = { status: number; body?: any } | 'drop' | 'hang' | 'accept-then-hang';
/** An outage: every request gets this reply until it ends; 'refused' closes the port (connection refused). */
export type MetaOutage = MetaFailReply | 'refused';
export interface MetaFake {
  baseUrl: string;
  requests: ReceivedMetaRequest[];
  events(): any[];
  uniqueEvents(): any[];
  /** How often each event was accepted (by pixel, event_name and event_id): more than 1 means Meta de-duplicated. */
  acceptCounts(): Map<string, number>;
  /** Starts (or, with null, ends) an outage of the given kind. */
  outage(mode: MetaOutage | null): Promise<void>;
  failNext(n: number, reply: MetaFailReply): void;
  failWhen(pred: (event: any) => boolean, reply: { status: number; body: any }): void;
  reset(): void;
  close(): Promise<void>;
  /** Meta's Dataset Quality API (GET /{version}/dataset_quality), answering about the events accepted here. */
  datasetQuality: DatasetQualityFake;
}

const MAX_EVENTS = 1000; // M-using
const MAX_AGE_S = 7 * 24 * 3600; // M-server
const MAX_AGE_PHYSICAL_STORE_S = 62 * 24 * 3600; // M-server: physical_store may be uploaded within 62 days
const FUTURE_TOLERANCE_S = 60; // undocumented by Meta; our choice
const DEDUP_WINDOW_MS = 48 * 3600 * 1000; // M-server / M-dedup
const ACTION_SOURCES = ['email', 'website', 'app', 'phone_call', 'chat', 'physical_store', 'system_generated', 'business_messaging', 'other'];
const HASHED_KEYS = ['em', 'ph', 'fn', 'ln', 'ge', 'db', 'ct', 'st', 'zp', 'country']; // M-cust "Hashing required"
const SHA256_HEX = /^[0-9a-f]{64}$/;
const FBC = /^fb\.[0-2]\.\d{13}\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)?$/; // M-fbc; 5th segment = parameter builder
const FBP = /^fb\.[0-2]\.\d{13}\.\d+(\.[A-Za-z0-9_-]+)?$/; // M-fbc

export function fbtraceId(): string {
  return 'A' + randomBytes(16).toString('base64url').slice(0, 22);
}

/** Meta's error envelope (M-err), plus the is_transient / error_user_* fields CAPI adds in practice. */
export function metaError(
  code: number,
  message: string,
  extra: { subcode?: number; type?: string; isTransient?: boolean; userTitle?: string; userMsg?: string } = {},
): any {
  const error: Record<string, unknown> = { message, type: extra.type ?? 'OAuthException', code };
  if (extra.subcode !== undefined) error.error_subcode = extra.subcode;
  error.is_transient = extra.isTransient ?? false;
  if (extra.userTitle !== undefined) error.error_user_title = extra.userTitle;
  if (extra.userMsg !== undefined) error.error_user_msg = extra.userMsg;
  error.fbtrace_id = fbtraceId();
  return { error };
}

/** A code-100 "Invalid parameter" rejection of the whole request, the way CAPI reports payload problems. */
function invalid(userMsg: string, subcode = 2804019, userTitle = 'Server-side API parameter error'): any {
  return metaError(100, 'Invalid parameter', { subcode, userTitle, userMsg });
}

/**
 * Meta's rate-limit answers (graph-api/overview/rate-limiting, marketing-api/overview/rate-limiting): HTTP 400 with
 * code 4 (app), 17 (user), 613 (custom per-endpoint limit) or 80004 (ads account); `is_transient` is not set.
 */
export const META_THROTTLE_CODES = [4, 17, 613, 80004] as const;
export function metaThrottle(code: (typeof META_THROTTLE_CODES)[number]): { status: number; body: any } {
  const messages: Record<number, string> = {
    4: '(#4) Application request limit reached',
    17: '(#17) User request limit reached',
    613: '(#613) Calls within one hour have exceeded the rate limit',
    80004: '(#80004) There have been too many calls to this ad-account. Wait a bit and try again.',
  };
  return { status: 400, body: metaError(code, messages[code], { isTransient: false }) };
}

/** Default body when a test injects a bare status, modelled on Graph's generic codes (M-err). */
function defaultFailureBody(status: number): any {
  if (status === 429) return metaError(4, '(#4) Application request limit reached', { isTransient: true });
  if (status === 503) return metaError(2, 'An unexpected error has occurred. Please retry your request later.', { isTransient: true });
  if (status >= 500) return metaError(1, 'An unknown error has occurred.', { isTransient: true });
  return invalid('Injected failure');
}

const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);
const p = (i: number, ...keys: string[]) => `$['data'][${i}]` + keys.map((k) => `['${k}']`).join('');

/** Returns an error body for the first invalid event, or undefined when the whole batch is acceptable. */
function validateEvent(ev: unknown, i: number, nowS: number): any | undefined {
  if (!isObject(ev)) return invalid(`The parameter ${p(i)} must be an object.`);
  // M-server: event_name, event_time, user_data and action_source are required.
  if (typeof ev.event_name !== 'string' || ev.event_name === '') return invalid(`The parameter ${p(i, 'event_name')} is required.`);
  if (ev.event_time === undefined) return invalid(`The parameter ${p(i, 'event_time')} is required.`);
  if (!Number.isInteger(ev.event_time)) return invalid(`The parameter ${p(i, 'event_time')} must be an integer Unix timestamp in seconds.`);
  if (ev.event_time > nowS + FUTURE_TOLERANCE_S) {
    const hint = ev.event_time >= 1e12 ? ' It looks like milliseconds; Meta expects Unix seconds.' : '';
    return invalid(`The parameter ${p(i, 'event_time')} (${ev.event_time}) is in the future.${hint}`);
  }
  if (!ACTION_SOURCES.includes(ev.action_source)) {
    return invalid(`The parameter ${p(i, 'action_source')} must be one of ${ACTION_SOURCES.join(', ')}.`);
  }
  // M-server: any event older than 7 days fails the entire request (62 days for physical_store).
  const maxAge = ev.action_source === 'physical_store' ? MAX_AGE_PHYSICAL_STORE_S : MAX_AGE_S;
  if (ev.event_time < nowS - maxAge) {
    return invalid(
      'The timestamp for this event is too far in the past. Events need to be sent from your server within 7 days of when they occurred. Enter a timestamp that has occurred within the last 7 days.',
      2804003, 'Event Timestamp Too Old');
  }
  if (ev.event_id !== undefined && typeof ev.event_id !== 'string') return invalid(`The parameter ${p(i, 'event_id')} must be a string.`);
  if (!isObject(ev.user_data)) return invalid(`The parameter ${p(i, 'user_data')} is required and must be an object.`);
  const ud = ev.user_data;

  // M-params: website events need event_source_url and client_user_agent.
  if (ev.action_source === 'website') {
    if (typeof ev.event_source_url !== 'string' || !/^https?:\/\/[^\s]+$/i.test(ev.event_source_url) || !URL.canParse(ev.event_source_url)) {
      return invalid(`The parameter ${p(i, 'event_source_url')} is required for website events and must be an http(s) URL.`);
    }
    if (typeof ud.client_user_agent !== 'string' || ud.client_user_agent === '') {
      return invalid(`The parameter ${p(i, 'user_data', 'client_user_agent')} is required for website events.`);
    }
  }

  // M-cust: contact information must arrive SHA-256 hashed (lowercase hex), as a string or list of strings.
  for (const key of [...HASHED_KEYS, 'external_id']) {
    if (ud[key] === undefined) continue;
    const values: unknown[] = Array.isArray(ud[key]) ? ud[key] : [ud[key]];
    for (const v of values) {
      if (typeof v !== 'string') return invalid(`The parameter ${p(i, 'user_data', key)} must be a string or a list of strings.`);
      if (key === 'external_id' && v.length !== 64) continue; // external_id may be unhashed; a 64-char one must be a real hash
      if (SHA256_HEX.test(v)) continue;
      if (key === 'em' && v.includes('@')) {
        return invalid(`The parameter ${p(i, 'user_data', 'em')} looks like an unhashed email address. Customer information must be normalized and SHA-256 hashed (64 lowercase hex characters).`);
      }
      const why = /^[0-9a-fA-F]{64}$/.test(v) ? 'uses uppercase hex; send lowercase hex' : 'is not a SHA-256 hash (64 lowercase hex characters)';
      return invalid(`The parameter ${p(i, 'user_data', key)} ${why}.`);
    }
  }
  // M-cust: client_ip_address must be a valid IPv4 or IPv6 address; client_user_agent a string.
  if (ud.client_ip_address !== undefined && (typeof ud.client_ip_address !== 'string' || isIP(ud.client_ip_address) === 0)) {
    return invalid(`The parameter ${p(i, 'user_data', 'client_ip_address')} must be a valid IPv4 or IPv6 address.`);
  }
  if (ud.client_user_agent !== undefined && typeof ud.client_user_agent !== 'string') {
    return invalid(`The parameter ${p(i, 'user_data', 'client_user_agent')} must be a string.`);
  }
  // M-fbc: fbc = fb.{0-2}.{creationTime ms}.{fbclid}; fbp = fb.{0-2}.{creationTime ms}.{random number}.
  if (ud.fbc !== undefined && (typeof ud.fbc !== 'string' || !FBC.test(ud.fbc))) {
    return invalid(`The parameter ${p(i, 'user_data', 'fbc')} must look like fb.1.<13-digit ms timestamp>.<fbclid>.`, 2804001, 'Click ID Incorrectly Formatted');
  }
  if (ud.fbp !== undefined && (typeof ud.fbp !== 'string' || !FBP.test(ud.fbp))) {
    return invalid(`The parameter ${p(i, 'user_data', 'fbp')} must look like fb.1.<13-digit ms timestamp>.<random digits>.`);
  }
  // M-cust / best practices: since Graph v13 an event needs a minimum useful combination of identifiers.
  const has = (k: string) => ud[k] !== undefined && ud[k] !== '' && !(Array.isArray(ud[k]) && ud[k].length === 0);
  const strong = ['em', 'ph', 'external_id', 'fbc', 'fbp', 'madid', 'anon_id', 'lead_id', 'ctwa_clid'].some(has);
  if (!strong && !(has('client_ip_address') && has('client_user_agent'))) {
    return invalid(
      'This event has no customer information parameters, or a combination too broad to be effective for matching. Add at least one of em, ph, external_id, fbc, fbp, or client_ip_address together with client_user_agent.',
      2804050, "You haven't added sufficient customer information parameters for this event");
  }

  // M-custom: custom_data is an object; Purchase requires an ISO 4217 currency and a numeric value.
  if (ev.custom_data !== undefined && !isObject(ev.custom_data)) return invalid(`The parameter ${p(i, 'custom_data')} must be an object.`);
  const cd = ev.custom_data ?? {};
  if (cd.currency !== undefined && (typeof cd.currency !== 'string' || !/^[A-Za-z]{3}$/.test(cd.currency))) {
    return invalid(`The parameter ${p(i, 'custom_data', 'currency')} must be a 3-letter ISO 4217 currency code.`);
  }
  if (ev.event_name === 'Purchase') {
    if (cd.currency === undefined) return invalid(`The parameter ${p(i, 'custom_data', 'currency')} is required for Purchase events.`);
    if (typeof cd.value !== 'number' || !Number.isFinite(cd.value)) {
      return invalid(`The parameter ${p(i, 'custom_data', 'value')} is required for Purchase events and must be a number.`);
    }
  }
  return undefined;
}

/** Graph accepts JSON bodies and form bodies (where `data` is a JSON-encoded string). */
function parseBody(raw: string, contentType: string): { ok: true; body: any } | { ok: false } {
  try {
    if (raw.trim() === '') return { ok: true, body: {} };
    if (contentType.includes('application/x-www-form-urlencoded')) {
      return { ok: true, body: Object.fromEntries(new URLSearchParams(raw)) };
    }
    return { ok: true, body: JSON.parse(raw) };
  } catch {
    return { ok: false };
  }
}

export async function startMetaFake(opts: MetaFakeOptions = {}): Promise<MetaFake> {
  const requests: ReceivedMetaRequest[] = [];
  let accepted: { event: any; pixelId: string; at: number }[] = [];
  let queue: MetaFailReply[] = [];
  let rules: { pred: (event: any) => boolean; reply: { status: number; body: any } }[] = [];
  let outageReply: MetaFailReply | undefined;
  let refusing = false;
  const sockets = new Set<Socket>();
  const datasetQuality = createDatasetQualityFake({ pixelId: opts.pixelId, accessToken: opts.accessToken, events: () => accepted.map((a) => a.event), error: metaError });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const query = Object.fromEntries(url.searchParams);
    const raw = await readBody(req);
    const parsed = parseBody(raw, String(req.headers['content-type'] ?? ''));
    const body = parsed.ok ? parsed.body : raw;
    const route = /^\/(v\d+\.\d+)\/([^/]+)\/events\/?$/.exec(url.pathname);
    const pixelId = route?.[2] ?? '';
    const auth = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(String(req.headers.authorization ?? ''))?.[1];
    const accessToken: string | undefined =
      (isObject(body) && typeof body.access_token === 'string' ? body.access_token : undefined) ?? query.access_token ?? auth;
    const record: ReceivedMetaRequest = { at, pixelId, query, body, accessToken, status: 0, response: undefined };
    requests.push(record);

    const reply = (status: number, response: any) => {
      record.status = status;
      record.response = response;
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'x-fb-trace-id': response?.fbtrace_id ?? response?.error?.fbtrace_id ?? '' });
      res.end(JSON.stringify(response));
    };

    // Injected failures come first: they model the network or Meta itself misbehaving.
    const injected = outageReply ?? queue.shift();
    if (injected === 'drop') { req.socket.destroy(); return; }
    if (injected === 'hang') return; // never answered; close() tears the socket down
    const acceptOnly = injected === 'accept-then-hang';
    if (injected && !acceptOnly) return reply(injected.status, injected.body ?? defaultFailureBody(injected.status));

    const quality = datasetQuality.handle(String(req.method), url.pathname, query, accessToken);
    if (quality) return reply(quality.status, quality.body);
    if (!route) return reply(400, metaError(2500, `Unknown path components: ${url.pathname}`));
    if (req.method !== 'POST') return reply(400, metaError(100, `Unsupported ${String(req.method).toLowerCase()} request.`, { type: 'GraphMethodException' }));
    // Graph versioning: calling a version the fake was not pinned to is answered like a deprecated Ads API version.
    if (opts.apiVersion && route[1] !== opts.apiVersion) {
      return reply(400, metaError(2635, `(#2635) You are calling a deprecated version of the Ads API. Please update to the latest version: ${opts.apiVersion}.`));
    }
    // M-err: no token → code 104; bad token → code 190 (OAuthException).
    if (!accessToken) return reply(400, metaError(104, 'An access token is required to request this resource.'));
    if (opts.accessToken !== undefined && accessToken !== opts.accessToken) {
      return reply(400, metaError(190, 'Invalid OAuth access token - Cannot parse access token'));
    }
    // Unknown pixel, or a token without access to it → Graph's "Unsupported post request" (code 100, subcode 33).
    if (!/^\d+$/.test(pixelId) || (opts.pixelId !== undefined && pixelId !== opts.pixelId)) {
      return reply(400, metaError(100,
        `Unsupported post request. Object with ID '${pixelId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
        { subcode: 33, type: 'GraphMethodException' }));
    }
    if (!parsed.ok) return reply(400, invalid('The request body is not valid JSON.'));

    let data = body.data;
    if (typeof data === 'string') { try { data = JSON.parse(data); } catch { return reply(400, invalid("The parameter $['data'] is not valid JSON.")); } }
    // M-using: data is a list of up to 1,000 events; one invalid event rejects the whole batch.
    if (!Array.isArray(data) || data.length === 0) return reply(400, invalid("The parameter $['data'] is required and must be a non-empty array of events."));
    if (data.length > MAX_EVENTS) return reply(400, invalid(`The parameter $['data'] contains ${data.length} events; a request may contain at most ${MAX_EVENTS}.`));
    if (body.test_event_code !== undefined && typeof body.test_event_code !== 'string') {
      return reply(400, invalid("The parameter $['test_event_code'] must be a string."));
    }
    const nowS = Math.floor(at / 1000);
    for (let i = 0; i < data.length; i++) {
      const err = validateEvent(data[i], i, nowS);
      if (err) return reply(400, err);
    }
    const rule = rules.find((r) => data.some((ev: any) => r.pred(ev)));
    if (rule) return reply(rule.reply.status, rule.reply.body);

    for (const event of data) accepted.push({ event, pixelId, at });
    if (acceptOnly) { record.status = 200; return; } // accepted, but the answer never comes
    return reply(200, { events_received: data.length, messages: [], fbtrace_id: fbtraceId() });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      // Never crash the test run: report the fake's own bug as a transient Graph error.
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify(metaError(1, `Meta fake internal error: ${String(err)}`, { isTransient: true })));
      }
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const dedupKey = (a: { event: any; pixelId: string }) => JSON.stringify([a.pixelId, a.event.event_name, a.event.event_id]);

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    events: () => accepted.map((a) => a.event),
    // M-server: same event_name + event_id (per pixel) within 48 h of the first → only the first counts.
    uniqueEvents: () => {
      const firstSeen = new Map<string, number>();
      return accepted.filter(({ event, pixelId, at }) => {
        if (typeof event.event_id !== 'string') return true;
        const key = JSON.stringify([pixelId, event.event_name, event.event_id]);
        const first = firstSeen.get(key);
        if (first !== undefined && at - first <= DEDUP_WINDOW_MS) return false;
        firstSeen.set(key, at);
        return true;
      }).map((a) => a.event);
    },
    acceptCounts: () => {
      const counts = new Map<string, number>();
      for (const a of accepted) counts.set(dedupKey(a), (counts.get(dedupKey(a)) ?? 0) + 1);
      return counts;
    },
    outage: async (mode) => {
      outageReply = mode === 'refused' || mode === null ? undefined : mode;
      if (mode === 'refused' && !refusing) {
        refusing = true;
        await new Promise<void>((resolve) => { server.close(() => resolve()); for (const s of sockets) s.destroy(); });
      } else if (mode !== 'refused' && refusing) {
        refusing = false;
        await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', () => resolve()); });
      }
    },
    failNext: (n, reply) => { for (let i = 0; i < n; i++) queue.push(reply); },
    failWhen: (pred, reply) => { rules.push({ pred, reply }); },
    datasetQuality: datasetQuality.control,
    reset: () => { requests.length = 0; accepted = []; queue = []; rules = []; outageReply = undefined; },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy(); // includes 'hang' sockets, which would otherwise keep close() waiting
      if (refusing) return resolve();
      server.close(() => resolve());
    }),
  };
}
