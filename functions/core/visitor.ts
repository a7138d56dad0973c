import type { Clicks, Consent } from './conversion.ts';

/** What /collect stores about a visitor (no personal data: click IDs, browser signals, consent). */
export interface Visitor {
  visitorId: string;
  clicks: Clicks;
  ip?: string;
  userAgent?: string;
  landingUrl?: string;
  referrer?: string;
  consent?: Consent;
  utm?: Record<string, string>;
  firstSeenAt: number;
  lastSeenAt: number;
}

/** Ports the ingest pipeline needs from storage; DynamoDB implements them in store/, tests use in-memory ones. */
export interface VisitorLookup {
  /** By visitor ID first; failing that, through a hashed e-mail linked to a visitor earlier. */
  find(keys: { visitorId?: string; emailHash?: string }): Promise<Visitor | undefined>;
  linkEmail(emailHash: string, visitorId: string): Promise<void>;
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
