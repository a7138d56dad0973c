import { asList, groupOrders, orderTransactionTime, type OrderGroup, type OrderRow } from '../../functions/sources/clickbank/history.ts';
import { parseTransactionTime } from '../../functions/sources/clickbank/schema.ts';
import type { Window } from './stripe-history.ts';
import { OperatorError } from './target.ts';
import { Throttle, sendWithRateLimitRetries, type Clock } from './throttle.ts';

/** The ClickBank API key the backfill reads orders with (README, "Backfill" → ClickBank). */
export const CLICKBANK_KEY_SETTING = 'CLICKBANK_API_KEY';
/** Another API base URL (a proxy, or a test's fake), like the platforms' *_API_BASE_URL settings. */
export const CLICKBANK_BASE_URL_SETTING = 'CLICKBANK_API_BASE_URL';
/** Requests per second (ClickBank allows 10 per second per IP address, shared by every tool on that address). */
export const CLICKBANK_RATE_SETTING = 'CLICKBANK_BACKFILL_RATE';
export const DEFAULT_CLICKBANK_RATE = 5;
export const ORDERS_LIST_PATH = '/rest/1.3/orders2/list';
const DEFAULT_BASE_URL = 'https://api.clickbank.com';
/** ClickBank's name for the permission (Settings → API Management), and its role name in the Orders API reference. */
const PERMISSION = '"Orders/Tickets API Read" (the API Order Read role)';
/** A stop against a server that keeps answering 206: ClickBank's daily limit is 25,000 requests per account. */
const MAX_PAGES = 2000;

export interface ClickbankHistoryOptions {
  settings: Readonly<Record<string, string | undefined>>;
  clock?: Clock;
  /** Told each time a rate-limited request is retried (for the progress line). */
  onRateLimited?: (endpoint: string, attempt: number, waitMs: number) => void;
  maxRateLimitRetries?: number;
}

export interface ClickbankOrdersApi {
  /** Every order row of the days covering `window` (Unix seconds), page after page. */
  listOrders(window: Window): AsyncGenerator<OrderRow>;
}

