import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from './http.ts';

/**
 * A fake of ClickBank's Orders API list endpoints the backfill reads, behaving as ClickBank documents them (support
 * articles "Orders API" and "ClickBank API Specifications") and as OpenClickBank (github OcelliSolutions/OpenClickBank)
 * found the JSON to be:
 * - `GET /rest/1.3/orders2/list` and `/rest/1.3/orders2/count`; header `Authorization: <API key>` (no "Bearer"); a
 *   wrong or missing key, or a key without the Orders read permission (`deny`), is a 403 with a plain-text body;
 * - `Accept: application/json` gets JSON (anything else a 406 here: the API's default is XML);
 * - query `startDate` / `endDate` (yyyy-mm-dd, both or neither, matched against the date of the order's own
 *   transaction time, i.e. ClickBank's time zone), `type`; any other parameter is a 400;
 * - 100 orders a page; the page number in the `Page` request header; 206 Partial Content while more pages follow, 200
 *   for the last; 204 when nothing matches;
 * - the JSON is XML turned inside out: `{"orderData": [...]}`, where a list of one is the bare object (orders, line
 *   items, vendor variables), numbers and booleans are strings, and an absent value is `{"@nil": "true"}`;
 * - injected rate limits (`rateLimit`): the next requests answer 429 (or the status given) with a text body.
 */
export interface ClickbankOrdersFakeOptions {
  apiKey: string;
  pageSize?: number;
}

export interface ClickbankOrdersRequest {
  path: string;
  query: Record<string, string>;
  page: number;
  status: number;
}

export interface ClickbankOrdersFake {
  baseUrl: string;
  /** Orders as plain objects (arrays, numbers, booleans, null): the fake encodes them as ClickBank's JSON does. */
  add(...orders: Record<string, unknown>[]): void;
  /** The next `times` list/count requests answer `status` (429 by default). */
  rateLimit(times: number, status?: number): void;
  /** The key has no Orders read permission: every request is a 403. */
  deny(): void;
  requests: ClickbankOrdersRequest[];
  reset(): void;
  close(): Promise<void>;
}

const LIST = '/rest/1.3/orders2/list';
const COUNT = '/rest/1.3/orders2/count';
const PARAMS = ['startDate', 'endDate', 'type', 'vendor', 'affiliate', 'lastName', 'item', 'email', 'tid', 'role', 'postalCode', 'amount'];
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** ClickBank's JSON encoding of a value: lists of one as the element, scalars as strings, null as a nil object. */
export function clickbankJson(value: unknown): unknown {
  if (value === null || value === undefined) return { '@nil': 'true' };
  if (Array.isArray(value)) {
    const items = value.map(clickbankJson);
    return items.length === 1 ? items[0] : items;
  }
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clickbankJson(v)]));
  return String(value);
}

/** The order's date as ClickBank files it: the date part of its own transaction time (either ISO form). */
const orderDate = (o: Record<string, unknown>) => {
  const t = String(o.transactionTime ?? '');
  const m = /^(\d{4})-?(\d{2})-?(\d{2})/.exec(t);
  return m ? `${m[1]}-${m[2]}-${m[3]}` : '';
};

export async function startClickbankOrdersFake(opts: ClickbankOrdersFakeOptions): Promise<ClickbankOrdersFake> {
  const pageSize = opts.pageSize ?? 100;
  let orders: Record<string, unknown>[] = [];
  let limited: { times: number; status: number } = { times: 0, status: 429 };
  let denied = false;
  const requests: ClickbankOrdersRequest[] = [];

  function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const page = Number(req.headers.page ?? '1');
    const reply = (status: number, body: string, type = 'text/plain') => {
      requests.push({ path: url.pathname, query, page, status });
      res.writeHead(status, body ? { 'content-type': type } : {});
      res.end(body);
    };
    if (req.method !== 'GET' || (url.pathname !== LIST && url.pathname !== COUNT)) return reply(404, 'Not Found');
    if (!req.headers.authorization || req.headers.authorization !== opts.apiKey || denied) return reply(403, 'Access Denied. The API key is not authorized for this resource.');
    if (limited.times > 0) {
      limited.times--;
      return reply(limited.status, limited.status === 429 ? 'Too many requests: rate limit exceeded' : 'Service Unavailable');
    }
    const unknown = Object.keys(query).find((k) => !PARAMS.includes(k));
    if (unknown) return reply(400, `Unknown parameter: ${unknown}`);
    if ((query.startDate === undefined) !== (query.endDate === undefined)) return reply(400, 'startDate and endDate must be given together');
    if ([query.startDate, query.endDate].some((d) => d !== undefined && !DATE.test(d))) return reply(400, 'Dates must be yyyy-mm-dd');
    if (!Number.isInteger(page) || page < 1) return reply(400, 'Invalid Page header');
    let rows = orders;
    if (query.startDate) rows = rows.filter((o) => orderDate(o) >= query.startDate && orderDate(o) <= query.endDate);
    if (query.type) rows = rows.filter((o) => o.transactionType === query.type);
    if (url.pathname === COUNT) return reply(200, String(rows.length));
    if (!(req.headers.accept ?? '').includes('application/json')) return reply(406, 'Not Acceptable: this fake speaks application/json only');
    const slice = rows.slice((page - 1) * pageSize, page * pageSize);
    if (slice.length === 0) return reply(204, '');
    const more = rows.length > page * pageSize;
    reply(more ? 206 : 200, JSON.stringify({ orderData: clickbankJson(slice) }), 'application/json');
  }

  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handle(req, res));
  });
  const { baseUrl, close } = await listenOnLoopback(server);
  return {
    baseUrl,
    add: (...o) => orders.push(...o.map((x) => structuredClone(x))),
    rateLimit: (times, status = 429) => (limited = { times, status }),
    deny: () => (denied = true),
    requests,
    reset() {
      orders = [];
      limited = { times: 0, status: 429 };
      denied = false;
      requests.length = 0;
    },
    close,
  };
}
