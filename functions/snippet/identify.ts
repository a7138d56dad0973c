import { normalizeEmail, normalizeInternationalPhone } from '../core/normalize-portable.ts';

/** What `identify` sends: SHA-256 hex digests only. */
export interface HashedIdentity {
  email?: string;
  phone?: string;
}

const HEX64 = /^[0-9a-f]{64}$/i;

async function sha256Hex(s: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function hashWith(raw: unknown, normalize: (s: string) => string | undefined): Promise<string | undefined> {
  if (typeof raw !== 'string') return undefined;
  const s = raw.trim();
  if (HEX64.test(s)) return s.toLowerCase();
  const n = normalize(s);
  return n === undefined ? undefined : sha256Hex(n);
}

/**
 * Normalizes and hashes in the page with SubtleCrypto, by the server's rules (normalize-portable.ts): the e-mail
 * in Meta's form (trim, lowercase), the phone as digits with country code when written internationally. A value
 * that is already a SHA-256 digest passes through; one that cannot be normalized is dropped. Raw values never
 * leave this function.
 */
export async function hashIdentity(input: { email?: unknown; phone?: unknown }): Promise<HashedIdentity> {
  const [email, phone] = await Promise.all([
    hashWith(input.email, normalizeEmail),
    hashWith(input.phone, (s) => normalizeInternationalPhone(s)?.digits),
  ]);
  const out: HashedIdentity = {};
  if (email) out.email = email;
  if (phone) out.phone = phone;
  return out;
}
