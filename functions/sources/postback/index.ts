import { createHash, timingSafeEqual } from 'node:crypto';
import { RequestError } from '#core/errors.ts';
import type { IncomingRequest, Source } from '#sources/types.ts';
import { mapPostback } from './map.ts';

export const TOKEN_SETTING = 'POSTBACK_TOKEN';

/**
 * Affiliate-network and tracker postbacks: `GET /postback?clickid=…&payout=…&txid=…&token=…` (networks can only
 * template URLs), or the same parameters POSTed as a form or a JSON object. Authenticated by `POSTBACK_TOKEN`, given
 * as the `token` parameter or as `Authorization: Bearer <token>`; several comma-separated tokens are accepted while
 * one is being replaced.
 */
export const postbackSource: Source = {
  name: 'postback',
  async read(request, settings, now) {
    const tokens = (settings[TOKEN_SETTING] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    if (tokens.length === 0) throw new Error(`${TOKEN_SETTING} is not configured`);
    const params = readParams(request);
    const bearer = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim();
    const given = [bearer, params.token].filter((t): t is string => Boolean(t));
    if (given.length === 0) {
      throw new RequestError(401, 'missing_token', 'give the postback token as the token parameter or as Authorization: Bearer <token>');
    }
    if (!given.some((g) => tokens.some((t) => sameToken(g, t)))) {
      throw new RequestError(401, 'invalid_token', 'the postback token does not match');
    }
    return mapPostback(params, now);
  },
};

/**
 * Constant-time comparison: both sides are hashed first, so the buffers timingSafeEqual compares always have the same
 * length and neither the token's length nor its prefix leaks through timing.
 */
function sameToken(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Query parameters, overlaid by a form or JSON body's (numbers and booleans in JSON read as their text). */
function readParams(request: IncomingRequest): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(request.query)) if (typeof v === 'string') params[k] = v;
  if (request.body.length === 0) return params;
  const contentType = (request.headers['content-type'] ?? '').toLowerCase();
  const text = request.body.toString('utf8');
  if (contentType.startsWith('application/x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(text)) params[k] = v;
  } else if (contentType.startsWith('application/json')) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new RequestError(400, 'malformed_body', 'the body is not valid JSON');
    }
    if (!json || typeof json !== 'object' || Array.isArray(json)) throw new RequestError(400, 'malformed_body', 'the JSON body must be an object of parameters');
    for (const [k, v] of Object.entries(json)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') params[k] = String(v);
      else if (v != null) throw new RequestError(400, 'malformed_body', `parameter ${k} must be a string or a number`);
    }
  } else {
    throw new RequestError(415, 'unsupported_media_type', 'send the parameters in the query string, as application/x-www-form-urlencoded or as application/json');
  }
  return params;
}