/** The Orders API client of the backfill: the key from the settings, throttled, pointed at CLICKBANK_API_BASE_URL when set. */
export function clickbankForBackfill(opts: ClickbankHistoryOptions): ClickbankOrdersApi {
  const key = opts.settings[CLICKBANK_KEY_SETTING]?.trim();
  if (!key) {
    throw new OperatorError(`Set ${CLICKBANK_KEY_SETTING} (in the environment or .env) to a ClickBank API key (API-…, Settings → API Management) with ${PERMISSION} for the account nickname; see README "Backfill".`);
  }
  // The current form, and the legacy developer:clerk pair.
  if (!/^(DEV-[A-Za-z0-9]+:)?API-[A-Za-z0-9]+$/.test(key)) throw new OperatorError(`${CLICKBANK_KEY_SETTING} does not look like a ClickBank API key (API- followed by letters and digits).`);
  const rate = Number(opts.settings[CLICKBANK_RATE_SETTING] ?? DEFAULT_CLICKBANK_RATE);
  if (!(rate > 0)) throw new OperatorError(`${CLICKBANK_RATE_SETTING} must be a positive number of requests per second, got "${opts.settings[CLICKBANK_RATE_SETTING]}".`);
  const base = (opts.settings[CLICKBANK_BASE_URL_SETTING]?.trim() || DEFAULT_BASE_URL).replace(/\/+$/, '');
  const throttle = new Throttle(rate, opts.clock);
  const endpoint = `GET ${ORDERS_LIST_PATH}`;
  // ClickBank's error bodies are plain text; the key is never echoed back to the operator, whatever they hold.
  const redact = (s: string) => s.split(key).join('***').replace(/\s+/g, ' ').trim().slice(0, 300);

  async function page(url: string, n: number): Promise<Response> {
    return sendWithRateLimitRetries(
      endpoint,
      async () => {
        try {
          return await fetch(url, {
            headers: { authorization: key!, accept: 'application/json', ...(n > 1 ? { page: String(n) } : {}) },
            signal: AbortSignal.timeout(60_000),
          });
        } catch (err) {
          const cause = (err as { cause?: { code?: string; message?: string } }).cause;
          throw new OperatorError(`Could not reach ClickBank's Orders API at ${base}: ${cause?.code ?? cause?.message ?? (err as Error).message}.`);
        }
      },
      async (res) => {
        if (res.status !== 429 && res.status !== 503 && !(res.status === 403 && (await rateLimitText(res)))) return undefined;
        await res.body?.cancel().catch(() => undefined);
        return { retryAfter: res.headers.get('retry-after') ?? undefined };
      },
      { throttle, clock: opts.clock, maxRetries: opts.maxRateLimitRetries, onRateLimited: opts.onRateLimited },
    );
  }

  return {
    async *listOrders(window) {
      // The API filters on whole days of its own time zone (ClickBank's times carry a US offset): ask for a day more on
      // each side and keep the orders whose time is in the window.
      const day = (s: number) => new Date(s * 1000).toISOString().slice(0, 10);
      const url = `${base}${ORDERS_LIST_PATH}?${new URLSearchParams({ startDate: day(window.gte - 86400), endDate: day(window.lte + 86400) })}`;
      for (let n = 1; ; n++) {
        if (n > MAX_PAGES) throw new OperatorError(`ClickBank's Orders API still announced more pages (206) after ${MAX_PAGES}; stopping. Use a shorter --since / --until.`);
        const res = await page(url, n);
        const body = await res.text();
        if (res.status === 401 || res.status === 403) {
          const limited = RATE_LIMIT_TEXT.test(body);
          throw new OperatorError(
            limited
              ? `ClickBank kept refusing for its request limit (${res.status}: ${redact(body)}). ClickBank allows 10 requests a second per IP address and 25,000 a day per account, shared with your other tools: lower ${CLICKBANK_RATE_SETTING} or run again later; what was queued stays queued.`
              : `ClickBank refused the key (${res.status}${body.trim() ? `: ${redact(body)}` : ''}). Give the API key ${PERMISSION} for this account nickname in Settings → API Management (README "Backfill").`,
          );
        }
        if (res.status === 429 || res.status === 503) {
          throw new OperatorError(`ClickBank kept answering ${res.status} after every retry: lower ${CLICKBANK_RATE_SETTING} and run again; what was queued stays queued.`);
        }
        if (res.status === 204) return;
        if (res.status !== 200 && res.status !== 206) throw new OperatorError(`ClickBank's Orders API answered ${res.status} to ${endpoint}: ${redact(body) || 'no body'}`);
        for (const row of parseOrders(body, res.status)) {
          const at = parseTransactionTime(orderTransactionTime(row) ?? '');
          // A row without a readable time is kept: the mapping refuses it with the reason, rather than losing it unseen.
          if (!at || (at.getTime() >= window.gte * 1000 && at.getTime() <= window.lte * 1000)) yield row;
        }
        // 206 Partial Content: another page follows (asked for with the `Page` request header); 200 is the last.
        if (res.status !== 206) return;
      }
    },
  };
}

const RATE_LIMIT_TEXT = /limit|exceed|too many|throttl/i;

async function rateLimitText(res: Response): Promise<boolean> {
  // Read from a clone: the original body is still read by the caller when this is no rate limit.
  return RATE_LIMIT_TEXT.test(await res.clone().text().catch(() => ''));
}

function parseOrders(body: string, status: number): OrderRow[] {
  if (!body.trim()) return [];
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new OperatorError(`ClickBank's Orders API answered ${status} with a body that is not JSON (does a proxy at ${CLICKBANK_BASE_URL_SETTING} rewrite it?).`);
  }
  return asList((json as { orderData?: unknown } | null)?.orderData);
}

/**
 * Every order of the window, as the notifications they were: grouped by receipt and transaction type (kind: the type,
 * e.g. "SALE orders"). The pages are read first (ClickBank lists a receipt's rows in no documented order).
 */
export async function* clickbankHistory(api: ClickbankOrdersApi, window: Window): AsyncGenerator<{ kind: string; group: OrderGroup }> {
  const rows: OrderRow[] = [];
  for await (const row of api.listOrders(window)) rows.push(row);
  for (const group of groupOrders(rows)) yield { kind: `${group.transactionType || 'untyped'} orders`, group };
}
