import { describe, expect, it } from 'vitest';
import { RequestError } from '#core/errors.ts';
import { sources } from '#registry';
import { httpEvent, localFunctionUrlHost, type HttpRequestParts } from '../../lib/local/http-event.ts';
import { checkRoute, toIncomingRequest } from './http.ts';

/** The two front doors' payload-2.0 events (lib/local/http-event.ts), as the handlers read them. */
const stripeRoutes = sources.find((s) => s.name === 'stripe')!.routes;
const postbackRoutes = sources.find((s) => s.name === 'postback')!.routes;
const webhook: HttpRequestParts = {
  method: 'POST',
  path: '/webhooks/stripe?trace=1&trace=2',
  headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=abc' },
  body: '{"id":"evt_1"}',
};

const rejection = (run: () => void) => {
  try {
    run();
  } catch (err) {
    return err instanceof RequestError ? { status: err.status, code: err.code } : err;
  }
  return 'accepted';
};

describe('function URL and HTTP API events', () => {
  it('a function URL event has the sentinel route key and stage, the path as requested and the lambda-url host', () => {
    const event = httpEvent(webhook, 'function-url');
    expect(event).toMatchObject({ version: '2.0', routeKey: '$default', rawPath: '/webhooks/stripe', rawQueryString: 'trace=1&trace=2' });
    expect(event.requestContext).toMatchObject({ routeKey: '$default', stage: '$default', domainName: localFunctionUrlHost(), http: { method: 'POST', path: '/webhooks/stripe' } });
    expect(event.headers.host).toMatch(/^[a-z0-9]{32}\.lambda-url\.us-east-1\.on\.aws$/);
    expect(httpEvent(webhook, 'http-api').routeKey).toBe('POST /webhooks/stripe');
  });

  it('reads to the same request a source verifies from either front door: body bytes, headers, query', () => {
    const viaUrl = toIncomingRequest(httpEvent(webhook, 'function-url'));
    const viaApi = toIncomingRequest(httpEvent(webhook, 'http-api'));
    const { host: _urlHost, ...urlHeaders } = viaUrl.headers;
    const { host: _apiHost, ...apiHeaders } = viaApi.headers;
    expect(urlHeaders).toEqual(apiHeaders);
    expect({ ...viaUrl, headers: undefined }).toEqual({ ...viaApi, headers: undefined });
    expect(viaUrl).toMatchObject({ method: 'POST', path: '/webhooks/stripe', rawQuery: 'trace=1&trace=2', query: { trace: '1,2' } });
    expect(viaUrl.body.toString('utf8')).toBe('{"id":"evt_1"}');
  });

  it('carries a binary body base64-encoded and reads back its exact bytes', () => {
    const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x41]);
    const event = httpEvent({ ...webhook, body: bytes }, 'function-url');
    expect(event.isBase64Encoded).toBe(true);
    expect(toIncomingRequest(event).body.equals(bytes)).toBe(true);
  });
});

describe('checkRoute', () => {
  it('lets a function URL event through on one of the source’s own routes', () => {
    expect(rejection(() => checkRoute(httpEvent(webhook, 'function-url'), stripeRoutes))).toBe('accepted');
    for (const method of ['GET', 'POST']) {
      expect(rejection(() => checkRoute(httpEvent({ ...webhook, method, path: '/postback?clickid=x', body: '' }, 'function-url'), postbackRoutes)), method).toBe('accepted');
    }
  });

  it('answers 404 to another path or method on the function URL, as the HTTP API did', () => {
    for (const req of [
      { ...webhook, path: '/' },
      { ...webhook, path: '/webhooks/stripe/' },
      { ...webhook, path: '/webhooks/crm' },
      { ...webhook, method: 'GET', body: '' },
      { ...webhook, method: 'PUT' },
    ]) {
      expect(rejection(() => checkRoute(httpEvent(req, 'function-url'), stripeRoutes)), `${req.method} ${req.path}`).toEqual({ status: 404, code: 'not_found' });
    }
  });

  it('trusts the route key of an HTTP API event (API Gateway matched it before invoking)', () => {
    expect(rejection(() => checkRoute(httpEvent({ ...webhook, path: '/collect' }, 'http-api'), stripeRoutes))).toBe('accepted');
  });
});
