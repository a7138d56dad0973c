/**
 * Normalization and SHA-256 hashing of customer data, done once at ingestion (see `UserSchema`).
 *
 * Rules follow the platforms' documentation (Meta customer-information parameters, Google Ads enhanced
 * conversions / GA4 user-provided data, TikTok's own server tag); where they disagree the choice is
 * stated next to the function. Pure functions: no I/O, no AWS.
 */
import { hash } from 'node:crypto';
import { isIP } from 'node:net';
import { parsePhoneNumberFromString, isSupportedCountry, type CountryCode, type PhoneNumber } from 'libphonenumber-js';
import type { User } from './conversion.ts';
import { isAscii, normalizeEmail, normalizeEmailDataManager, normalizeEmailGoogle, normalizeEmailMicrosoft, normalizeEmailReddit } from './normalize-portable.ts';

type Raw = string | null | undefined;

/** SHA-256 of the UTF-8 string, lowercase hex. */
export function sha256Hex(s: string): string {
  return hash('sha256', s, 'hex');
}

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/** True for a 64-character hex string (any case): treated as an already-hashed value, never re-hashed. */
export function isSha256Hex(s: string): boolean {
  return SHA256_HEX.test(s);
}

function clean(raw: Raw): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const s = raw.trim();
  return s === '' ? undefined : s;
}

// ---------------------------------------------------------------------------------------------- e-mail

// The e-mail rules live in normalize-portable.ts: the browser snippet bundles them too.
export { normalizeEmail, normalizeEmailDataManager, normalizeEmailGoogle, normalizeEmailMicrosoft, normalizeEmailReddit };

// ----------------------------------------------------------------------------------------------- phone

function toCountryCode(country: string | undefined): CountryCode | undefined {
  const cc = country?.trim().toUpperCase();
  return cc && isSupportedCountry(cc) ? cc : undefined;
}

/**
 * Parses a phone number into `digits` (E.164 without '+': Meta's `ph`) and `e164` (with '+': Google, TikTok, GA4).
 *
 * Order of attempts: the number as written, with the default country for national formats (`(650)555-1212`
 * + US); then, when that is not a valid number, the digits read as international (`16505551212`,
 * `0044 844 412 4653` → `+44…`). A valid number wins; a number that is only "possible" (right length, e.g. the
 * UK drama range `07700 900123`) is accepted when it was written with '+' or parsed with the default country.
 * Trunk prefixes are dropped (`+49 (0)30 1234567` → `49301234567`), unlike Meta's SDK, which keeps the 0;
 * Meta's doc asks for "no leading zeros".
 */
export function normalizePhone(raw: Raw, defaultCountry?: string): { digits: string; e164: string } | undefined {
  const s = clean(raw);
  if (!s || s.length > 64) return undefined;
  const country = toCountryCode(defaultCountry);

  const direct: PhoneNumber | undefined = parsePhoneNumberFromString(s, country ? { defaultCountry: country } : {});
  // Written with '+', the number as written is taken when it is valid or possible, and nothing else is tried: the
  // cheap length check comes first, and the validity check (the national patterns, as costly as the parse) runs only
  // for a number of impossible length — the same answer as valid-then-possible, for less.
  if (s.startsWith('+')) {
    const e164 = direct && (direct.isPossible() || direct.isValid()) ? direct.number : undefined;
    return e164 ? { digits: e164.slice(1), e164 } : undefined;
  }
  // Each parse costs more than the rest of the user's hashing: the guesses are parsed only when the number as
  // written is not valid.
  let found = direct?.isValid() ? direct : undefined;
  if (!found) {
    const digits = s.replace(/\D/g, '');
    const guesses = digits.startsWith('00') ? [`+${digits.slice(2)}`, `+${digits}`] : [`+${digits}`];
    for (const guess of guesses) {
      const n = parsePhoneNumberFromString(guess);
      if (n?.isValid()) {
        found = n;
        break;
      }
    }
  }
  if (!found && direct?.isPossible()) found = direct;
  if (!found) return undefined;
  const e164 = found.number; // '+' and digits, extension dropped
  return { digits: e164.slice(1), e164 };
}

// ------------------------------------------------------------------------------------- names and places

