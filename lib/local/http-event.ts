import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { randomUUID } from 'node:crypto';

/**
 * The payload-2.0 events AWS hands an HTTP function, built from a request, for the local runner, the bench and the
 * tests. Both front doors of the stack use this format:
 * - a Lambda function URL (the source webhooks): `routeKey` and `stage` are the sentinel `$default`, every path and
 *   method reaches the function, `rawPath` is the path as requested, and the host is `<url-id>.lambda-url.<region>.on.aws`;
 * - the HTTP API (/collect, /t.js): `routeKey` is the matched route, `METHOD /path`, on the `$default` stage.
 * (AWS: https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads.)
 */
export type HttpFrontDoor = 'function-url' | 'http-api';

export interface HttpRequestParts {
  method: string;
  /** The path, with its query string if any: `/postback?clickid=…`. */
  path: string;
  /** Header names lower-case, as both front doors deliver them; `cookie` goes in `cookies`. */
  headers: Record<string, string>;
  cookies?: string[];
  body?: Buffer | string;
  sourceIp?: string;
  protocol?: string;
}

/** The host a local function URL answers on (its real form: a 32-character URL ID, the region, `on.aws`). */
export const LOCAL_FUNCTION_URL_ID = 'localfunctionurl0000000000000000';
export const localFunctionUrlHost = (region = 'us-east-1') => `${LOCAL_FUNCTION_URL_ID}.lambda-url.${region}.on.aws`;

export function httpEvent(req: HttpRequestParts, via: HttpFrontDoor): APIGatewayProxyEventV2 {
  const url = new URL(req.path, 'http://relay.invalid');
  const routeKey = via === 'function-url' ? '$default' : `${req.method} ${url.pathname}`;
  const host = req.headers.host ?? (via === 'function-url' ? localFunctionUrlHost() : 'relay.example.com');
  const body = typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : (req.body ?? Buffer.alloc(0));
  // Text bodies arrive as text, anything else base64-encoded (the handlers decode both: functions/handlers/http.ts).
  const text = body.toString('utf8');
  const isText = Buffer.from(text, 'utf8').equals(body);
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(req.cookies?.length ? { cookies: req.cookies } : {}),
    headers: { ...req.headers, host },
    ...(url.search ? { queryStringParameters: queryParameters(url.searchParams) } : {}),
    requestContext: {
      // A function URL with auth type NONE reports the caller's account as "anonymous".
      accountId: via === 'function-url' ? 'anonymous' : '000000000000',
      apiId: host.split('.')[0],
      domainName: host,
      domainPrefix: host.split('.')[0],
      http: {
        method: req.method,
        path: url.pathname,
        protocol: req.protocol ?? 'HTTP/1.1',
        sourceIp: req.sourceIp ?? '203.0.113.7',
        userAgent: req.headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    ...(body.length ? { body: isText ? text : body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && !isText,
  };
}

/** As both front doors do it: a parameter given more than once arrives once, its values comma-joined. */
function queryParameters(params: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of params) out[k] = k in out ? `${out[k]},${v}` : v;
  return out;
}
