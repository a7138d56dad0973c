/**
 * Local fake of TikTok's Events API 2.0 (`POST /open_api/v1.3/event/track/`) for end-to-end tests.
 *
 * It validates requests the way TikTok and its integrators document them (/work/shared/reference/platforms.md §2)
 * and answers with TikTok's envelope `{code, message, request_id, data}` — under HTTP 200 even for errors, as the
 * Business API does. Sources:
 *   T-gtm   github tiktok/gtm-template-eapi template.js (Access-Token header, event_source web, hashing)
 *   T-codes github tiktok/tiktok-business-api-sdk tiktok_code.py (numeric codes)
 *   T-rs    RudderStack tiktok_ads (batch ≤ 1000; 40100 throttled)
 *   Hightouch docs: "TikTok fails an entire batch if it detects an erroneous row"
 * Codes used: 40104 empty token, 40105 invalid token, 40001 no permission on the pixel, 40002 parameter error,
 * 40061 invalid batch size, 40062 PII not hashed, 40100 too many requests, 50000 system error.
 * TikTok documents no maximum event age; this fake does not invent one. Future event_time: 60 s tolerance (ours).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { listenOnLoopback, readBody } from './http.ts';

export interface TikTokFakeOptions { pixelCode?: string; accessToken?: string }
export interface ReceivedTikTokRequest { at: number; accessToken?: string; body: any; status: number; response: any }
/** An injected answer: a TikTok code (HTTP 200 unless `status` says otherwise), or the network failing. */
export type TikTokFailReply = { status?: number; body: any } | 'drop' | 'hang';
export interface TikTokFake {
  baseUrl: string;
  requests: ReceivedTikTokRequest[];
  /** Every event accepted, with the pixel and test code of its request. */
  events(): any[];
  accepted(): { event: any; pixelCode: string; testEventCode?: string; at: number }[];
  failNext(n: number, reply: TikTokFailReply): void;
  /** Answer every request containing a matching event with `reply` (a bad row fails the whole batch). */
  failWhen(pred: (event: any) => boolean, reply: { status?: number; body: any }): void;
  reset(): void;
  close(): Promise<void>;
}

const PATH = '/open_api/v1.3/event/track/';
const MAX_EVENTS = 1000;
const FUTURE_TOLERANCE_S = 60;
const EVENT_SOURCES = ['web', 'app', 'offline', 'crm'];
const SHA256_HEX = /^[0-9a-f]{64}$/;
const HASHED_KEYS = ['email', 'phone', 'external_id'];

export function tiktokRequestId(): string {
  return new Date().toISOString().replace(/\D/g, '').slice(0, 14) + randomBytes(12).toString('hex').toUpperCase();
}

/** TikTok's response envelope. */
export function tiktokError(code: number, message: string): any {
  return { code, message, request_id: tiktokRequestId(), data: {} };
}

const paramError = (message: string) => tiktokError(40002, message);
const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Returns an error body for the first invalid event, or undefined when it is acceptable. */
function validateEvent(ev: unknown, i: number, nowS: number): any | undefined {
  const at = (k: string) => `data[${i}].${k}`;
  if (!isObject(ev)) return paramError(`Invalid value for data[${i}]: must be an object.`);
  if (typeof ev.event !== 'string' || ev.event.trim() === '') return paramError(`${at('event')}: Missing data for required field.`);
  if (!Number.isInteger(ev.event_time)) return paramError(`${at('event_time')}: Missing data for required field or not an integer Unix timestamp in seconds.`);
  if (ev.event_time > nowS + FUTURE_TOLERANCE_S) {
    const hint = ev.event_time >= 1e12 ? ' It looks like milliseconds; event_time is in seconds.' : '';
    return paramError(`Invalid value for ${at('event_time')}: in the future.${hint}`);
  }
  if (ev.event_id !== undefined && typeof ev.event_id !== 'string') return paramError(`Invalid value for ${at('event_id')}: not a valid string.`);
  if (ev.limited_data_use !== undefined && typeof ev.limited_data_use !== 'boolean') return paramError(`Invalid value for ${at('limited_data_use')}: not a boolean.`);
  if (ev.user !== undefined && !isObject(ev.user)) return paramError(`Invalid value for ${at('user')}: must be an object.`);
  const user = ev.user ?? {};
  for (const key of HASHED_KEYS) {
    if (user[key] === undefined) continue;
    const values: unknown[] = Array.isArray(user[key]) ? user[key] : [user[key]];
    for (const v of values) {
      if (typeof v !== 'string' || !SHA256_HEX.test(v)) {
        return tiktokError(40062, `${at(`user.${key}`)}: personal information must be SHA-256 hashed (64 lowercase hex characters).`);
      }
    }
  }
  for (const key of ['ttclid', 'ttp', 'user_agent']) {
    if (user[key] !== undefined && (typeof user[key] !== 'string' || user[key] === '')) return paramError(`Invalid value for ${at(`user.${key}`)}: not a valid string.`);
  }
  if (user.ip !== undefined && (typeof user.ip !== 'string' || isIP(user.ip) === 0)) return paramError(`Invalid value for ${at('user.ip')}: not a valid IP address.`);
  if (ev.page !== undefined) {
    if (!isObject(ev.page) || (ev.page.url !== undefined && (typeof ev.page.url !== 'string' || !URL.canParse(ev.page.url)))) {
      return paramError(`Invalid value for ${at('page.url')}: not a valid URL.`);
    }
  }
  if (ev.properties !== undefined && !isObject(ev.properties)) return paramError(`Invalid value for ${at('properties')}: must be an object.`);
  const p = ev.properties ?? {};
  if (p.value !== undefined && (typeof p.value !== 'number' || !Number.isFinite(p.value))) return paramError(`Invalid value for ${at('properties.value')}: not a number.`);
  if (p.currency !== undefined && (typeof p.currency !== 'string' || !/^[A-Z]{3}$/.test(p.currency))) {
    return paramError(`Invalid value for ${at('properties.currency')}: must be an ISO 4217 code.`);
  }
  if (p.order_id !== undefined && typeof p.order_id !== 'string') return paramError(`Invalid value for ${at('properties.order_id')}: not a valid string.`);
  if (p.contents !== undefined) {
    if (!Array.isArray(p.contents)) return paramError(`Invalid value for ${at('properties.contents')}: must be a list.`);
    for (const [k, c] of p.contents.entries()) {
      if (!isObject(c) || (c.content_id !== undefined && typeof c.content_id !== 'string')) {
        return paramError(`Invalid value for ${at(`properties.contents[${k}].content_id`)}: not a valid string.`);
      }
      if (c.price !== undefined && typeof c.price !== 'number') return paramError(`Invalid value for ${at(`properties.contents[${k}].price`)}: not a number.`);
      if (c.quantity !== undefined && !Number.isInteger(c.quantity)) return paramError(`Invalid value for ${at(`properties.contents[${k}].quantity`)}: not an integer.`);
    }
  }
  return undefined;
}

