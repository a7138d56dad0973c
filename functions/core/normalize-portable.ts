/**
 * Normalization rules that need neither Node nor a library, so the browser snippet bundles these very functions
 * (its `identify` hashes in the page) and the server uses them too: one rule, two places, no copy.
 */

type Raw = string | null | undefined;

const ASCII = /^[\x00-\x7f]*$/;
/** ASCII only: Unicode normalization would change nothing, so the (costly) normalize and \p{…} steps can be skipped. */
export const isAscii = (s: string): boolean => ASCII.test(s);

/**
 * Meta / TikTok rule: trim and lowercase, nothing else (Meta's example: `John_Smith@gmail.com` →
 * `john_smith@gmail.com`). Unicode local parts are allowed (unlike Meta's SDK, which rejects them) and are
 * not Unicode-normalized, so the hash matches what a browser pixel hashes for the same input.
 * Returns undefined unless it has exactly one '@', a non-empty local part, a domain with an inner dot, and no
 * whitespace.
 */
export function normalizeEmail(raw: Raw): string | undefined {
  const s = typeof raw === 'string' ? raw.trim().toLowerCase() : '';
  if (!s || s.length > 320 || /\s/.test(s)) return undefined;
  const at = s.indexOf('@');
  if (at <= 0 || at !== s.lastIndexOf('@')) return undefined;
  const domain = s.slice(at + 1);
  if (!/^[^.]+(\.[^.]+)+$/.test(domain)) return undefined;
  return s;
}

/**
 * Google's form (Ads enhanced conversions, GA4 user-provided data): Meta's form, plus every '.' removed from
 * the local part for gmail.com / googlemail.com addresses.
 *
 * '+' suffixes: GA4's user-provided-data page and Google's own client-library samples drop dots for
 * gmail/googlemail only and keep any '+tag'; the Ads API page's prose has been reported (googleads/google-ads-php
 * issue #1119) to say "remove dots and the '+' suffix" for every domain. We keep the '+tag' and touch
 * only gmail/googlemail dots — the form Google's samples and the GA4 spec produce; stripping tags for other
 * providers could merge distinct mailboxes.
 */
export function normalizeEmailGoogle(raw: Raw): string | undefined {
  return rewriteGmailLocalPart(normalizeEmail(raw), (local) => local.replaceAll('.', ''));
}

/** Applies `rewrite` to the local part of a gmail.com / googlemail.com address; other addresses pass unchanged. */
function rewriteGmailLocalPart(email: string | undefined, rewrite: (local: string) => string): string | undefined {
  if (!email) return undefined;
  const at = email.indexOf('@');
  const domain = email.slice(at + 1);
  if (domain !== 'gmail.com' && domain !== 'googlemail.com') return email;
  const local = rewrite(email.slice(0, at));
  return local ? `${local}@${domain}` : undefined;
}

/**
 * The Data Manager API's form (its formatting guide, developers.google.com/data-manager/api/devguides/concepts/formatting,
 * checked 2026-12): Google's form plus, for gmail.com / googlemail.com only, the '+' and everything after it removed
 * from the local part (`cloudy.sanfrancisco+shopping@gmail.com` → `cloudysanfrancisco@gmail.com`); other domains keep
 * dots and '+' (`user.name+NYC@Example.com` → `user.name+nyc@example.com`).
 */
export function normalizeEmailDataManager(raw: Raw): string | undefined {
  return rewriteGmailLocalPart(normalizeEmailGoogle(raw), (local) => local.split('+')[0]);
}

/**
 * Microsoft Advertising's form (UET Conversions API guide, "To hash an email address", and the Enhanced conversions
 * help page's formatting rules, which the offline-conversion upload follows too): Meta's form, then for **every**
 * domain the '+alias' and all dots removed from the local part, and accents removed (`Jane.Doe+shop@Example.com` →
 * `janedoe@example.com`, `Andrés@x.com` → `andres@x.com`). Unlike Google's rule this is not limited to gmail.
 */
export function normalizeEmailMicrosoft(raw: Raw): string | undefined {
  const email = normalizeEmail(raw);
  if (!email) return undefined;
  const at = email.indexOf('@');
  const local = email.slice(0, at).split('+')[0].replaceAll('.', '');
  if (!local) return undefined;
  const form = `${local}@${email.slice(at + 1)}`;
  return isAscii(form) ? form : form.normalize('NFD').replace(/\p{M}/gu, '');
}

/**
 * Reddit's form (Reddit Business Help, "Manual advanced matching", for the Pixel and the Conversions API): Meta's form,
 * then, for every domain, the '+alias' dropped and every character of the local part that is not a letter or digit
 * removed (`Al.ice$+Apple@Example.Com` → `alice@example.com`, the page's example). "Alphanumeric" is read as ASCII
 * a–z / 0–9, as Reddit's own `redditNormalizeEmail` and the Extract connector do.
 */
export function normalizeEmailReddit(raw: Raw): string | undefined {
  const email = normalizeEmail(raw);
  if (!email) return undefined;
  const at = email.indexOf('@');
  const local = email.slice(0, at).split('+')[0].replace(/[^a-z0-9]/g, '');
  return local ? `${local}${email.slice(at)}` : undefined;
}

/**
 * A phone number written in international form (`+` or `00` first), without the phone-number library: `digits`
 * (Meta's `ph`) and `e164` (`+digits`: Google, TikTok, GA4), as `normalizePhone` in normalize.ts gives them for
 * such input — a trunk `(0)` after the country code is dropped (`+49 (0)30 1234567` → `49301234567`). National
 * formats need the country's numbering plan: they give undefined here (the browser then sends no phone hash rather
 * than a wrong one; the server, which has the library, reads them with the address's country).
 */
export function normalizeInternationalPhone(raw: Raw): { digits: string; e164: string } | undefined {
  const s = typeof raw === 'string' ? raw.trim() : '';
  if (!/^(\+|00)/.test(s) || /[^\d\s()+./-]/.test(s)) return undefined;
  const digits = s.replace('(0)', '').replace(/\D/g, '').replace(/^00/, '');
  if (!/^[1-9]\d{6,14}$/.test(digits)) return undefined;
  return { digits, e164: `+${digits}` };
}
