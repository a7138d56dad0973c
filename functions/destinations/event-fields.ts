import type { Conversion } from '#core/conversion.ts';
import type { PlatformError, PlatformResponse, ResponseVerdict } from '#destinations/types.ts';

/**
 * Field helpers shared by the destinations added for issue 12 (LinkedIn, Pinterest, Snapchat; Reddit, Microsoft
 * and X may reuse them): one function per rule, so no platform folder repeats another's.
 */

/** The conversion time in Unix milliseconds, never ahead of `now` (a clock a little ahead must not put it in the platform's future). */
export function eventTimeMs(c: Conversion, now: Date): number {
  return Math.min(Date.parse(c.occurredAt), now.getTime());
}

/** The conversion time in whole Unix seconds (Pinterest, Snapchat: 10 digits, not milliseconds). */
export function eventTimeSeconds(c: Conversion, now: Date): number {
  return Math.floor(eventTimeMs(c, now) / 1000);
}

/**
 * The hashed identifiers a conversion carries, each as a one-element array under the platform's key (Pinterest and
 * Snapchat both take `em`, `ph`, `fn`, … as arrays of SHA-256 hex). Keys whose hash is absent are left out.
 */
export function hashedArrays(pairs: Record<string, string | undefined>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [key, hash] of Object.entries(pairs)) if (hash) out[key] = [hash];
  return out;
}

/** `StartTrial` → `start_trial`, `Webinar Signup!` → `webinar_signup`: GA4's and UET's event-name style. */
export function snakeCaseName(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/** A money amount as a decimal string ("49.99"): LinkedIn `amount`, Pinterest `value`. */
export function decimalString(value: number): string {
  return (Math.round(value * 100) / 100).toFixed(2);
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** A dotted-decimal IPv4 address: all LinkedIn's `PLAINTEXT_IP_ADDRESS` and X's `ip_address` take. */
export function isIpv4(ip: string): boolean {
  return IPV4.test(ip);
}

/** The answer body as an object (a proxy's HTML page or an empty body becomes `{}`). */
export function bodyObject(res: PlatformResponse): Record<string, unknown> {
  return typeof res.body === 'object' && res.body !== null && !Array.isArray(res.body) ? (res.body as Record<string, unknown>) : {};
}

/**
 * The HTTP-status part of classification every platform here shares: 408 / 429 / 5xx are transient, 401 / 403 mean
 * the configuration (token, account access) is at fault for every event. Returns undefined for anything else, which
 * the platform's own classifier then reads.
 */
export function classifyHttpStatus(res: PlatformResponse, error: PlatformError): ResponseVerdict | undefined {
  if (res.status === 408 || res.status === 429 || res.status >= 500) return { kind: 'transient', error };
  if (res.status === 401 || res.status === 403) return { kind: 'rejected-batch', error };
  return undefined;
}

/**
 * The `user_data` Pinterest and Snapchat share key for key (both modelled on Meta's CAPI): hashed arrays `em`
 * (trim + lowercase), `ph` (digits with country code, no '+'), `fn`, `ln`, `ct`, `st`, `zp`, `country`,
 * `external_id`; `client_ip_address` and `client_user_agent` in clear. Each platform adds its click IDs.
 */
export function hashedUserData(c: Conversion): Record<string, string | string[]> {
  const u = c.user;
  const data: Record<string, string | string[]> = hashedArrays({
    em: u.email,
    ph: u.phone,
    fn: u.firstName,
    ln: u.lastName,
    ct: u.city,
    st: u.state,
    zp: u.zip,
    country: u.country,
    external_id: u.externalId,
  });
  if (u.ip) data.client_ip_address = u.ip;
  if (u.userAgent) data.client_user_agent = u.userAgent;
  return data;
}

/**
 * `custom_data` of value, currency, order ID and contents (`content_ids`, `num_items`, `contents[{id, quantity,
 * item_price}]`), as Pinterest and Snapchat name them; `price` formats money (a string at Pinterest, a number at Snap).
 */
export function orderCustomData(c: Conversion, price: (amount: number) => string | number): Record<string, unknown> {
  const custom: Record<string, unknown> = {};
  if (c.value !== undefined) custom.value = price(c.value);
  if (c.currency) custom.currency = c.currency;
  if (c.orderId) custom.order_id = c.orderId;
  if (c.contents?.length) {
    custom.content_ids = c.contents.map((item) => item.id);
    custom.num_items = c.contents.reduce((n, item) => n + (item.quantity ?? 1), 0);
    custom.contents = c.contents.map((item) => {
      const content: Record<string, unknown> = { id: item.id, quantity: item.quantity ?? 1 };
      if (item.price !== undefined) content.item_price = price(item.price);
      return content;
    });
  }
  return custom;
}