export async function startTikTokFake(opts: TikTokFakeOptions = {}): Promise<TikTokFake> {
  const requests: ReceivedTikTokRequest[] = [];
  let accepted: { event: any; pixelCode: string; testEventCode?: string; at: number }[] = [];
  let queue: TikTokFailReply[] = [];
  let rules: { pred: (event: any) => boolean; reply: { status?: number; body: any } }[] = [];

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const raw = await readBody(req);
    let body: any = raw;
    let parsed = true;
    try {
      body = raw.trim() === '' ? {} : JSON.parse(raw);
    } catch {
      parsed = false;
    }
    const header = req.headers['access-token'];
    const accessToken = Array.isArray(header) ? header[0] : header;
    const record: ReceivedTikTokRequest = { at, accessToken, body, status: 0, response: undefined };
    requests.push(record);
    const reply = (response: any, status = 200) => {
      record.status = status;
      record.response = response;
      res.writeHead(status, { 'content-type': 'application/json', 'x-tt-logid': response?.request_id ?? '' });
      res.end(JSON.stringify(response));
    };

    const injected = queue.shift();
    if (injected === 'drop') { req.socket.destroy(); return; }
    if (injected === 'hang') return;
    if (injected) return reply(injected.body, injected.status ?? 200);

    if (url.pathname !== PATH) return reply(tiktokError(40400, `Route not found: ${url.pathname}`), 404);
    if (req.method !== 'POST') return reply(tiktokError(40002, `Method ${req.method} not allowed.`), 405);
    // T-gtm: the token travels in the Access-Token header.
    if (!accessToken) return reply(tiktokError(40104, 'Access token is null. Please check the Access-Token header.'));
    if (opts.accessToken !== undefined && accessToken !== opts.accessToken) {
      return reply(tiktokError(40105, 'Access token is incorrect or has been revoked.'));
    }
    if (!parsed || !isObject(body)) return reply(paramError('The request body is not valid JSON.'));
    if (!EVENT_SOURCES.includes(body.event_source)) return reply(paramError(`Invalid value for event_source: must be one of ${EVENT_SOURCES.join(', ')}.`));
    if (typeof body.event_source_id !== 'string' || body.event_source_id === '') return reply(paramError('event_source_id: Missing data for required field.'));
    if (opts.pixelCode !== undefined && body.event_source_id !== opts.pixelCode) {
      return reply(tiktokError(40001, `No permission to operate pixel: ${body.event_source_id}. Check event_source_id and the token's pixel.`));
    }
    if (body.test_event_code !== undefined && typeof body.test_event_code !== 'string') return reply(paramError('Invalid value for test_event_code: not a valid string.'));
    const data = body.data;
    if (!Array.isArray(data) || data.length === 0) return reply(paramError('data: Missing data for required field or not a non-empty list.'));
    if (data.length > MAX_EVENTS) return reply(tiktokError(40061, `Invalid batch size: ${data.length} events; at most ${MAX_EVENTS} per request.`));
    const nowS = Math.floor(at / 1000);
    // A bad row fails the whole batch (Hightouch).
    for (let i = 0; i < data.length; i++) {
      const err = validateEvent(data[i], i, nowS);
      if (err) return reply(err);
    }
    const rule = rules.find((r) => data.some((ev: any) => r.pred(ev)));
    if (rule) return reply(rule.reply.body, rule.reply.status ?? 200);

    for (const event of data) accepted.push({ event, pixelCode: body.event_source_id, testEventCode: body.test_event_code, at });
    return reply({ code: 0, message: 'OK', request_id: tiktokRequestId(), data: {} });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(tiktokError(50000, `TikTok fake internal error: ${String(err)}`)));
      }
    });
  });
  const listening = await listenOnLoopback(server);

  return {
    baseUrl: listening.baseUrl,
    requests,
    events: () => accepted.map((a) => a.event),
    accepted: () => [...accepted],
    failNext: (n, reply) => { for (let i = 0; i < n; i++) queue.push(reply); },
    failWhen: (pred, reply) => { rules.push({ pred, reply }); },
    reset: () => { requests.length = 0; accepted = []; queue = []; rules = []; },
    close: listening.close,
  };
}
