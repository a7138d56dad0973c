import * as z from 'zod';
import type { Clicks, Consent } from './conversion.ts';

/**
 * What the browser sends to /collect. Unknown keys are ignored (old snippets keep working); the client IP and
 * user agent come from the request itself.
 */
const ConsentValue = z.union([z.boolean(), z.enum(['granted', 'denied']).transform((v) => v === 'granted')]);
export const CollectBodySchema = z.object({
  url: z.url({ protocol: /^https?$/ }).max(4096),
  referrer: z.string().max(4096).optional().catch(undefined),
  fbp: z.string().max(200).optional(),
  fbc: z.string().max(600).optional(),
  consent: z
    .object({
      marketing: ConsentValue.optional(),
      ad_user_data: ConsentValue.optional(),
      ad_personalization: ConsentValue.optional(),
      analytics: ConsentValue.optional(),
    })
    .optional(),
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

const URL_CLICK_PARAMS = { gclid: 'gclid', gbraid: 'gbraid', wbraid: 'wbraid', ttclid: 'ttclid', msclkid: 'msclkid' } as const;
const CLICK_ID = /^[A-Za-z0-9._~\-]{1,500}$/;

export interface Landing {
  clicks: Clicks;
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

  for (const [param, key] of Object.entries(URL_CLICK_PARAMS)) {
    const v = params.get(param);
    if (v && CLICK_ID.test(v)) clicks[key] = { value: v, capturedAt: nowMs };
  }
  if (cookies._ttp && CLICK_ID.test(cookies._ttp)) clicks.ttp = { value: cookies._ttp, capturedAt: nowMs };
  const ga = cookies._ga && GA.exec(cookies._ga);
  if (ga) clicks.gaClientId = { value: ga[1], capturedAt: nowMs };

  const utm: Record<string, string> = {};
  for (const [k, v] of params) if (k.startsWith('utm_') && k.length <= 40 && v) utm[k] = v.slice(0, 200);

  const c = body.consent;
  const consent: Consent | undefined = c
    ? { marketing: c.marketing, adUserData: c.ad_user_data, adPersonalization: c.ad_personalization, analytics: c.analytics }
    : undefined;
  return { clicks, consent, utm, landingUrl: body.url.slice(0, 2048), referrer: body.referrer?.slice(0, 2048) || undefined, setCookies };
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