/** Keeps letters and combining marks only (any script), after NFC and lowercasing. */
function lettersOnly(raw: Raw): string | undefined {
  const s = clean(raw);
  if (!s) return undefined;
  // ASCII (most input) needs neither NFC nor the Unicode property classes: its letters are a–z once lowercased.
  const out = isAscii(s) ? s.toLowerCase().replace(/[^a-z]/g, '') : s.normalize('NFC').toLowerCase().replace(/[^\p{L}\p{M}]/gu, '');
  return out === '' ? undefined : out;
}

/**
 * First or last name. Meta: "lowercase only with no punctuation; UTF-8 allowed" (`Mary` → `mary`).
 * Choices: NFC first (so `é` typed either way hashes the same); accents and non-Latin letters kept; digits,
 * punctuation and *all* whitespace removed (`Mary-Ann` / `Mary Ann` → `maryann`). Meta's doc does not address
 * inner spaces; its own custom-audience normalizer (PHP SDK) strips everything but letters, so removing
 * them matches Meta. Google asks only for trim + lowercase, so a multi-word name may hash differently there.
 */
export function normalizeName(raw: Raw): string | undefined {
  return lettersOnly(raw);
}

/** Meta: lowercase, no punctuation, no special characters, no spaces (`St. Louis` → `stlouis`, `São Paulo` → `sãopaulo`). */
export function normalizeCity(raw: Raw): string | undefined {
  return lettersOnly(raw);
}

const US_STATES: Record<string, string> = {
  alabama: 'al', alaska: 'ak', arizona: 'az', arkansas: 'ar', california: 'ca', colorado: 'co', connecticut: 'ct',
  delaware: 'de', districtofcolumbia: 'dc', washingtondc: 'dc', florida: 'fl', georgia: 'ga', hawaii: 'hi',
  idaho: 'id', illinois: 'il', indiana: 'in', iowa: 'ia', kansas: 'ks', kentucky: 'ky', louisiana: 'la',
  maine: 'me', maryland: 'md', massachusetts: 'ma', michigan: 'mi', minnesota: 'mn', mississippi: 'ms',
  missouri: 'mo', montana: 'mt', nebraska: 'ne', nevada: 'nv', newhampshire: 'nh', newjersey: 'nj',
  newmexico: 'nm', newyork: 'ny', northcarolina: 'nc', northdakota: 'nd', ohio: 'oh', oklahoma: 'ok',
  oregon: 'or', pennsylvania: 'pa', rhodeisland: 'ri', southcarolina: 'sc', southdakota: 'sd', tennessee: 'tn',
  texas: 'tx', utah: 'ut', vermont: 'vt', virginia: 'va', washington: 'wa', westvirginia: 'wv', wisconsin: 'wi',
  wyoming: 'wy', puertorico: 'pr', guam: 'gu', usvirginislands: 'vi', americansamoa: 'as', northernmarianaislands: 'mp',
};

/**
 * Meta: US states as the 2-letter ANSI code, lowercase; elsewhere lowercase without punctuation, special
 * characters or spaces. Full US state names are mapped to their code when the country is the US or unknown
 * (`California` → `ca`); for other countries the name is kept (a Georgian region is not Georgia, US).
 */
export function normalizeState(raw: Raw, country?: string): string | undefined {
  const s = lettersOnly(raw);
  if (!s) return undefined;
  const cc = country ? normalizeCountry(country) : undefined;
  if (cc === undefined || cc === 'us') return US_STATES[s] ?? s;
  return s;
}

/**
 * Meta: lowercase, no spaces, no dash; US: first 5 digits only (`94035-1234` → `94035`, `M1 1AE` → `m11ae`).
 * Applied to US addresses, and to any value shaped like a US ZIP+4 when the country is unknown. A US ZIP
 * with fewer than 5 digits is dropped (it would match nothing). Values shorter than 2 characters are dropped.
 */
export function normalizeZip(raw: Raw, country?: string): string | undefined {
  const s = clean(raw)?.toLowerCase();
  if (!s) return undefined;
  const cc = country ? normalizeCountry(country) : undefined;
  if (cc === 'us' || (cc === undefined && /^\d{5}\s*-\s*\d{4}$/.test(s))) {
    const digits = s.replace(/\D/g, '');
    return digits.length >= 5 ? digits.slice(0, 5) : undefined;
  }
  const out = s.replace(/[\s-]/g, '');
  return out.length >= 2 ? out : undefined;
}

