import { BROWSER_ID_KEYS } from './click-sources.ts';
import { CLICK_KEYS, type ClickKey, type Clicks, type Consent } from './conversion.ts';

/** One ad click as it was captured: which platform's ID, when, and from which browser (IP and user agent). */
export interface ClickRecord {
  key: ClickKey;
  value: string;
  capturedAt: number;
  ip?: string;
  userAgent?: string;
}

/** What /collect stores about a visitor (no personal data: click IDs, browser signals, consent). */
export interface Visitor {
  visitorId: string;
  /** The newest value per platform: what a conversion carries. */
  clicks: Clicks;
  /** Every ad click seen for this visitor, oldest first (at most MAX_CLICK_HISTORY). */
  clickHistory?: ClickRecord[];
  ip?: string;
  userAgent?: string;
  landingUrl?: string;
  referrer?: string;
  consent?: Consent;
  utm?: Record<string, string>;
  firstSeenAt: number;
  lastSeenAt: number;
  /**
   * Set by a lookup: the visitor IDs the looked-up e-mail / phone hashes already point at (links with most of their
   * lifetime left). Ingest rewrites a link only when it is missing, points elsewhere or is near expiry: a repeat
   * customer's conversion then writes no link (each rewrite is a DynamoDB write unit and a round trip).
   */
  links?: { email?: string; phone?: string };
}

/** The port the ingest pipeline reads visitors through (links are written with the conversion: IngestPorts.enqueue); DynamoDB implements them in store/, tests use in-memory ones. */
export interface VisitorLookup {
  /** By visitor ID first; failing that, through a hashed e-mail, then a hashed phone, linked to a visitor earlier. */
  find(keys: { visitorId?: string; emailHash?: string; phoneHash?: string }): Promise<Visitor | undefined>;
}

/** Visitor IDs are issued by /collect (UUIDs) but may arrive back from anywhere: accept only a safe shape. */
export const VISITOR_ID_PATTERN = /^[A-Za-z0-9_-]{8,128}$/;
export const isVisitorId = (v: unknown): v is string => typeof v === 'string' && VISITOR_ID_PATTERN.test(v);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const COMPACT_UUID = /^[0-9a-f]{32}$/i;

/**
 * A visitor ID as it comes back from a system that may have reshaped it: ClickBank's tracking ID allows only letters,
 * digits and underscores and may upper-case them, so a /collect UUID travels there without its hyphens
 * (`compactVisitorId`). A UUID, hyphenated or not, in any case, becomes the lower-case hyphenated form /collect
 * issued; any other safe visitor ID is returned unchanged; anything else is undefined.
 */
export function readVisitorId(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const s = raw.trim();
  if (COMPACT_UUID.test(s)) {
    const h = s.toLowerCase();
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  if (UUID.test(s)) return s.toLowerCase();
  return isVisitorId(s) ? s : undefined;
}

/** The visitor ID with a UUID's hyphens removed: 32 characters of [0-9a-f], safe in a ClickBank tracking ID. */
export function compactVisitorId(visitorId: string): string {
  return UUID.test(visitorId) ? visitorId.replaceAll('-', '').toLowerCase() : visitorId;
}

/** Enough for any real visitor (a click a day for the 90 days kept, several platforms); bounds a bot's item. */
export const MAX_CLICK_HISTORY = 50;

/**
 * Folds what one request saw into what was stored. Per platform the newest value wins; the same value seen again
 * keeps its first capture time (the click time, which the platforms' attribution windows count from). Every
 * ad click value not yet in the history is appended with the IP and user agent of the request.
 */
export function mergeClicks(
  stored: { clicks: Clicks; clickHistory?: ClickRecord[] },
  seen: Clicks,
  browser: { ip?: string; userAgent?: string },
): { clicks: Clicks; clickHistory: ClickRecord[] } {
  const clicks: Clicks = { ...stored.clicks };
  const history = [...(stored.clickHistory ?? [])];
  for (const key of CLICK_KEYS) {
    const now = seen[key];
    if (!now) continue;
    const before = clicks[key];
    if (before?.value === now.value) clicks[key] = { value: now.value, capturedAt: Math.min(before.capturedAt, now.capturedAt) };
    else if (!before || now.capturedAt >= before.capturedAt) clicks[key] = now;
    if (!BROWSER_ID_KEYS.includes(key) && !history.some((h) => h.key === key && h.value === now.value)) {
      history.push({ key, value: now.value, capturedAt: now.capturedAt, ...browser });
    }
  }
  history.sort((a, b) => a.capturedAt - b.capturedAt);
  return { clicks, clickHistory: history.slice(-MAX_CLICK_HISTORY) };
}
