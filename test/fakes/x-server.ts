import { randomUUID } from 'node:crypto';
import { isIpv4 } from '#destinations/event-fields.ts';
import { parseOAuthAuthorization, verifyOAuth1Signature, type OAuth1Credentials } from '#destinations/oauth1.ts';
import { SHA256_HEX, startConversionApiFake, type ConversionApiFake, type FakeAnswer } from './conversion-api-fake.ts';

/**
 * X Conversion API `POST /{11|12}/measurement/conversions/{pixel_id}` as X documents it (xdevplatform/docs
 * x-ads-api/measurement/web-conversions.mdx, fundamentals/error-codes-and-responses.mdx; platforms-more.md §6):
 * - OAuth 1.0a: the `Authorization: OAuth …` header's HMAC-SHA1 signature is recomputed from the request as it arrived
 *   (method, `http://{Host}{path}`, query and oauth_* parameters) with the consumer and token secrets the fake knows;
 *   an unknown key or token, a wrong signature, a timestamp more than 5 minutes off or a nonce seen before → 401
 *   `UNAUTHORIZED_ACCESS`;
 * - `conversions`: 1 to 500 (else 400 "Conversion count limit is 500"); each with `conversion_time` in
 *   yyyy-MM-ddTHH:mm:ss.SSSZ, an `event_id` of this pixel's account (else 404 `NOT_FOUND`), `identifiers` of the
 *   documented keys where twclid, hashed_email or hashed_phone_number is present (IP / user agent only alongside one),
 *   SHA-256 hex hashes, dotted-decimal IPv4, `number_items` a positive integer, `price_currency` ISO 4217, `value`
 *   a number or decimal string; documented keys only;
 * - any invalid conversion fails the whole request (400 with every error); a valid one answers 200
 *   `{request:{params:{account_id}}, data:{conversions_processed, debug_id}}`.
 */
export type XFake = ConversionApiFake<any> & {
  /** Rotate the credentials the fake accepts (as regenerating the app's keys does): requests signed otherwise get 401. */
  setCredentials(credentials: OAuth1Credentials): void;
};

interface XError {
  code: string;
  message: string;
  parameter: string;
}

const CONVERSION_KEYS = new Set(['conversion_time', 'event_id', 'identifiers', 'number_items', 'price_currency', 'value', 'conversion_id', 'description', 'search_string', 'contents']);
const IDENTIFIER_KEYS = new Set(['twclid', 'hashed_email', 'hashed_phone_number', 'ip_address', 'user_agent']);
const CONTENT_KEYS = new Set(['content_id', 'content_name', 'content_type', 'content_price', 'num_items', 'content_group_id']);
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ACCOUNT_ID = '18ce552mlaq';

const invalid = (message: string, parameter: string): XError => ({ code: 'INVALID_PARAMETER', message, parameter });
export const xErrorBody = (errors: XError[]) => ({ errors, request: { params: { account_id: ACCOUNT_ID } } });
const unauthorized = (): FakeAnswer => ({ status: 401, body: { errors: [{ code: 'UNAUTHORIZED_ACCESS', message: 'This request is not properly authenticated' }] } });

