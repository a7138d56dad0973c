import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from './http.ts';

/**
 * A fake of the Stripe API's list endpoints the backfill reads, behaving as Stripe documents them
 * (docs.stripe.com/api/pagination, /api/events/list, /rate-limits):
 * - `GET /v1/checkout/sessions`, `/v1/subscriptions`, `/v1/payment_intents`, `/v1/invoices`, `/v1/refunds`,
 *   `/v1/disputes`, `/v1/events`;
 * - newest first; `limit` 1–100 (default 10); `starting_after=<id>` continues after that object; `has_more`;
 * - `created[gte|gt|lte|lt]` (Unix seconds), `status` (sessions, invoices; subscriptions as /api/subscriptions/list
 *   has it: none leaves canceled ones out, `ended` is canceled or incomplete_expired, `all` all), `charge` (refunds),
 *   `delivery_success` and `type` / `types[]` (events), `expand[]=data.charge` (refunds);
 * - an unknown parameter is a 400 `invalid_request_error` naming it (so the client sends only what Stripe takes), a
 *   wrong key a 401, an endpoint the restricted key has no permission for a 403;
 * - injected 429s (`rateLimit`) as Stripe sends them: `rate_limit` error code, `Stripe-Rate-Limited-Reason` header.
 * Query parameters arrive in stripe-node's encoding: `created[gte]=…`, `expand[0]=…`.
 */
export interface StripeApiFakeOptions {
  apiKey: string;
}

export interface StripeApiRequest {
  at: number;
  method: string;
  path: string;
  query: Record<string, unknown>;
  status: number;
}

export interface StripeApiFake {
  baseUrl: string;
  /** Objects as the API would return them; each carries `object` (checkout.session, subscription, payment_intent, invoice, refund, dispute, charge) and `created`. */
  add(...objects: Record<string, any>[]): void;
  /** An event for /v1/events; `deliverySuccess: false` lists it under delivery_success=false. */
  addEvent(event: Record<string, any>, deliverySuccess: boolean): void;
  /** The next `times` requests to `path` answer 429. */
  rateLimit(path: string, times: number): void;
  /** Requests to `path` answer 403, as for a restricted key without that permission. */
  deny(path: string): void;
  requests: StripeApiRequest[];
  reset(): void;
  close(): Promise<void>;
}

const LISTS: Record<string, { object: string; params: string[] }> = {
  '/v1/checkout/sessions': { object: 'checkout.session', params: ['created', 'customer', 'customer_details', 'ending_before', 'expand', 'limit', 'payment_intent', 'payment_link', 'starting_after', 'status', 'subscription'] },
  '/v1/subscriptions': { object: 'subscription', params: ['automatic_tax', 'collection_method', 'created', 'current_period_end', 'current_period_start', 'customer', 'ending_before', 'expand', 'limit', 'price', 'starting_after', 'status', 'test_clock'] },
  '/v1/payment_intents': { object: 'payment_intent', params: ['created', 'customer', 'ending_before', 'expand', 'limit', 'starting_after'] },
  '/v1/invoices': { object: 'invoice', params: ['collection_method', 'created', 'customer', 'due_date', 'ending_before', 'expand', 'limit', 'starting_after', 'status', 'subscription'] },
  '/v1/refunds': { object: 'refund', params: ['charge', 'created', 'ending_before', 'expand', 'limit', 'payment_intent', 'starting_after'] },
  '/v1/disputes': { object: 'dispute', params: ['charge', 'created', 'ending_before', 'expand', 'limit', 'payment_intent', 'starting_after'] },
  '/v1/events': { object: 'event', params: ['created', 'delivery_success', 'ending_before', 'expand', 'limit', 'starting_after', 'type', 'types'] },
};

/** `a[b]=1&c[0]=x` → `{ a: { b: '1' }, c: ['x'] }` (one level, as Stripe's list parameters use). */
export function parseStripeQuery(search: URLSearchParams): Record<string, unknown> {
  const out: Record<string, any> = {};
  for (const [key, value] of search) {
    const m = /^([^[\]]+)\[([^[\]]*)\]$/.exec(key);
    if (!m) {
      out[key] = value;
      continue;
    }
    const [, name, sub] = m;
    if (sub === '' || /^\d+$/.test(sub)) (out[name] ??= []).push(value);
    else (out[name] ??= {})[sub] = value;
  }
  return out;
}

/** `status` of GET /v1/subscriptions: "If no value is supplied, all subscriptions that have not been canceled are returned." */
function subscriptionStatusFilter(status: unknown): (sub: Record<string, any>) => boolean {
  if (status === undefined) return (sub) => sub.status !== 'canceled';
  if (status === 'all') return () => true;
  if (status === 'ended') return (sub) => sub.status === 'canceled' || sub.status === 'incomplete_expired';
  return (sub) => sub.status === status;
}

const stripeError = (type: string, message: string, extra: Record<string, unknown> = {}) => ({ error: { type, message, ...extra } });

