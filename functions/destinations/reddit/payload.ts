import { consentTier } from '#core/consent.ts';
import type { Conversion } from '#core/conversion.ts';
import { eventTimeMs } from '#destinations/event-fields.ts';

/**
 * Reddit Conversions API v3 event (`POST /api/v3/pixels/{pixel_id}/conversion_events`, body `{data: {events}}`;
 * ads-api.reddit.com/docs/v3 as captured in segmentio/action-destinations `reddit-conversions-api/V3-API-REFERENCE.md`,
 * Reddit Business Help; platforms-more.md §4):
 * - `event_at`: Unix **milliseconds** (an integer in v3; v2 took ISO strings);
 * - `action_source`: upper case `WEBSITE` / `APP` / `PHYSICAL_STORE` / `OTHER` (`web` and `website` draw 400
 *   "invalid action_source"); `event_source_url` only for WEBSITE events;
 * - `type.tracking_type`: `PURCHASE`, `LEAD`, `SIGN_UP`, … or `CUSTOM` with `custom_event_name` (≤ 64 chars);
 * - `click_id`: the `rdt_cid` landing parameter (or the pixel's `_rdt_cid` cookie), in clear;
 * - `metadata.conversion_id`: the Conversion's event ID, which the Reddit Pixel sends as `conversionId` (dedup). Reddit
 *   takes it hashed or not; it goes in clear so that it equals what the pixel sends;
 * - `metadata.value` a number in major units with `currency`; neither for PAGE_VISIT / VIEW_CONTENT / SEARCH, no
 *   `item_count` for LEAD / SIGN_UP (Reddit's "about event metadata");
 * - `user.email`: SHA-256 of Reddit's own form (`emailReddit`, else our trim + lowercase hash when the two agree or the
 *   source sent a hash); `phone_number`: SHA-256 of E.164 with '+'; `external_id`: our SHA-256; `ip_address`,
 *   `user_agent` in clear (Reddit's examples; it takes hashed or clear); `uuid`: the pixel's `_rdt_uuid` cookie whole;
 * - `user.data_processing_options: {modes: ["LDU"]}` when ad personalization was refused (`opt_out` is deprecated).
 * Offline events carry no click ID or browser ID (Reddit: "offline events should send hashed email/phone but no device
 * identifiers, click ID, UUID").
 */
export interface RedditEvent {
  event_at: number;
  action_source: 'WEBSITE' | 'APP' | 'PHYSICAL_STORE' | 'OTHER';
  type: { tracking_type: string; custom_event_name?: string };
  event_source_url?: string;
  click_id?: string;
  metadata: { conversion_id: string; currency?: string; value?: number; item_count?: number; products?: RedditProduct[] };
  user: Record<string, string | { modes: string[] }>;
}

interface RedditProduct {
  id: string;
  name?: string;
  quantity?: number;
  item_price?: number;
}

/** Reddit's standard tracking types; anything else goes as CUSTOM under its own name. */
const TRACKING_TYPES: Record<string, string> = {
  Purchase: 'PURCHASE',
  Lead: 'LEAD',
  CompleteRegistration: 'SIGN_UP',
  AddToCart: 'ADD_TO_CART',
  AddToWishlist: 'ADD_TO_WISHLIST',
  ViewContent: 'VIEW_CONTENT',
  Search: 'SEARCH',
  PageView: 'PAGE_VISIT',
};
const WITHOUT_VALUE = new Set(['PAGE_VISIT', 'VIEW_CONTENT', 'SEARCH']);
const WITHOUT_ITEM_COUNT = new Set(['LEAD', 'SIGN_UP']);

export function redditEventType(eventName: string): RedditEvent['type'] {
  const standard = TRACKING_TYPES[eventName];
  return standard ? { tracking_type: standard } : { tracking_type: 'CUSTOM', custom_event_name: eventName.slice(0, 64) };
}

function actionSource(c: Conversion): RedditEvent['action_source'] {
  if (c.actionSource === 'website') return 'WEBSITE';
  if (c.actionSource === 'app') return 'APP';
  if (c.actionSource === 'physical_store') return 'PHYSICAL_STORE';
  return 'OTHER';
}

/** The match keys Reddit takes, under its names (`user.*`, plus the event's `click_id`). */
export function redditMatchKeys(c: Conversion): { click_id?: string; user: Record<string, string> } {
  const u = c.user;
  const user: Record<string, string> = {};
  const email = u.emailReddit ?? u.email;
  if (email) user.email = email;
  if (u.phoneE164) user.phone_number = u.phoneE164;
  if (u.externalId) user.external_id = u.externalId;
  if (u.ip) user.ip_address = u.ip;
  if (u.userAgent) user.user_agent = u.userAgent;
  if (c.actionSource !== 'website' && c.actionSource !== 'app') return { user };
  if (c.clicks.rdtUuid) user.uuid = c.clicks.rdtUuid.value;
  return c.clicks.rdtCid ? { click_id: c.clicks.rdtCid.value, user } : { user };
}

/** Reddit attributes on the click ID, the pixel's UUID, e-mail, phone, external ID or IP + user agent. */
export function redditCanMatch(c: Conversion): boolean {
  const { click_id, user } = redditMatchKeys(c);
  return Boolean(click_id || user.uuid || user.email || user.phone_number || user.external_id || (user.ip_address && user.user_agent));
}

export function toRedditEvent(c: Conversion, now: Date): RedditEvent {
  const type = redditEventType(c.eventName);
  const { click_id, user } = redditMatchKeys(c);
  const event: RedditEvent = {
    event_at: eventTimeMs(c, now),
    action_source: actionSource(c),
    type,
    metadata: { conversion_id: String(c.eventId) },
    user,
  };
  if (click_id) event.click_id = click_id;
  if (c.eventSourceUrl && event.action_source === 'WEBSITE') event.event_source_url = c.eventSourceUrl;
  if (!WITHOUT_VALUE.has(type.tracking_type)) {
    // "If passed, must also include" the other: value and currency go together or not at all.
    if (c.value !== undefined && c.currency) Object.assign(event.metadata, { value: c.value, currency: c.currency });
    if (!WITHOUT_ITEM_COUNT.has(type.tracking_type)) event.metadata.item_count = c.contents?.reduce((n, item) => n + (item.quantity ?? 1), 0) || 1;
  }
  if (c.contents?.length) {
    event.metadata.products = c.contents.map((item) => {
      const product: RedditProduct = { id: item.id, quantity: item.quantity ?? 1 };
      if (item.name) product.name = item.name;
      if (item.price !== undefined) product.item_price = item.price;
      return product;
    });
  }
  if (consentTier(c.consent).limitedDataUse) event.user.data_processing_options = { modes: ['LDU'] };
  return event;
}
