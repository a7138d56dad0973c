import { consentTier } from './consent.ts';
import type { ClickKey, Conversion } from './conversion.ts';

/**
 * How matchable one delivered (or dry-run) conversion was at one destination: which identifier keys went (names
 * only, never values), the click attached and its age, the consent tier, and a 0–10 score. Stored on the ledger row
 * as `m` with short keys, since every byte costs write units:
 * - `k`: the keys sent, canonical short names joined by spaces (`em ph fn ln ct st zp country xid ip ua fbc fbp
 *   gclid …`), whatever each platform calls them;
 * - `c`: the click ID sent (fbc, gclid, gbraid, wbraid, ttclid, …), `a`: its age at the conversion, in seconds;
 * - `t`: consent tier, `m` marketing, `a` analytics only, `n` none;
 * - `s`: the score, one decimal; `w`: why it is weak (codes of `WEAK_REASONS`), omitted when nothing is missing.
 */
export interface MatchRecord {
  k: string;
  c?: string;
  a?: number;
  t: 'm' | 'a' | 'n';
  s: number;
  w?: string[];
}

/** A platform's signal name (`Destination.signals`) → the canonical short key; unknown names pass through. */
const CANONICAL: Record<string, string> = {
  // Google's Data Manager API names (emailAddress, phoneNumber, ipAddress, userAgent) as well as the Ads API's.
  email: 'em', hashedEmail: 'em', sha256_email_address: 'em', emailAddress: 'em',
  phone: 'ph', hashedPhoneNumber: 'ph', sha256_phone_number: 'ph', phoneNumber: 'ph',
  'address.sha256_first_name': 'fn', 'address.sha256_last_name': 'ln', 'address.sha256_street': 'street', 'address.country': 'country',
  external_id: 'xid', user_id: 'xid',
  client_ip_address: 'ip', ip_override: 'ip', ipAddress: 'ip',
  client_user_agent: 'ua', user_agent: 'ua', userAgent: 'ua',
  client_id: 'cid',
  // LinkedIn's idTypes and Snapchat's click fields.
  SHA256_EMAIL: 'em', LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID: 'liFatId', PLAINTEXT_IP_ADDRESS: 'ip', externalIds: 'xid',
  sc_click_id: 'scCid', sc_cookie1: 'scid',
  // X's identifier keys (twclid is already the canonical name).
  hashed_email: 'em', hashed_phone_number: 'ph', ip_address: 'ip',
  // Microsoft's UET Conversions API userData (em, ph, msclkid are already canonical) and offline-conversion fields.
  clientIpAddress: 'ip', clientUserAgent: 'ua', externalId: 'xid', anonymousId: 'uetvid',
  MicrosoftClickId: 'msclkid', HashedEmailAddress: 'em', HashedPhoneNumber: 'ph',
  // Reddit's user keys (its signals name the click and the pixel's cookie as the relay does: rdtCid, rdtUuid).
  phone_number: 'ph',
};

/** Ad-click identifiers (not the first-party browser IDs fbp / ttp / GA client ID). */
const CLICK_ID_KEYS: readonly ClickKey[] = ['fbc', 'gclid', 'gbraid', 'wbraid', 'ttclid', 'msclkid', 'liFatId', 'scCid', 'epik', 'rdtCid', 'twclid'];

/** What each weakness code means, as the quality report prints it. */
export const WEAK_REASONS: Record<string, string> = {
  no_click_unseen: 'no click ID: visitor never seen (no visitor ID on the order)',
  no_click: 'no click ID: the visitor came without an ad click (or it expired)',
  no_em: 'no e-mail',
  no_ph: 'no phone',
  no_ip: 'no IP address',
  no_ua: 'no user agent',
  no_url: 'website event without event_source_url',
  no_name: 'no first + last name',
  no_xid: 'no external ID',
  fbc_bad: 'fbc malformed (not fb.N.<ms>.<fbclid>): not counted',
  meta_weak_combo: 'only a combination Meta refuses (address / date of birth / gender + user agent)',
  click_old: 'click older than 7 days at the conversion',
  consent_limited: 'consent: analytics only, identifiers withheld',
};

