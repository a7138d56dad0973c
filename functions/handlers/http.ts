import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { RequestError } from '#core/errors.ts';
import type { IncomingRequest } from '#sources/types.ts';
import { SOURCE_METRICS } from '#core/metric-names.ts';
import { count, logger } from './powertools.ts';

export type HttpResult = APIGatewayProxyStructuredResultV2;

/** Webhook bodies larger than this are refused (Stripe's events are a few KB; ClickBank's and CRMs' smaller). */
export const MAX_BODY_BYTES = 256 * 1024;

/**
 * A payload-2.0 event (function URL or HTTP API: the same shape) → the raw request a source verifies: exact body bytes,
 * lower-case headers.
 */
export function toIncomingRequest(event: APIGatewayProxyEventV2, maxBytes = MAX_BODY_BYTES): IncomingRequest {
  const body = event.body == null ? Buffer.alloc(0) : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  if (body.length > maxBytes) throw new RequestError(413, 'body_too_large', `the body is ${body.length} bytes; at most ${maxBytes} are accepted`);
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) headers[k.toLowerCase()] = v;
  if (event.cookies?.length) headers.cookie = event.cookies.join('; ');
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    headers,
    query: { ...event.queryStringParameters },
    rawQuery: event.rawQueryString || undefined,
    body,
    sourceIp: event.requestContext.http.sourceIp,
  };
}

/** A route a function serves: `POST /webhooks/stripe` (functions/registry.ts). */
export interface HttpRoute {
  method: string;
  path: string;
}

/**
 * The route check API Gateway made before invoking, for the events that come without it. A function URL hands the
 * function every method and path with the sentinel route key `$default` (as would an HTTP API `$default` route);
 * an event with a route key was matched by the HTTP API already. Anything but the function's own routes is a 404, as
 * the HTTP API answered.
 */
export function checkRoute(event: APIGatewayProxyEventV2, routes: readonly HttpRoute[]): void {
  if (event.routeKey !== '$default') return;
  const { method } = event.requestContext.http;
  if (!routes.some((r) => r.method === method && r.path === event.rawPath)) {
    throw new RequestError(404, 'not_found', `no route for ${method} ${event.rawPath}; this function serves ${routes.map((r) => `${r.method} ${r.path}`).join(', ')}`);
  }
}

export function json(statusCode: number, body: unknown, extra: Partial<HttpResult> = {}): HttpResult {
  return {
    statusCode,
    ...extra,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...extra.headers },
    body: JSON.stringify(body),
  };
}

/** Counts a request's outcome (`Rejected` with its reason, `Errors`) for a route. */
export type OutcomeCounter = (name: string, reason?: string) => void;

/** Each outcome as its own single metric with the route as `source` (a handler without `logMetrics`: collect). */
const singleMetricCounter =
  (route: string): OutcomeCounter =>
  (name, reason) =>
    count(name, reason === undefined ? { source: route } : { source: route, reason });

/**
 * Turns what a handler throws into the answer its caller needs: a `RequestError` becomes its 4xx with a JSON error
 * saying what failed (the sender must not retry); anything else is a 500, so Stripe, ClickBank and CRMs retry.
 */
export async function answer(route: string, run: () => Promise<HttpResult>, countOutcome: OutcomeCounter = singleMetricCounter(route)): Promise<HttpResult> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof RequestError) {
      logger.warn('request rejected', { route, status: err.status, error: err.code, reason: err.message });
      countOutcome(SOURCE_METRICS.rejected, err.code);
      return json(err.status, { error: err.code, message: err.message });
    }
    logger.error('request failed; the sender should retry', { route, error: err as Error });
    countOutcome(SOURCE_METRICS.errors);
    return json(500, { error: 'internal_error', message: 'the relay could not process this request now; retry later' });
  }
}

