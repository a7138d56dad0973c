import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { CollectBodySchema, parseCookies, readLanding } from '#core/clicks.ts';
import { RequestError } from '#core/errors.ts';
import { VISITOR_COOKIE } from '#core/names.ts';
import { isVisitorId } from '#core/visitor.ts';
import { DynamoVisitorStore } from '#store/visitors.ts';
import { answer, json, toIncomingRequest } from './http.ts';
import { logger } from './powertools.ts';

const visitors = new DynamoVisitorStore();
const MAX_COLLECT_BYTES = 16 * 1024;
/** Browsers cap cookie lifetime at 400 days. */
const VISITOR_COOKIE_MAX_AGE = 400 * 86400;
/** Meta recommends 90 days for _fbc/_fbp. */
const FB_COOKIE_MAX_AGE = 90 * 86400;

/**
 * POST /collect: stores a landing's click IDs under a durable, server-set visitor ID. The cookie is set by the
 * server (HttpOnly) so it survives the limits browsers put on script-set cookies.
 */
export const handler = middy(async (event: APIGatewayProxyEventV2) =>
  answer('collect', async () => {
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
    const cookies = parseCookies(event.cookies);
    const existing = cookies[VISITOR_COOKIE];
    const visitorId = isVisitorId(existing) ? existing : randomUUID();
    const now = Date.now();
    const landing = readLanding(parsed.data, cookies, now);
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
    logger.info('visit collected', { visitorId, newVisitor: existing !== visitorId, clickKeys: Object.keys(landing.clicks) });
    const domain = process.env.COOKIE_DOMAIN ? `; Domain=${process.env.COOKIE_DOMAIN}` : '';
    const setCookies = [`${VISITOR_COOKIE}=${visitorId}; Max-Age=${VISITOR_COOKIE_MAX_AGE}; Path=/${domain}; HttpOnly; Secure; SameSite=Lax`];
    // _fbc/_fbp stay readable by script: Meta's pixel reads them.
    for (const [name, value] of Object.entries(landing.setCookies)) {
      setCookies.push(`${name}=${value}; Max-Age=${FB_COOKIE_MAX_AGE}; Path=/${domain}; Secure; SameSite=Lax`);
    }
    return json(200, { visitorId }, { cookies: setCookies });
  }),
).use(injectLambdaContext(logger, { resetKeys: true }));
