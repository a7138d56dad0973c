import { normalizeEmail, normalizeInternationalPhone } from '../core/normalize-portable.ts';

/** What `identify` sends: SHA-256 hex digests only. */
export interface HashedIdentity {
  email?: string;
  phone?: string;
}

/** Each field with its normalization by the server's rules (normalize-portable.ts). */
const FIELDS = [
  ['email', normalizeEmail],
  ['phone', (s: string) => normalizeInternationalPhone(s)?.digits],
] as const;

/**
 * Normalizes and hashes in the page with SubtleCrypto, by the server's rules: the e-mail in Meta's form (trim,
 * lowercase), the phone as digits with country code when written internationally. A value that is already a
 * SHA-256 digest passes through (lowercased); one that cannot be normalized is dropped. Raw values never leave
 * this function.
 */
export async function hashIdentity(input: { email?: unknown; phone?: unknown }): Promise<HashedIdentity> {
  const out: HashedIdentity = {};
  for (const [field, normalize] of FIELDS) {
    const raw = input[field];
    if (typeof raw != 'string') continue;
    const s = raw.trim();
    if (/^[0-9a-f]{64}$/i.test(s)) out[field] = s.toLowerCase();
    else {
      const n = normalize(s);
      if (!n) continue;
      const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(n));
      // (b | 256) keeps the leading zero: '1xx' minus its first character.
      out[field] = Array.from(new Uint8Array(digest), (b) => (b | 256).toString(16).slice(1)).join('');
    }
  }
  return out;
}
