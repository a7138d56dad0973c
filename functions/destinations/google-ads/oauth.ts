import { sha256Hex } from '#core/normalize.ts';
import { ConfigurationError, type Transport } from '#destinations/types.ts';

/** RFC 6749 §5.2 errors no retry can fix. */
const PERMANENT_OAUTH_ERRORS = new Set(['invalid_grant', 'invalid_client', 'unauthorized_client', 'invalid_scope']);

/**
 * OAuth 2.0 refresh-token flow (RFC 6749 §6) against Google's token endpoint: a form-encoded POST of
 * grant_type=refresh_token, client_id, client_secret, refresh_token, answered with an access token valid for
 * `expires_in` seconds (one hour at Google). The token is kept in module scope — one per warm Lambda container — and
 * reused by every batch until shortly before it expires, so a busy sender refreshes about once an hour.
 */
export interface OAuthClient {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
}

/** Refresh this long before the stated expiry: a request built now may reach Google a few seconds later. */
export const EXPIRY_MARGIN_MS = 120_000;

interface Cached {
  key: string;
  accessToken: string;
  expiresAt: number;
}

let cached: Cached | undefined;
let inflight: { key: string; promise: Promise<Cached> } | undefined;

/** Identifies a client + refresh token without keeping another copy of the secrets around. */
const keyOf = (c: OAuthClient) => sha256Hex(`${c.tokenUrl}\n${c.clientId}\n${c.refreshToken}`);

/** A valid access token: the cached one, or a fresh one (concurrent callers share one refresh). */
export async function accessToken(client: OAuthClient, transport: Transport, now: Date): Promise<string> {
  const key = keyOf(client);
  if (cached && cached.key === key && cached.expiresAt - EXPIRY_MARGIN_MS > now.getTime()) return cached.accessToken;
  if (!inflight || inflight.key !== key) {
    const promise = refresh(client, transport, now).finally(() => {
      if (inflight?.promise === promise) inflight = undefined;
    });
    inflight = { key, promise };
  }
  cached = await inflight.promise;
  return cached.accessToken;
}

/** The API said the token is no good (401): the next batch refreshes, whatever the stated expiry. */
export function forgetAccessToken(token?: string): void {
  if (token === undefined || cached?.accessToken === token) cached = undefined;
}

async function refresh(client: OAuthClient, transport: Transport, now: Date): Promise<Cached> {
  const res = await transport({
    method: 'POST',
    url: client.tokenUrl,
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    encoding: 'form',
    body: { grant_type: 'refresh_token', client_id: client.clientId, client_secret: client.clientSecret, refresh_token: client.refreshToken },
  });
  const body = (typeof res.body === 'object' && res.body !== null ? res.body : {}) as {
    access_token?: unknown;
    expires_in?: unknown;
    error?: unknown;
    error_description?: unknown;
  };
  if (res.status !== 200 || typeof body.access_token !== 'string' || body.access_token === '') {
    // RFC 6749 §5.2: {"error":"invalid_grant","error_description":"Token has been expired or revoked."}
    const reason = typeof body.error === 'string' ? `${body.error}${typeof body.error_description === 'string' ? `: ${body.error_description}` : ''}` : 'no access_token in the answer';
    const message = `OAuth token refresh at ${client.tokenUrl} failed: HTTP ${res.status} ${reason}`;
    // A revoked or expired refresh token, or an unknown client: only new credentials help.
    if (typeof body.error === 'string' && PERMANENT_OAUTH_ERRORS.has(body.error)) throw new ConfigurationError(`oauth.${body.error}`, message);
    throw new Error(message);
  }
  const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 3600;
  return { key: keyOf(client), accessToken: body.access_token, expiresAt: now.getTime() + expiresIn * 1000 };
}
