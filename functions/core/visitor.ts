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
