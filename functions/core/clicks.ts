import * as z from './zod.ts';
import { FORWARDED_COOKIES, URL_CLICK_PARAMS } from './click-sources.ts';
import type { ClickKey, Clicks, Consent } from './conversion.ts';

/**
 * What the browser sends to /collect. Unknown keys are ignored (old snippets keep working); the client IP and
 * user agent come from the request itself.
 */
const SHA256_HEX = z.string().check(z.regex(/^[0-9a-f]{64}$/, 'must be a lowercase SHA-256 hex digest'));
const ConsentValue = z.union([z.boolean(), z.pipe(z.enum(['granted', 'denied']), z.transform((v) => v === 'granted'))]);
const maxString = (max: number) => z.string().check(z.maxLength(max));
export const CollectBodySchema = z.object({
  url: z.url({ protocol: /^https?$/ }).check(z.maxLength(4096)),
  referrer: z.catch(z.optional(maxString(4096)), undefined),
  fbp: z.optional(maxString(200)),
  fbc: z.optional(maxString(600)),
  consent: z.optional(
    z.object({
      marketing: z.optional(ConsentValue),
      ad_user_data: z.optional(ConsentValue),
      ad_personalization: z.optional(ConsentValue),
      analytics: z.optional(ConsentValue),
    }),
  ),
  /** What the snippet sends for: `page_view` (default), `consent` (a change), `identify`. Informational. */
  event: z.optional(maxString(32)),
  /** The platforms' first-party cookies as the page sees them (see FORWARDED_COOKIES); other names are ignored. */
  cookies: z.optional(z.record(maxString(64), maxString(600)).check(z.refine((c) => Object.keys(c).length <= 32, 'at most 32 cookies'))),
  /** `identify`: SHA-256 hex digests computed in the browser. Anything else (a raw e-mail) is refused, never stored. */
  identify: z.optional(z.strictObject({ email: z.optional(SHA256_HEX), phone: z.optional(SHA256_HEX) })),
});
export type CollectBody = z.infer<typeof CollectBodySchema>;

/** Meta's formats: `fb.{subdomainIndex}.{creation time ms}.{fbclid | random}` (a 5th segment is allowed). */
const FBC = /^fb\.[0-2]\.(\d{13})\.([^.\s]{1,500})(\.[^.\s]+)?$/;
const FBP = /^fb\.[0-2]\.(\d{13})\.(\d{1,30})(\.[^.\s]+)?$/;
/** Google Analytics' `_ga` cookie: `GA1.<n>.<client id: two dot-separated numbers>`. */
const GA = /^GA\d\.\d+\.(\d+\.\d+)$/;

/** `CapturedValueSchema`'s limit: a longer stored value would make every later conversion of the visitor fail validation. */
const MAX_VALUE_LENGTH = 500;
const fits = (v: string) => v.length <= MAX_VALUE_LENGTH;

const CLICK_ID = /^[A-Za-z0-9._~\-]{1,500}$/;
/** Google Ads' `_gcl_aw` / `_gcl_gb`: `GCL.<seconds>.<gclid | gbraid>`. */
const GCL = /^GCL\.(\d{9,11})\.([A-Za-z0-9._~\-]{1,500})$/;

export interface Landing {
  /** Each platform's newest click / browser ID seen in this request. */
  clicks: Clicks;
  /** Keys whose value came from this request's URL: fresh ad clicks. */
  fromUrl: ClickKey[];
  consent?: Consent;
  utm: Record<string, string>;
  landingUrl: string;
  referrer?: string;
  /** First-party cookies the server should (re)set: Meta's own names, so Meta's pixel reuses them. */
  setCookies: { _fbc?: string; _fbp?: string };
}

/**
 * Reads the ad click IDs and first-party browser IDs of a landing. `fbc` carries the click time: it is built from
 * `fbclid` when first seen and kept (with its original time) while the same fbclid comes back; a new fbclid
 * replaces it. `fbp` is created server-side (subdomain index 1, as Meta says) when the pixel has not set one.
 */
