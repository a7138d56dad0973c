import { CLICK_KEYS, type Clicks } from '#core/conversion.ts';
import { VISITOR_TTL_DAYS } from '#core/names.ts';
import type { Visitor } from '#core/visitor.ts';

/** The visitors table's keys and item reading, shared by its two adapters (collect's and ingest's); no AWS SDK here. */
export const visitorKey = (id: string) => ({ pk: `V#${id}` });
export const emailKey = (hash: string) => ({ pk: `E#${hash}` });
export const phoneKey = (hash: string) => ({ pk: `P#${hash}` });
export const ttlFrom = (nowMs: number) => Math.floor(nowMs / 1000) + VISITOR_TTL_DAYS * 86400;

/**
 * A link's visitor ID while more than LINK_REFRESH_DAYS of its life remain; past that, undefined, so the next
 * conversion rewrites it (a link of a customer who keeps buying never lapses, and is written about once a month).
 */
const LINK_REFRESH_DAYS = 30;
export function freshLink(item: Record<string, unknown> | undefined): string | undefined {
  if (typeof item?.visitorId !== 'string') return undefined;
  const ttl = typeof item.ttl === 'number' ? item.ttl : 0;
  return ttl * 1000 - Date.now() > LINK_REFRESH_DAYS * 86400_000 ? item.visitorId : undefined;
}

/** DynamoDB deletes expired items lazily (and dynalite never does): an expired item counts as absent. */
export function live(item: Record<string, unknown>): boolean {
  return typeof item.ttl !== 'number' || item.ttl * 1000 > Date.now();
}

export function toVisitor(item: Record<string, any>): Visitor {
  const clicks: Clicks = {};
  for (const key of CLICK_KEYS) if (item[`click_${key}`]) clicks[key] = item[`click_${key}`];
  return {
    visitorId: String(item.pk).slice(2),
    clicks,
    clickHistory: item.clickHistory,
    ip: item.ip,
    userAgent: item.userAgent,
    landingUrl: item.landingUrl,
    referrer: item.referrer,
    consent: item.consent,
    utm: item.utm,
    firstSeenAt: item.firstSeenAt,
    lastSeenAt: item.lastSeenAt,
  };
}