/**
 * Google's `hashed_street_address`: trim and lowercase (Google's only documented rules); we also apply NFC and
 * collapse inner whitespace runs to one space so that `1600  Amphitheatre Pkwy` and `1600 Amphitheatre Pkwy`
 * hash alike. Punctuation and abbreviations are left as written. (Meta has no street field.)
 */
export function normalizeStreet(raw: Raw): string | undefined {
  const s = clean(raw);
  return s ? s.normalize('NFC').toLowerCase().replace(/\s+/g, ' ') : undefined;
}

// --------------------------------------------------------------------------------------------- country

/** Every ISO 3166-1 alpha-2 code. */
const ISO_ALPHA2 = new Set(
  (
    'ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm bn bo bq br bs bt bv bw by bz ' +
    'ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg eh er es et fi fj fk fm fo fr ' +
    'ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo ' +
    'jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mf mg mh mk ml mm mn mo mp mq mr ' +
    'ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro ' +
    'rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st sv sx sy sz tc td tf tg th tj tk tl tm tn to tr tt tv ' +
    'tw tz ua ug um us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw'
  ).split(' '),
);
export const ISO_COUNTRY_CODES: ReadonlySet<string> = ISO_ALPHA2;

/** Common names, native names and alpha-3 codes not covered by the English display names. Keys: see `countryKey`. */
const COUNTRY_ALIASES: Record<string, string> = {
  usa: 'us', unitedstatesofamerica: 'us', america: 'us', us: 'us', uk: 'gb', gbr: 'gb', greatbritain: 'gb',
  england: 'gb', scotland: 'gb', wales: 'gb', northernireland: 'gb', britain: 'gb',
  deu: 'de', deutschland: 'de', fra: 'fr', ita: 'it', italia: 'it', esp: 'es', espana: 'es', nld: 'nl',
  nederland: 'nl', holland: 'nl', thenetherlands: 'nl', bel: 'be', belgie: 'be', belgique: 'be', aut: 'at',
  osterreich: 'at', che: 'ch', schweiz: 'ch', suisse: 'ch', svizzera: 'ch', prt: 'pt', irl: 'ie', eire: 'ie',
  swe: 'se', sverige: 'se', nor: 'no', norge: 'no', dnk: 'dk', danmark: 'dk', fin: 'fi', suomi: 'fi', pol: 'pl',
  polska: 'pl', cze: 'cz', czechrepublic: 'cz', cesko: 'cz', svk: 'sk', hun: 'hu', rou: 'ro', bgr: 'bg', grc: 'gr',
  hrv: 'hr', svn: 'si', est: 'ee', lva: 'lv', ltu: 'lt', lux: 'lu', isl: 'is', can: 'ca', mex: 'mx', bra: 'br',
  brasil: 'br', arg: 'ar', chl: 'cl', col: 'co', per: 'pe', aus: 'au', nzl: 'nz', jpn: 'jp', nippon: 'jp', chn: 'cn',
  ind: 'in', kor: 'kr', southkorea: 'kr', korea: 'kr', republicofkorea: 'kr', northkorea: 'kp', sgp: 'sg',
  hkg: 'hk', hongkong: 'hk', macau: 'mo', macao: 'mo', twn: 'tw', tha: 'th', vnm: 'vn', vietnam: 'vn', mys: 'my',
  idn: 'id', phl: 'ph', zaf: 'za', nga: 'ng', ken: 'ke', egy: 'eg', mar: 'ma', are: 'ae', uae: 'ae', sau: 'sa',
  isr: 'il', tur: 'tr', turkey: 'tr', turkiye: 'tr', rus: 'ru', russia: 'ru', russianfederation: 'ru', ukr: 'ua',
  ivorycoast: 'ci', cotedivoire: 'ci', burma: 'mm', swaziland: 'sz', macedonia: 'mk', capeverde: 'cv',
  easttimor: 'tl', vatican: 'va', vaticancity: 'va', holysee: 'va', palestine: 'ps', laos: 'la', syria: 'sy',
  iran: 'ir', bolivia: 'bo', venezuela: 've', tanzania: 'tz', moldova: 'md', brunei: 'bn',
  democraticrepublicofthecongo: 'cd', drc: 'cd', republicofthecongo: 'cg',
};