/**
 * Meta's score, out of 10 like Event Match Quality. Meta publishes no weights: it names em, client_ip_address,
 * fn + ln and ph "high quality" (conversions-api/best-practices), and its Dataset Quality API reports per key the
 * `potential_aly_acr_increase` of sending it; the documented Purchase example gives e-mail +58.96 % and IP +20.65 %
 * (dataset-quality-api, read 2026-12 through a copy of the page). The weights follow that order; IP is set to
 * e-mail × 20.65 / 58.96 ≈ 0.35 × 3 ≈ 1.05 → 1, the rest are ours (quality-backfill.md A4). Cap 10.
 * `calibrateMetaWeights` rescales them to an account's own figures when its Dataset Quality API answers.
 */
export const META_WEIGHTS: Record<string, number> = { em: 3, ph: 2, ip: 1, fbc: 1.5, xid: 1, fbp: 0.5, ua: 0.5, name: 0.5, ct: 0.25, st: 0.25, zp: 0.25, country: 0.25 };

/**
 * Coverage scores of the other platforms, out of 10: a weighted share of the keys each one matches on.
 * - TikTok: Events Manager's EMQ is "a weighted average of all your match key coverages" over email, phone,
 *   external_id, ttclid, ttp, IP and UA (help article "monitor and diagnose"); its weights are not published.
 * - Google Ads: an upload matches on the click ID; e-mail and phone (enhanced conversions) help when there is none.
 * - GA4: the client ID ties the event to a session (a synthetic one, derived from an order, ties it to nothing).
 * - Any other destination: a generic identifier coverage.
 */
export const COVERAGE_WEIGHTS: Record<string, Record<string, number>> = {
  tiktok: { em: 2, ttclid: 2, ph: 1.5, ttp: 1.5, xid: 1, ip: 1, ua: 1 },
  'google-ads': { click: 6, em: 2.5, ph: 1.5 },
  ga4: { cid: 4, xid: 2, em: 2, ph: 1, fn: 0.5, ip: 0.5 },
  default: { em: 3, ph: 2, click: 2, xid: 1, ip: 1, ua: 1 },
};

const SEVEN_DAYS_S = 7 * 24 * 3600;
/** fb.{subdomainIndex}.{creationTime ms}.{fbclid} (conversions-api/parameters/fbp-and-fbc); a 5th part is Meta's parameter builder. */
const FBC = /^fb\.[0-2]\.\d{13}\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)?$/;
const ADDRESS_ONLY = new Set(['ct', 'st', 'zp', 'country', 'db', 'ge', 'ua']);

export function canonicalKey(signal: string): string {
  return CANONICAL[signal] ?? signal;
}

/** The match record of one conversion at one destination, from the Conversion and what `signals()` says was sent. */
export function matchRecord(destination: string, c: Conversion, signals: readonly string[], weights?: Record<string, number>): MatchRecord {
  let keys = [...new Set(signals.map(canonicalKey))].filter((k) => k !== 'orderId' && k !== 'transactionId' && k !== 'lead_id');
  // GA4's synthetic client ID (derived from an order) identifies nobody: recorded as `cid~`, scored as absent.
  keys = keys.map((k) => (k.startsWith('client_id_from_') ? 'cid~' : k));
  const has = new Set(keys);
  const weak: string[] = [];
  if (has.has('fbc') && c.clicks.fbc && !FBC.test(c.clicks.fbc.value)) {
    has.delete('fbc');
    weak.push('fbc_bad');
  }
  const click = CLICK_ID_KEYS.find((k) => has.has(k));
  const captured = click ? c.clicks[click]?.capturedAt : undefined;
  const age = captured !== undefined ? Math.max(0, Math.round((Date.parse(c.occurredAt) - captured) / 1000)) : undefined;
  const tier = consentTier(c.consent).tier;

  // GA4 takes no ad click IDs: nothing to miss there.
  if (destination !== 'ga4') {
    if (!click) weak.push(c.visitorId ? 'no_click' : 'no_click_unseen');
    else if (age !== undefined && age > SEVEN_DAYS_S) weak.push('click_old');
  }
  if (!has.has('em')) weak.push('no_em');
  if (tier !== 'marketing') weak.push('consent_limited');

  let score: number;
  if (destination === 'meta') {
    if (!has.has('ph')) weak.push('no_ph');
    if (!has.has('ip')) weak.push('no_ip');
    if (!has.has('xid')) weak.push('no_xid');
    if (!(has.has('fn') && has.has('ln'))) weak.push('no_name');
    const website = c.actionSource === 'website';
    if (website && !has.has('ua')) weak.push('no_ua');
    if (website && !c.eventSourceUrl) weak.push('no_url');
    // Meta refuses events whose only keys are address parts, date of birth or gender (with the user agent), and fn/ln + gender alone.
    const present = metaKeys(has);
    if (present.length > 0 && present.every((k) => ADDRESS_ONLY.has(k) || k === 'name')) weak.push('meta_weak_combo');
    score = metaScore({ k: keys.join(' '), w: weak }, weights);
  } else {
    const w = COVERAGE_WEIGHTS[destination] ?? COVERAGE_WEIGHTS.default;
    if (destination !== 'google-ads' && !has.has('ip')) weak.push('no_ip');
    if (destination === 'tiktok' && !has.has('ph')) weak.push('no_ph');
    score = Object.entries(w).reduce((s, [k, v]) => s + (k === 'click' ? (click ? v : 0) : has.has(k) ? v : 0), 0);
  }

  const record: MatchRecord = { k: keys.join(' '), t: tier === 'marketing' ? 'm' : tier === 'analytics' ? 'a' : 'n', s: Math.round(Math.min(10, score) * 10) / 10 };
  if (click) record.c = click;
  if (age !== undefined) record.a = age;
  if (weak.length) record.w = weak;
  return record;
}