export function readLanding(body: CollectBody, cookies: Record<string, string>, nowMs: number, random: () => number = Math.random): Landing {
  const url = new URL(body.url);
  const params = url.searchParams;
  const clicks: Clicks = {};
  const setCookies: Landing['setCookies'] = {};

  const knownFbc = [body.fbc, cookies._fbc].find((v) => v && fits(v) && FBC.test(v));
  const fbclid = params.get('fbclid');
  // An fbclid is never shortened (Meta: never modify it); one too long to fit in fbc is ignored.
  if (fbclid && CLICK_ID.test(fbclid) && fits(`fb.1.${nowMs}.${fbclid}`)) {
    if (knownFbc && FBC.exec(knownFbc)![2] === fbclid) clicks.fbc = { value: knownFbc, capturedAt: Number(FBC.exec(knownFbc)![1]) };
    else clicks.fbc = { value: `fb.1.${nowMs}.${fbclid}`, capturedAt: nowMs };
  } else if (knownFbc) {
    clicks.fbc = { value: knownFbc, capturedAt: Number(FBC.exec(knownFbc)![1]) };
  }
  if (clicks.fbc && clicks.fbc.value !== cookies._fbc) setCookies._fbc = clicks.fbc.value;

  const knownFbp = [body.fbp, cookies._fbp].find((v) => v && fits(v) && FBP.test(v));
  if (knownFbp) clicks.fbp = { value: knownFbp, capturedAt: Number(FBP.exec(knownFbp)![1]) };
  else {
    clicks.fbp = { value: `fb.1.${nowMs}.${Math.floor(1e9 + random() * 9e9)}`, capturedAt: nowMs };
    setCookies._fbp = clicks.fbp.value;
  }

  const fromUrl: ClickKey[] = fbclid && clicks.fbc?.capturedAt === nowMs ? ['fbc'] : [];
  for (const [param, key] of Object.entries(URL_CLICK_PARAMS)) {
    const v = params.get(param);
    if (v && CLICK_ID.test(v)) {
      clicks[key] = { value: v, capturedAt: nowMs };
      fromUrl.push(key);
    }
  }
  // The platforms' own cookies stand in for a click whose URL parameter is gone (a later page, a return visit).
  const fromCookie = (key: ClickKey, value: string | undefined, capturedAt = nowMs) => {
    if (!clicks[key] && value && CLICK_ID.test(value)) clicks[key] = { value, capturedAt };
  };
  for (const [cookie, key] of [['_gcl_aw', 'gclid'], ['_gcl_gb', 'gbraid']] as const) {
    const gcl = cookies[cookie] && GCL.exec(cookies[cookie]);
    if (gcl) fromCookie(key, gcl[2], Number(gcl[1]) * 1000);
  }
  fromCookie('msclkid', cookies._uetmsclkid?.replace(/^_uet/, ''));
  fromCookie('epik', cookies._epik);
  fromCookie('liFatId', cookies.li_fat_id);
  fromCookie('scid', cookies._scid);
  // X's `_twclid` (its official server-side GTM tag stores the landing's twclid there, ~390 days): the click ID itself.
  fromCookie('twclid', cookies._twclid);
  fromCookie('uetvid', cookies._uetvid);
  // The Reddit Pixel's cookies: `_rdt_uuid` (`<ms>.<uuid>`, sent whole as user.uuid) and `_rdt_cid` (the rdt_cid click).
  fromCookie('rdtUuid', cookies._rdt_uuid);
  fromCookie('rdtCid', cookies._rdt_cid);
  fromCookie('ttp', cookies._ttp);
  const ga = cookies._ga && GA.exec(cookies._ga);
  if (ga) clicks.gaClientId = { value: ga[1], capturedAt: nowMs };

  const utm: Record<string, string> = {};
  for (const [k, v] of params) if (k.startsWith('utm_') && k.length <= 40 && v) utm[k] = v.slice(0, 200);

  const c = body.consent;
  const consent: Consent | undefined = c
    ? { marketing: c.marketing, adUserData: c.ad_user_data, adPersonalization: c.ad_personalization, analytics: c.analytics }
    : undefined;
  const referrer = body.referrer ? scrubUrl(body.referrer) : undefined;
  const landing: Landing = { clicks, fromUrl, consent, utm, landingUrl: scrubUrl(body.url).slice(0, 2048), referrer: referrer?.slice(0, 2048) || undefined, setCookies };
  return consent?.marketing === false ? withoutAdIdentifiers(landing) : landing;
}

/**
 * Marketing consent denied (explicitly, or by a `denied` site default where the page sent no signal): no ad click or browser ID is kept and no ad cookie is set; the GA client ID
 * stays only with analytics consent. (The landing URL is stored without its query string for the same reason.)
 */
export function withoutAdIdentifiers(landing: Landing): Landing {
  const keepGa = landing.consent?.analytics === true && landing.clicks.gaClientId;
  const url = new URL(landing.landingUrl);
  return {
    ...landing,
    clicks: keepGa ? { gaClientId: landing.clicks.gaClientId } : {},
    fromUrl: [],
    landingUrl: `${url.origin}${url.pathname}`,
    setCookies: {},
  };
}

/**
 * The cookies a collect request speaks for: the Cookie header (the relay on a subdomain of the site receives the
 * site's cookies) overlaid with the platform cookies the snippet forwarded in the body — only those names, so a
 * body can never stand in for the HttpOnly visitor cookie.
 */
export function mergeForwardedCookies(header: Record<string, string>, forwarded: Record<string, string> | undefined): Record<string, string> {
  const out = { ...header };
  for (const name of FORWARDED_COOKIES) {
    const v = forwarded?.[name];
    if (typeof v === 'string' && v !== '') out[name] = v;
  }
  return out;
}

/** Query parameters that name personal data (forms that submit by GET, e-mail links with the address in them). */
const PERSONAL_PARAM = /e-?mail|phone|^tel$|mobile|name$|^name|address|street|^city$|^zip|postal|birth|^dob$/i;

/**
 * A page URL without the query parameters that carry personal data: a parameter named like it, or whose value is
 * an e-mail address. Landing and referrer URLs are stored and sent to the platforms (event_source_url), which ask
 * for no personal data in URLs. A URL with nothing to remove is returned exactly as it was.
 */
export function scrubUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return raw.includes('@') ? '' : raw;
  }
  const personal = [...url.searchParams].filter(([k, v]) => PERSONAL_PARAM.test(k) || /[^\s@]+@[^\s@]+\.[^\s@]+/.test(v)).map(([k]) => k);
  if (personal.length === 0 && !url.username && !url.password) return raw;
  for (const k of personal) url.searchParams.delete(k);
  url.username = '';
  url.password = '';
  return url.toString();
}

/** Parses `a=1; b=2` cookie strings (HTTP API v2 delivers them as an array of such pairs). */
export function parseCookies(pairs: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (pairs ?? []).flatMap((p) => p.split(';'))) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim();
    if (!(name in out)) {
      try {
        out[name] = decodeURIComponent(pair.slice(eq + 1).trim());
      } catch {
        out[name] = pair.slice(eq + 1).trim();
      }
    }
  }
  return out;
}