/** Lowercase, accents stripped, letters only: `Côte d’Ivoire` → `cotedivoire`. */
function countryKey(s: string): string {
  return (isAscii(s) ? s : s.normalize('NFD').replace(/\p{M}/gu, '')).toLowerCase().replace(/[^a-z]/g, '');
}

let countryNames: Map<string, string> | undefined;

/** English names of every ISO code, from the runtime's ICU data (built once, on first use). */
function namesTable(): Map<string, string> {
  if (countryNames) return countryNames;
  const table = new Map<string, string>();
  try {
    const display = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
    for (const code of ISO_ALPHA2) {
      const name = display.of(code.toUpperCase());
      if (name) table.set(countryKey(name), code);
    }
  } catch {
    // No ICU region names: aliases and codes still work.
  }
  for (const [key, code] of Object.entries(COUNTRY_ALIASES)) table.set(key, code);
  countryNames = table;
  return table;
}

/**
 * ISO 3166-1 alpha-2, lowercase (Meta's `country`, Google's `country_code`). Accepts codes in any case, `UK`,
 * common alpha-3 codes, English names (`United States`, `United Kingdom`, `Germany`) and a few native names
 * (`Deutschland`). Unknown → undefined.
 */
export function normalizeCountry(raw: Raw): string | undefined {
  const s = clean(raw);
  if (!s) return undefined;
  const key = countryKey(s);
  if (key.length === 2) return ISO_ALPHA2.has(key) ? key : COUNTRY_ALIASES[key];
  return namesTable().get(key);
}

// ------------------------------------------------------------------------------------------- hashUser

export interface RawUserInput {
  email?: Raw;
  phone?: Raw;
  firstName?: Raw;
  lastName?: Raw;
  /** Split into first and last name when neither is given. */
  fullName?: Raw;
  street?: Raw;
  city?: Raw;
  state?: Raw;
  zip?: Raw;
  country?: Raw;
  externalId?: Raw;
  ip?: Raw;
  userAgent?: Raw;
}

export interface HashUserOptions {
  /** ISO-2 country for phone numbers written in national format, when the address has no country. */
  defaultCountry?: string;
}

const HONORIFICS = new Set(['mr', 'mrs', 'ms', 'miss', 'mx', 'dr', 'prof', 'sir', 'madam', 'herr', 'frau', 'mme', 'mlle']);
const SUFFIXES = new Set(['jr', 'sr', 'ii', 'iii', 'iv', 'phd', 'md', 'esq']);
const SURNAME_PARTICLES = new Set([
  'van', 'von', 'der', 'den', 'de', 'del', 'della', 'di', 'da', 'das', 'dos', 'du', 'la', 'le', 'ter', 'ten', 'bin', 'ibn', 'al', 'el', 'st',
]);

/**
 * Splits a full name: `Smith, John` → John / Smith; otherwise first word / last word, keeping surname particles
 * that directly precede the last word (`Maria van der Berg` → Maria / van der Berg). Middle names are dropped;
 * titles (Mr, Dr) and suffixes (Jr, III) are ignored.
 */
export function splitFullName(raw: Raw): { firstName?: string; lastName?: string } {
  const s = clean(raw);
  if (!s) return {};
  const key = (w: string) => w.toLowerCase().replace(/[^\p{L}]/gu, '');
  const comma = s.indexOf(',');
  if (comma > 0 && comma === s.lastIndexOf(',')) {
    const last = s.slice(0, comma).trim();
    const first = s.slice(comma + 1).trim().split(/\s+/)[0];
    if (last && first && !SUFFIXES.has(key(first))) return { firstName: first, lastName: last };
  }
  const words = s.split(/[\s,]+/).filter((w) => w && key(w) !== '');
  while (words.length > 1 && HONORIFICS.has(key(words[0]))) words.shift();
  while (words.length > 1 && SUFFIXES.has(key(words[words.length - 1]))) words.pop();
  if (words.length === 0) return {};
  if (words.length === 1) return { firstName: words[0] };
  let start = words.length - 1;
  while (start > 1 && SURNAME_PARTICLES.has(key(words[start - 1]))) start--;
  return { firstName: words[0], lastName: words.slice(start).join(' ') };
}

