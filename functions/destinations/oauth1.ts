import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * OAuth 1.0a request signing, HMAC-SHA1 (RFC 5849 §3.4), with node:crypto alone. The X Ads API (Conversion API
 * included) authenticates every request this way, with a consumer key/secret (the developer app) and an access
 * token/secret (the user with access to the ad account). Protocol code, not X's: any OAuth 1.0a API can use it, and the
 * test fake verifies requests with the same functions (pinned to RFC 5849 §1.2 / §3.4.1 and X's published example).
 *
 * Only query parameters, form-encoded body parameters and the `oauth_*` parameters are signed (RFC 5849 §3.4.1.3):
 * a JSON body is not part of the signature.
 */

export interface OAuth1Credentials {
  consumerKey: string;
  consumerSecret: string;
  token: string;
  tokenSecret: string;
}

/** RFC 3986 percent-encoding as RFC 5849 §3.6 wants it: everything but ALPHA / DIGIT / "-" / "." / "_" / "~". */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The base string URI (§3.4.1.2): scheme and host lowercase, default port dropped, no query or fragment. */
export function baseStringUri(url: string): string {
  const u = new URL(url);
  const defaultPort = (u.protocol === 'http:' && u.port === '80') || (u.protocol === 'https:' && u.port === '443');
  return `${u.protocol}//${u.hostname.toLowerCase()}${u.port && !defaultPort ? `:${u.port}` : ''}${u.pathname}`;
}

/**
 * The signature base string (§3.4.1): METHOD & encoded base URI & encoded normalized parameters, where the
 * parameters are the URL's query parameters plus `params` (oauth_* and any form body parameters), each name and value
 * percent-encoded, sorted by name then value (§3.4.1.3.2). `oauth_signature` itself is never part of it.
 */
export function signatureBaseString(method: string, url: string, params: readonly (readonly [string, string])[]): string {
  const all = [...new URL(url).searchParams, ...params]
    .filter(([name]) => name !== 'oauth_signature')
    .map(([name, value]) => [percentEncode(name), percentEncode(value)] as const)
    .sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  const normalized = all.map(([name, value]) => `${name}=${value}`).join('&');
  return [method.toUpperCase(), percentEncode(baseStringUri(url)), percentEncode(normalized)].join('&');
}

/** HMAC-SHA1 of the base string, keyed by the encoded consumer secret & encoded token secret, base64 (§3.4.2). */
export function hmacSha1Signature(baseString: string, consumerSecret: string, tokenSecret: string): string {
  return createHmac('sha1', `${percentEncode(consumerSecret)}&${percentEncode(tokenSecret)}`).update(baseString).digest('base64');
}

/** The protocol parameters of one request, before signing. `nonce` and `timestamp` are fresh per request. */
export function oauthParams(credentials: Pick<OAuth1Credentials, 'consumerKey' | 'token'>, timestamp: number, nonce: string): [string, string][] {
  return [
    ['oauth_consumer_key', credentials.consumerKey],
    ['oauth_nonce', nonce],
    ['oauth_signature_method', 'HMAC-SHA1'],
    ['oauth_timestamp', String(timestamp)],
    ['oauth_token', credentials.token],
    ['oauth_version', '1.0'],
  ];
}

/** A nonce: 32 random bytes as URL-safe characters (X's example uses 42 alphanumerics). */
export function oauthNonce(): string {
  return randomBytes(32).toString('base64').replace(/[^A-Za-z0-9]/g, '');
}

/**
 * The `Authorization: OAuth …` header value for a request (§3.5.1): the oauth_* parameters and the signature, each
 * percent-encoded and quoted. `bodyParams`: form-encoded body parameters, when the body is a form (never for JSON).
 */
export function oauth1Authorization(
  request: { method: string; url: string; bodyParams?: readonly (readonly [string, string])[] },
  credentials: OAuth1Credentials,
  at: { timestamp: number; nonce: string },
): string {
  const params = oauthParams(credentials, at.timestamp, at.nonce);
  const signature = hmacSha1Signature(signatureBaseString(request.method, request.url, [...params, ...(request.bodyParams ?? [])]), credentials.consumerSecret, credentials.tokenSecret);
  return `OAuth ${[...params, ['oauth_signature', signature]].map(([k, v]) => `${percentEncode(k)}="${percentEncode(v)}"`).join(', ')}`;
}

/** The parameters of an `Authorization: OAuth …` header, decoded (`realm` left out, §3.5.1); undefined if it is not one. */
export function parseOAuthAuthorization(header: string | undefined): Record<string, string> | undefined {
  const m = header && /^OAuth\s+(.*)$/is.exec(header.trim());
  if (!m) return undefined;
  const out: Record<string, string> = {};
  for (const part of m[1].split(',')) {
    const kv = /^\s*([^=\s]+)\s*=\s*"([^"]*)"\s*$/.exec(part);
    if (!kv) return undefined;
    try {
      if (kv[1] !== 'realm') out[decodeURIComponent(kv[1])] = decodeURIComponent(kv[2]);
    } catch {
      return undefined;
    }
  }
  return out;
}

/**
 * Checks a received request's OAuth 1.0a HMAC-SHA1 signature, as a server does: recomputes it from the method, the
 * URL the request reached, the header's oauth_* parameters and the secrets it knows, compared in constant time.
 */
export function verifyOAuth1Signature(
  request: { method: string; url: string; bodyParams?: readonly (readonly [string, string])[] },
  header: Record<string, string>,
  secrets: { consumerSecret: string; tokenSecret: string },
): boolean {
  if (header.oauth_signature_method !== 'HMAC-SHA1' || !header.oauth_signature) return false;
  const params = Object.entries(header).filter(([k]) => k.startsWith('oauth_') && k !== 'oauth_signature');
  const expected = Buffer.from(hmacSha1Signature(signatureBaseString(request.method, request.url, [...params, ...(request.bodyParams ?? [])]), secrets.consumerSecret, secrets.tokenSecret));
  const given = Buffer.from(header.oauth_signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