export async function startStripeApiFake(opts: StripeApiFakeOptions): Promise<StripeApiFake> {
  let objects: Record<string, any>[] = [];
  let events: { event: Record<string, any>; deliverySuccess: boolean }[] = [];
  const limited = new Map<string, number>();
  const denied = new Set<string>();
  const requests: StripeApiRequest[] = [];

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_fake_${requests.length}`, ...headers });
    res.end(JSON.stringify(body));
  };

  function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = parseStripeQuery(url.searchParams);
    const record = (status: number) => requests.push({ at: Date.now(), method: req.method ?? '', path: url.pathname, query, status });
    const list = LISTS[url.pathname];
    if (req.method !== 'GET' || !list) {
      record(404);
      return send(res, 404, stripeError('invalid_request_error', `Unrecognized request URL (${req.method}: ${url.pathname}).`));
    }
    if (req.headers.authorization !== `Bearer ${opts.apiKey}`) {
      record(401);
      return send(res, 401, stripeError('invalid_request_error', 'Invalid API Key provided.'));
    }
    if (denied.has(url.pathname)) {
      record(403);
      return send(res, 403, stripeError('invalid_request_error', `The provided key '${opts.apiKey.slice(0, 8)}***' does not have the required permissions for this endpoint on account 'acct_fake'.`));
    }
    const left = limited.get(url.pathname) ?? 0;
    if (left > 0) {
      limited.set(url.pathname, left - 1);
      record(429);
      return send(res, 429, stripeError('invalid_request_error', 'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.', { code: 'rate_limit' }), { 'stripe-rate-limited-reason': 'endpoint-rate' });
    }
    const unknown = Object.keys(query).find((k) => !list.params.includes(k));
    if (unknown) {
      record(400);
      return send(res, 400, stripeError('invalid_request_error', `Received unknown parameter: ${unknown}`, { param: unknown }));
    }
    const limit = query.limit === undefined ? 10 : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      record(400);
      return send(res, 400, stripeError('invalid_request_error', 'This value must be greater than or equal to 1 and less than or equal to 100.', { param: 'limit' }));
    }
    let rows = list.object === 'event' ? events.filter((e) => query.delivery_success === undefined || String(e.deliverySuccess) === query.delivery_success).map((e) => e.event) : objects.filter((o) => o.object === list.object);
    const created = (query.created ?? {}) as Record<string, string>;
    if (typeof query.created === 'string') rows = rows.filter((o) => o.created === Number(query.created));
    for (const [op, v] of Object.entries(typeof query.created === 'object' ? created : {})) {
      const t = Number(v);
      if (!['gt', 'gte', 'lt', 'lte'].includes(op) || !Number.isInteger(t)) {
        record(400);
        return send(res, 400, stripeError('invalid_request_error', `Invalid created[${op}]: must be an integer Unix timestamp`, { param: `created[${op}]` }));
      }
      rows = rows.filter((o) => (op === 'gt' ? o.created > t : op === 'gte' ? o.created >= t : op === 'lt' ? o.created < t : o.created <= t));
    }
    if (list.object === 'subscription') rows = rows.filter(subscriptionStatusFilter(query.status));
    else if (typeof query.status === 'string') rows = rows.filter((o) => o.status === query.status);
    // A refund's charge may be expanded in what was added; the filter is on its ID.
    if (typeof query.charge === 'string') rows = rows.filter((o) => (typeof o.charge === 'object' ? o.charge?.id : o.charge) === query.charge);
    if (typeof query.type === 'string') rows = rows.filter((e) => e.type === query.type);
    if (Array.isArray(query.types)) rows = rows.filter((e) => (query.types as string[]).includes(e.type));
    // Newest first; among equal times, the one added last first (Stripe's order is by creation).
    rows = rows.map((o, i) => ({ o, i })).sort((a, b) => b.o.created - a.o.created || b.i - a.i).map((x) => x.o);
    if (typeof query.starting_after === 'string') {
      const at = rows.findIndex((o) => o.id === query.starting_after);
      if (at < 0) {
        record(400);
        return send(res, 400, stripeError('invalid_request_error', `No such object: '${query.starting_after}'`, { param: 'starting_after' }));
      }
      rows = rows.slice(at + 1);
    }
    const page = rows.slice(0, limit).map((o) => structuredClone(o));
    const expand = Array.isArray(query.expand) ? (query.expand as string[]) : [];
    for (const path of expand) {
      if (path !== 'data.charge' || list.object !== 'refund') {
        record(400);
        return send(res, 400, stripeError('invalid_request_error', `This property cannot be expanded (${path}).`, { param: 'expand' }));
      }
      for (const refund of page) refund.charge = structuredClone(objects.find((o) => o.object === 'charge' && o.id === refund.charge)) ?? refund.charge;
    }
    record(200);
    send(res, 200, { object: 'list', data: page, has_more: rows.length > limit, url: url.pathname });
  }

  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handle(req, res));
  });
  const { baseUrl, close } = await listenOnLoopback(server);
  return {
    baseUrl,
    add: (...o) => objects.push(...o.map((x) => structuredClone(x))),
    addEvent: (event, deliverySuccess) => events.push({ event: structuredClone(event), deliverySuccess }),
    rateLimit: (path, times) => limited.set(path, (limited.get(path) ?? 0) + times),
    deny: (path) => denied.add(path),
    requests,
    reset() {
      objects = [];
      events = [];
      limited.clear();
      denied.clear();
      requests.length = 0;
    },
    close,
  };
}