/** Every error X would list for one conversion (none: it is valid). `eventIds`: the events of the pixel's account. */
export function xConversionErrors(c: any, eventIds: ReadonlySet<string>, pixelId: string): XError[] {
  const errors: XError[] = [];
  if (typeof c !== 'object' || c === null) return [invalid('conversion must be an object', 'conversions')];
  for (const key of Object.keys(c)) if (!CONVERSION_KEYS.has(key)) errors.push(invalid(`${key} is not a supported parameter`, key));
  if (typeof c.conversion_time !== 'string' || !ISO_MS.test(c.conversion_time) || Number.isNaN(Date.parse(c.conversion_time))) {
    errors.push(invalid(`Expected Time in yyyy-MM-ddTHH:mm:ss.SSSZ, got ${JSON.stringify(c.conversion_time)} for conversion_time`, 'conversion_time'));
  }
  const eventId = typeof c.event_id === 'string' ? c.event_id.replace(new RegExp(`^tw-${pixelId}-`), '') : undefined;
  if (!eventId) errors.push({ code: 'MISSING_PARAMETER', message: 'Event ID was not found', parameter: 'event_id' });
  else if (!eventIds.has(eventId)) errors.push({ code: 'NOT_FOUND', message: `event_id (${c.event_id}) does not belong to provided account`, parameter: 'event_id' });
  const ids: any[] = Array.isArray(c.identifiers) ? c.identifiers : [];
  let strong = false;
  for (const id of ids) {
    if (typeof id !== 'object' || id === null) {
      errors.push(invalid('identifiers must be objects', 'identifiers'));
      continue;
    }
    for (const [key, value] of Object.entries(id)) {
      if (!IDENTIFIER_KEYS.has(key)) errors.push(invalid(`${key} is not a supported identifier`, key));
      if (typeof value !== 'string' || value === '') continue;
      // A malformed hash draws its own error only (X's example for {"hashed_email":"abc"}), not a missing-identifier one too.
      if (key === 'twclid' || key === 'hashed_email' || key === 'hashed_phone_number') strong = true;
      if ((key === 'hashed_email' || key === 'hashed_phone_number') && !SHA256_HEX.test(value)) errors.push(invalid(`${key} (${value}) is not a valid SHA-256 hash`, key));
      if (key === 'ip_address' && !isIpv4(value)) errors.push(invalid(`ip_address (${value}) is not in dotted-decimal notation`, key));
    }
  }
  if (!strong) errors.push(invalid('At least one user identifier must be provided', ''));
  if ('number_items' in c && !(Number.isInteger(c.number_items) && c.number_items > 0)) errors.push(invalid('number_items must be a positive integer', 'number_items'));
  if ('price_currency' in c && !(typeof c.price_currency === 'string' && /^[A-Z]{3}$/.test(c.price_currency))) errors.push(invalid('price_currency must be an ISO-4217 code', 'price_currency'));
  if ('value' in c && !(typeof c.value === 'number' || (typeof c.value === 'string' && /^\d+(\.\d+)?$/.test(c.value)))) errors.push(invalid(`value (${c.value}) is not a number`, 'value'));
  if ('conversion_id' in c && typeof c.conversion_id !== 'string') errors.push(invalid('conversion_id must be a string', 'conversion_id'));
  if ('contents' in c) {
    const contents = Array.isArray(c.contents) ? c.contents : [null];
    for (const item of contents) {
      if (typeof item !== 'object' || item === null || Object.keys(item).some((k) => !CONTENT_KEYS.has(k))) errors.push(invalid('contents holds an unsupported field', 'contents'));
      else if ('content_price' in item && typeof item.content_price !== 'number') errors.push(invalid('content_price must be a number', 'contents'));
      else if ('num_items' in item && !Number.isInteger(item.num_items)) errors.push(invalid('num_items must be an integer', 'contents'));
    }
  }
  return errors;
}

export async function startXFake(opts: { pixelId: string; eventIds: string[]; credentials: OAuth1Credentials }): Promise<XFake> {
  let credentials = opts.credentials;
  const eventIds = new Set(opts.eventIds);
  const nonces = new Set<string>();
  const fake = await startConversionApiFake(
    (body) => (Array.isArray(body?.conversions) ? body.conversions : []),
    ({ method, url, headers, body }) => {
      const route = /^\/(\d+)\/measurement\/conversions\/([^/]+)$/.exec(url.pathname);
      if (!route || !['11', '12'].includes(route[1]) || method !== 'POST') return { status: 404, body: { errors: [{ code: 'ROUTE_NOT_FOUND', message: 'The requested resource could not be found' }] } };

      // OAuth 1.0a, verified from the request as it arrived (the client signed the URL it sent to).
      const oauth = parseOAuthAuthorization(headers.authorization);
      const fresh = oauth && Math.abs(Number(oauth.oauth_timestamp) - Date.now() / 1000) <= 300;
      if (!oauth || !fresh || oauth.oauth_consumer_key !== credentials.consumerKey || oauth.oauth_token !== credentials.token || !oauth.oauth_nonce || nonces.has(oauth.oauth_nonce)) return unauthorized();
      const signedUrl = `http://${headers.host}${url.pathname}${url.search}`;
      if (!verifyOAuth1Signature({ method, url: signedUrl }, oauth, credentials)) return unauthorized();
      nonces.add(oauth.oauth_nonce);

      if (route[2] !== opts.pixelId) return { status: 404, body: { errors: [{ code: 'NOT_FOUND', message: `pixel ${route[2]} does not belong to an account the user has access to` }] } };
      if (!Array.isArray(body.conversions) || body.conversions.length < 1) return { status: 400, body: xErrorBody([invalid('conversions is required', 'conversions')]) };
      if (body.conversions.length > 500) return { status: 400, body: xErrorBody([invalid('Conversion count limit is 500', 'conversions')]) };
      const errors = body.conversions.flatMap((c: unknown) => xConversionErrors(c, eventIds, opts.pixelId));
      // "A single request will only be successful when there are zero errors for all conversions contained within it."
      if (errors.length) return { status: errors.every((e: XError) => e.code === 'NOT_FOUND') ? 404 : 400, body: xErrorBody(errors) };
      return {
        status: 200,
        body: { request: { params: { account_id: ACCOUNT_ID } }, data: { conversions_processed: body.conversions.length, debug_id: randomUUID() } },
        accepted: body.conversions,
      };
    },
  );
  return Object.assign(fake, {
    setCredentials(next: OAuth1Credentials) {
      credentials = next;
    },
  });
}
