import { RequestError } from '#core/errors.ts';
import { hmacSha256, signaturesMatch } from '#core/signature.ts';
import type { IncomingRequest, Settings } from '#sources/types.ts';

/**
 * HubSpot request signature v3 (developers.hubspot.com → Apps → Authentication → Validating requests):
 * `X-HubSpot-Signature-v3` = base64(HMAC-SHA256(client secret, method + URI + raw body + timestamp)), with
 * `X-HubSpot-Request-Timestamp` in Unix milliseconds; requests older than 5 minutes are rejected.
 *
 * The URI is the public URL HubSpot called, which the function does not see as such behind API Gateway (a custom
 * domain with a base path, a tunnel to the local runner). So:
 * - `HUBSPOT_WEBHOOK_URL`, when set, is taken as that URL exactly (set it to the target URL you entered in HubSpot);
 * - otherwise it is rebuilt from the request: `X-Forwarded-Proto` (API Gateway sets it; when absent, https and then
 *   http are tried), the `Host` header, the path and the query string as received.
 * HubSpot's documentation asks to decode a fixed set of percent-encoded characters in the URI before hashing;
 * `decodeForSignature` does exactly that.
 */
export const HUBSPOT_SIGNATURE_HEADER = 'x-hubspot-signature-v3';
export const HUBSPOT_TIMESTAMP_HEADER = 'x-hubspot-request-timestamp';
export const MAX_AGE_MS = 5 * 60_000;

const DECODED: Record<string, string> = {
  '%3A': ':', '%2F': '/', '%3F': '?', '%40': '@', '%21': '!', '%24': '$', '%27': "'", '%28': '(', '%29': ')', '%2A': '*', '%2C': ',', '%3B': ';',
};

export function decodeForSignature(uri: string): string {
  return uri.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (m) => DECODED[m.toUpperCase()]);
}

export function hubspotSignature(secret: string, method: string, uri: string, body: Buffer | string, timestamp: string): string {
  const source = Buffer.concat([Buffer.from(`${method.toUpperCase()}${decodeForSignature(uri)}`, 'utf8'), Buffer.from(body), Buffer.from(timestamp, 'utf8')]);
  return hmacSha256(secret, source, 'base64');
}

/** The URLs HubSpot may have signed for this request, most likely first. */
export function candidateUris(request: IncomingRequest, settings: Settings): string[] {
  const configured = settings.HUBSPOT_WEBHOOK_URL?.trim();
  if (configured) return [configured];
  const host = request.headers.host ?? request.headers[':authority'];
  if (!host) return [];
  const query = request.rawQuery ? `?${request.rawQuery}` : '';
  const forwarded = request.headers['x-forwarded-proto']?.split(',')[0].trim().toLowerCase();
  const protocols = forwarded ? [forwarded] : ['https', 'http'];
  return protocols.map((p) => `${p}://${host}${request.path}${query}`);
}

export function verifyHubSpotSignature(request: IncomingRequest, secrets: string[], settings: Settings, now: Date): void {
  const signature = request.headers[HUBSPOT_SIGNATURE_HEADER]?.trim();
  const timestamp = request.headers[HUBSPOT_TIMESTAMP_HEADER]?.trim();
  if (!signature || !timestamp) {
    throw new RequestError(401, 'missing_signature', 'the X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp headers are required (signature v3)');
  }
  if (!/^\d{1,16}$/.test(timestamp)) throw new RequestError(401, 'invalid_signature', 'X-HubSpot-Request-Timestamp must be Unix milliseconds');
  const age = now.getTime() - Number(timestamp);
  if (Math.abs(age) > MAX_AGE_MS) {
    throw new RequestError(401, 'stale_timestamp', `X-HubSpot-Request-Timestamp is ${Math.round(Math.abs(age) / 1000)} s ${age > 0 ? 'old' : 'in the future'}; at most 300 s is accepted`);
  }
  const uris = candidateUris(request, settings);
  const ok = secrets.some((secret) => uris.some((uri) => signaturesMatch(hubspotSignature(secret, request.method, uri, request.body, timestamp), signature)));
  if (!ok) {
    throw new RequestError(
      401,
      'invalid_signature',
      `X-HubSpot-Signature-v3 does not match (URL checked: ${uris.join(' or ') || 'none: no Host header'}; if HubSpot calls another URL, set HUBSPOT_WEBHOOK_URL to it)`,
    );
  }
}
