import { createPrivateKey, sign } from 'node:crypto';
import { sha256Hex } from '#core/normalize.ts';
import { ConfigurationError, type Transport } from '#destinations/types.ts';

/** RFC 6749 §5.2 errors no retry can fix. */
const PERMANENT_OAUTH_ERRORS = new Set(['invalid_grant', 'invalid_client', 'unauthorized_client', 'invalid_scope']);

/**
 * Access tokens from an OAuth token endpoint (Google's; LinkedIn's and Microsoft's speak the refresh grant too), by one of two grants, both a form-encoded POST answered with an access
 * token valid for `expires_in` seconds (one hour at Google):
 * - refresh token (RFC 6749 §6): grant_type=refresh_token, client_id, client_secret, refresh_token;
 * - service account (RFC 7523 §2.1, Google "Using OAuth 2.0 for Server to Server Applications"):
 *   grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer, assertion=<JWT signed RS256 with the key's private key>.
 * The token is kept in module scope — one per warm Lambda container — and reused by every batch until shortly before
 * it expires, so a busy sender asks for one about once an hour.
 */
export interface OAuthClient {
  tokenUrl: string;
  /** When set, the service-account grant is used and the refresh-token fields are ignored. */
  serviceAccount?: ServiceAccountKey;
  clientId?: string;
  /** Left out of the grant when unset: Microsoft's token endpoint refuses a secret from a public (native) client. */
  clientSecret?: string;
  refreshToken?: string;
  /** Sent with the refresh-token grant when set (Microsoft's identity platform requires it; Google and LinkedIn do not). */
  scope?: string;
}

/** The fields of a service account's JSON key file that the JWT grant needs. */
export interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  /** The JWT's `aud` (Google: https://oauth2.googleapis.com/token). */
  token_uri: string;
}

/** The Data Manager API's only OAuth scope (devguides/quickstart/set-up-access). */
export const DATA_MANAGER_SCOPE = 'https://www.googleapis.com/auth/datamanager';
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Google takes assertions valid for at most one hour. */
const ASSERTION_LIFETIME_S = 3600;
const DEFAULT_GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';

const base64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** The signed JWT a service account trades for an access token: header.claims.RS256-signature, base64url each. */
export function serviceAccountAssertion(key: ServiceAccountKey, scope: string, now: Date): string {
  const iat = Math.floor(now.getTime() / 1000);
  const header = { alg: 'RS256', typ: 'JWT', ...(key.private_key_id ? { kid: key.private_key_id } : {}) };
  const claims = { iss: key.client_email, scope, aud: key.token_uri, iat, exp: iat + ASSERTION_LIFETIME_S };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  return `${signingInput}.${base64url(sign('sha256', Buffer.from(signingInput), key.private_key))}`;
}

/**
 * A service account's JSON key file, checked: the fields the grant needs, and a private key node:crypto can read.
 * Errors never quote the key.
 */
export function parseServiceAccountKey(settingKey: string, raw: string): ServiceAccountKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`${settingKey} must be the service account's JSON key file contents (it is not valid JSON)`);
  }
  const k = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const missing = ['client_email', 'private_key'].filter((f) => typeof k[f] !== 'string' || k[f] === '');
  if (missing.length) throw new Error(`${settingKey} lacks ${missing.join(' and ')}: paste the whole JSON key file of the service account`);
  if (k.type !== undefined && k.type !== 'service_account') throw new Error(`${settingKey} is a "${String(k.type)}" credential, not a service account key`);
  try {
    createPrivateKey(k.private_key as string);
  } catch {
    throw new Error(`${settingKey}: private_key is not a readable PEM private key`);
  }
  return {
    client_email: k.client_email as string,
    private_key: k.private_key as string,
    private_key_id: typeof k.private_key_id === 'string' ? k.private_key_id : undefined,
    token_uri: typeof k.token_uri === 'string' && k.token_uri !== '' ? k.token_uri : DEFAULT_GOOGLE_TOKEN_URI,
  };
}

/** The grant's form fields: the service account's signed JWT, or the refresh token. */
function grantFor(client: OAuthClient, now: Date): Record<string, string> {
  if (client.serviceAccount) return { grant_type: JWT_BEARER_GRANT, assertion: serviceAccountAssertion(client.serviceAccount, DATA_MANAGER_SCOPE, now) };
  return {
    grant_type: 'refresh_token',
    client_id: client.clientId ?? '',
    ...(client.clientSecret !== undefined && { client_secret: client.clientSecret }),
    refresh_token: client.refreshToken ?? '',
    ...(client.scope && { scope: client.scope }),
  };
}

/** Refresh this long before the stated expiry: a request built now may reach Google a few seconds later. */
export const EXPIRY_MARGIN_MS = 120_000;

interface Cached {
  key: string;
  accessToken: string;
  expiresAt: number;
}

/**
 * One token per client (Google Ads and LinkedIn share this module, and run side by side in the local runner): a
 * single slot would have each one evict the other's token and refresh on every batch.
 */
const cached = new Map<string, Cached>();
const inflight = new Map<string, Promise<Cached>>();

/** Identifies a client + refresh token (or service account key) without keeping another copy of the secrets around. */
const keyOf = (c: OAuthClient) =>
  sha256Hex(c.serviceAccount ? `${c.tokenUrl}\nsa\n${c.serviceAccount.client_email}\n${c.serviceAccount.private_key}` : `${c.tokenUrl}\n${c.clientId}\n${c.refreshToken}`);

/** A valid access token: the cached one, or a fresh one (concurrent callers of one client share one refresh). */
export async function accessToken(client: OAuthClient, transport: Transport, now: Date): Promise<string> {
  const key = keyOf(client);
  const hit = cached.get(key);
  if (hit && hit.expiresAt - EXPIRY_MARGIN_MS > now.getTime()) return hit.accessToken;
  let promise = inflight.get(key);
  if (!promise) {
    promise = refresh(client, transport, now).finally(() => inflight.delete(key));
    inflight.set(key, promise);
  }
  const fresh = await promise;
  cached.set(key, fresh);
  return fresh.accessToken;
}

/** The API said the token is no good (401): the next batch refreshes, whatever the stated expiry. No token: forget all. */
export function forgetAccessToken(token?: string): void {
  for (const [key, entry] of cached) if (token === undefined || entry.accessToken === token) cached.delete(key);
}

async function refresh(client: OAuthClient, transport: Transport, now: Date): Promise<Cached> {
  const res = await transport({
    method: 'POST',
    url: client.tokenUrl,
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    encoding: 'form',
    body: grantFor(client, now),
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
    const message = `OAuth token request (${client.serviceAccount ? 'service account' : 'refresh token'}) at ${client.tokenUrl} failed: HTTP ${res.status} ${reason}`;
    // A revoked or expired refresh token, a deleted service account key, or an unknown client: only new credentials help.
    if (typeof body.error === 'string' && PERMANENT_OAUTH_ERRORS.has(body.error)) throw new ConfigurationError(`oauth.${body.error}`, message);
    throw new Error(message);
  }
  const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 3600;
  return { key: keyOf(client), accessToken: body.access_token, expiresAt: now.getTime() + expiresIn * 1000 };
}
