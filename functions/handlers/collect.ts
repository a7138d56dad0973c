import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { CollectBodySchema, mergeForwardedCookies, parseCookies, readLanding, withoutAdIdentifiers } from '#core/clicks.ts';
import { parseConsentDefault } from '#core/consent.ts';
import { RequestError } from '#core/errors.ts';
import { VISITOR_COOKIE } from '#core/names.ts';
import { isOriginAllowed, parseAllowedOrigins } from '#core/origins.ts';
import { isVisitorId } from '#core/visitor.ts';
import { DynamoVisitorStore } from '#store/visitors.ts';
import { answer, json, toIncomingRequest, type HttpResult } from './http.ts';
import { logger } from './powertools.ts';

const visitors = new DynamoVisitorStore();
const allowedOrigins = parseAllowedOrigins(process.env.RELAY_ALLOWED_ORIGINS);
const consentDefault = parseConsentDefault(process.env.CONSENT_DEFAULT);
/** A beacon is a URL, a referrer, a few cookies and two hashes: well under this. */
const MAX_COLLECT_BYTES = 16 * 1024;
/** Browsers cap cookie lifetime at 400 days. */
const VISITOR_COOKIE_MAX_AGE = 400 * 86400;
/** Meta recommends 90 days for _fbc/_fbp. */
const FB_COOKIE_MAX_AGE = 90 * 86400;

/**
 * CORS for the configured site origins only. Credentials are allowed (the visitor cookie must travel), so the
 * origin is echoed, never `*`. A request without an Origin header (a server, curl) is not a browser's cross-site
 * request and passes.
 */
function corsHeaders(origin: string | undefined): Record<string, string> {
  if (!origin) return {};
  if (!isOriginAllowed(origin, allowedOrigins)) throw new RequestError(403, 'origin_not_allowed', `origin ${origin.slice(0, 200)} is not in RELAY_ALLOWED_ORIGINS`);
  return { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' };
}

/**
 * POST /collect: stores a page view's click IDs under a durable, server-set visitor ID, records consent, and links
 * the hashed e-mail / phone of an `identify` to the visitor. The cookie is set by the server (HttpOnly) so it
 * survives the limits browsers put on script-set cookies; the JSON answer carries the visitor ID for the snippet,
 * which cannot read that cookie. Malformed beacons get a 400 and nothing is stored.
 */
export const handler = middy(async (event: APIGatewayProxyEventV2) =>
  answer('collect', async (): Promise<HttpResult> => {
    const origin = event.headers?.origin ?? event.headers?.Origin;
    const cors = corsHeaders(origin);
    if (event.requestContext.http.method === 'OPTIONS') {
      return {
        statusCode: 204,
        headers: { ...cors, 'access-control-allow-methods': 'POST', 'access-control-allow-headers': 'content-type', 'access-control-max-age': '86400' },
      };
    }
    const request = toIncomingRequest(event, MAX_COLLECT_BYTES);
    const contentType = request.headers['content-type'] ?? '';
    // Browsers' beacons send text/plain; anything else is not a collect request.
    if (contentType && !/^(application\/json|text\/plain)\b/i.test(contentType)) {
      throw new RequestError(415, 'unsupported_media_type', 'send JSON as application/json or text/plain');
    }
    let raw: unknown;
    try {
      raw = JSON.parse(request.body.toString('utf8'));
    } catch {
      throw new RequestError(400, 'malformed_body', 'the body is not valid JSON');
    }
    const parsed = CollectBodySchema.safeParse(raw);
    if (!parsed.success) {
      throw new RequestError(400, 'invalid_body', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    }
    const body = parsed.data;
    const headerCookies = parseCookies(event.cookies);
    const existing = headerCookies[VISITOR_COOKIE];
    const visitorId = isVisitorId(existing) ? existing : randomUUID();
    const now = Date.now();
    let landing = readLanding(body, mergeForwardedCookies(headerCookies, body.cookies), now);
    // No marketing signal from the page: the site default decides (an EU site's `denied` keeps no ad identifier).
    const marketing = landing.consent?.marketing ?? consentDefault === 'granted';
    if (!marketing) landing = withoutAdIdentifiers(landing);
    await visitors.recordVisit(
      visitorId,
      {
        clicks: landing.clicks,
        consent: landing.consent,
        utm: landing.utm,
        landingUrl: landing.landingUrl,
        referrer: landing.referrer,
        ip: request.sourceIp,
        userAgent: request.headers['user-agent']?.slice(0, 1024),
      },
      now,
    );
    // identify: hashes only (the schema refuses anything else), and never against a marketing refusal.
    const links = marketing ? (body.identify ?? {}) : {};
    await Promise.all([
      links.email && visitors.linkEmail(links.email, visitorId),
      links.phone && visitors.linkPhone(links.phone, visitorId),
    ]);
    logger.info('visit collected', {
      visitorId,
      event: body.event ?? 'page_view',
      newVisitor: existing !== visitorId,
      clickKeys: Object.keys(landing.clicks),
      freshClicks: landing.fromUrl,
      linked: Object.keys(links),
    });
    const domain = process.env.COOKIE_DOMAIN ? `; Domain=${process.env.COOKIE_DOMAIN}` : '';
    const setCookies = [`${VISITOR_COOKIE}=${visitorId}; Max-Age=${VISITOR_COOKIE_MAX_AGE}; Path=/${domain}; HttpOnly; Secure; SameSite=Lax`];
    // _fbc/_fbp stay readable by script: Meta's pixel reads them.
    for (const [name, value] of Object.entries(landing.setCookies)) {
      setCookies.push(`${name}=${value}; Max-Age=${FB_COOKIE_MAX_AGE}; Path=/${domain}; Secure; SameSite=Lax`);
    }
    return json(200, { visitorId }, { cookies: setCookies, headers: cors });
  }),
).use(injectLambdaContext(logger, { resetKeys: true }));
