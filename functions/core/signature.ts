import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * HMAC helpers shared by the sources that check a signature themselves (HubSpot v3, the generic CRM webhook).
 * Pure: no I/O.
 */
export function hmacSha256(secret: string, data: string | Buffer, encoding: 'hex' | 'base64'): string {
  return createHmac('sha256', secret).update(data).digest(encoding);
}

/**
 * Constant-time comparison of two signatures as bytes. The lengths are compared first (the length of a signature
 * is public); `timingSafeEqual` then takes the same time wherever the first difference is.
 */
export function signaturesMatch(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A setting that may hold several comma-separated secrets, so that a rotated secret keeps working during the roll. */
export function secretList(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}