/** The keys Meta's score weighs: fn + ln count once, as `name`. */
function metaKeys(has: ReadonlySet<string>): string[] {
  const present = [...has].filter((k) => k !== 'fn' && k !== 'ln');
  if (has.has('fn') && has.has('ln')) present.push('name');
  return present;
}

/** Why Meta would refuse or ignore the event whatever its keys (score 0): the `WEAK_REASONS` codes that gate. */
const META_GATES = ['meta_weak_combo', 'no_ua', 'no_url'];

/**
 * The Meta score of a match record under some weights (default: `META_WEIGHTS`, which gives back the record's own
 * `s`). The record holds all it needs: the keys sent (`k`), and in `w` the gates (a refused key combination, a
 * website event without user agent or URL) and a malformed fbc, which counts as absent. So the report can rescore
 * stored events with the weights `calibrateMetaWeights` derives from an account's Dataset Quality figures.
 */
export function metaScore(record: Pick<MatchRecord, 'k' | 'w'>, weights: Record<string, number> = META_WEIGHTS): number {
  const weak = new Set(record.w ?? []);
  if (META_GATES.some((g) => weak.has(g))) return 0;
  const has = new Set(record.k.split(' ').filter(Boolean));
  if (weak.has('fbc_bad')) has.delete('fbc');
  const score = metaKeys(has).reduce((s, k) => s + (weights[k] ?? 0), 0);
  return Math.round(Math.min(10, score) * 10) / 10;
}

/** Meta's Dataset Quality `match_key_feedback[].identifier` → our short key (names as in Meta's examples). */
export const META_IDENTIFIER_KEYS: Record<string, string> = {
  email: 'em', phone: 'ph', ip_address: 'ip', user_agent: 'ua', external_id: 'xid', fbc: 'fbc', click_id: 'fbc', fbp: 'fbp', browser_id: 'fbp',
  first_name: 'name', last_name: 'name', city: 'ct', state: 'st', zip: 'zp', zip_code: 'zp', country: 'country',
};

/**
 * The Meta weights rescaled to an account's own Dataset Quality figures: a key Meta reports an uplift for weighs
 * `3 × uplift / e-mail's uplift` (e-mail stays the anchor at 3); keys Meta says nothing about keep their defaults.
 */
export function calibrateMetaWeights(feedback: readonly { identifier: string; upliftPercent?: number }[]): Record<string, number> {
  const out = { ...META_WEIGHTS };
  const email = feedback.find((f) => META_IDENTIFIER_KEYS[f.identifier] === 'em')?.upliftPercent;
  if (!email || email <= 0) return out;
  for (const f of feedback) {
    const key = META_IDENTIFIER_KEYS[f.identifier];
    if (key && key !== 'em' && f.upliftPercent !== undefined && f.upliftPercent >= 0) out[key] = Math.round((3 * f.upliftPercent) / email * 100) / 100;
  }
  return out;
}
