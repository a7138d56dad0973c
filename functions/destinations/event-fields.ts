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

/** A money amount as a decimal string ("49.99"): LinkedIn `amount`, Pinterest `value`. */
export function decimalString(value: number): string {
  return (Math.round(value * 100) / 100).toFixed(2);
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