/** An already-hashed value (64 hex) passes through lowercased; anything else is normalized then hashed. */
function hashed(raw: Raw, normalize: (s: string) => string | undefined): string | undefined {
  const s = clean(raw);
  if (!s) return undefined;
  if (isSha256Hex(s)) return s.toLowerCase();
  const n = normalize(s);
  return n === undefined ? undefined : sha256Hex(n);
}

/**
 * Turns raw customer data into the hashed `User`. Only hashes leave this function, plus `countryCode`, `ip` and
 * `userAgent` in clear (the platforms need those unhashed). Empty or unusable values are omitted.
 *
 * - `email` = Meta/TikTok form; `emailGoogle` only when Google's form differs (gmail dots); `emailDataManager` only
 *   when the Data Manager API's form differs from Google's (a gmail '+tag' dropped); `emailMicrosoft` only when
 *   Microsoft's form differs from `email` (dots or a '+alias' in the local part, any domain); `emailReddit` only when
 *   Reddit's form differs from Meta's (dots, '+alias' and other punctuation dropped from any local part).
 * - `phone` = hash of digits with country code (Meta); `phoneE164` = hash of '+digits' (Google, TikTok, GA4,
 *   Microsoft, Reddit).
 *   Default country for national formats: the address country, else `opts.defaultCountry`.
 * - A 64-hex input is taken as already hashed and passed through lowercased, never re-hashed. Its normalized form
 *   is unknown, so a pre-hashed e-mail sets `email` only and a pre-hashed phone sets `phone` only.
 * - `externalId`: SHA-256 of the trimmed value, case kept (TikTok's tag does the same).
 */
export function hashUser(input: RawUserInput, opts: HashUserOptions = {}): User {
  const user: User = {};
  const set = <K extends keyof User>(key: K, value: User[K] | undefined) => {
    if (value !== undefined) user[key] = value;
  };

  const email = clean(input.email);
  if (email && isSha256Hex(email)) set('email', email.toLowerCase());
  else if (email) {
    const meta = normalizeEmail(email);
    const google = normalizeEmailGoogle(email);
    if (meta) set('email', sha256Hex(meta));
    if (google && google !== meta) set('emailGoogle', sha256Hex(google));
    const dataManager = normalizeEmailDataManager(email);
    if (dataManager && dataManager !== (google ?? meta)) set('emailDataManager', sha256Hex(dataManager));
    const microsoft = normalizeEmailMicrosoft(email);
    if (microsoft && microsoft !== meta) set('emailMicrosoft', sha256Hex(microsoft));
    const reddit = normalizeEmailReddit(email);
    if (reddit && reddit !== meta) set('emailReddit', sha256Hex(reddit));
  }

  const countryRaw = clean(input.country);
  const countryCode = countryRaw && !isSha256Hex(countryRaw) ? normalizeCountry(countryRaw) : undefined;
  set('countryCode', countryCode);
  set('country', countryRaw && isSha256Hex(countryRaw) ? countryRaw.toLowerCase() : countryCode && sha256Hex(countryCode));

  const phone = clean(input.phone);
  if (phone && isSha256Hex(phone)) set('phone', phone.toLowerCase());
  else if (phone) {
    const parsed = normalizePhone(phone, countryCode ?? opts.defaultCountry);
    if (parsed) {
      set('phone', sha256Hex(parsed.digits));
      set('phoneE164', sha256Hex(parsed.e164));
    }
  }

  let { firstName, lastName } = input;
  if (!clean(firstName) && !clean(lastName)) ({ firstName, lastName } = splitFullName(input.fullName));
  set('firstName', hashed(firstName, normalizeName));
  set('lastName', hashed(lastName, normalizeName));

  set('street', hashed(input.street, normalizeStreet));
  set('city', hashed(input.city, normalizeCity));
  set('state', hashed(input.state, (s) => normalizeState(s, countryCode)));
  set('zip', hashed(input.zip, (s) => normalizeZip(s, countryCode)));
  set('externalId', hashed(input.externalId, (s) => s));

  const ip = clean(input.ip)?.split(',')[0].trim();
  if (ip && ip.length <= 64 && isIP(ip)) set('ip', ip);
  const ua = clean(input.userAgent);
  if (ua) set('userAgent', ua.slice(0, 1024));

  return user;
}
