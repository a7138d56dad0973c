import { consentTier } from '#core/consent.ts';
import type { Conversion } from '#core/conversion.ts';

/**
 * TikTok Events API 2.0 event (`POST /open_api/v1.3/event/track/`, `event_source: web`), built by hand: TikTok's
 * SDK wraps only the sunset Events 1.0 endpoints. Field rules (platforms.md §2; TikTok's own server-side GTM tag,
 * github tiktok/gtm-template-eapi):
 * - `event_time` in Unix seconds, never in the future;
 * - `event_id` is the Conversion's event ID, the one the TikTok pixel sends, so TikTok keeps one of the two
 *   (dedup key: pixel + event + event_id, 48 h);
 * - `user.email` = SHA-256 of the trimmed, lowercased address; `user.phone` = SHA-256 of E.164 *with* '+'
 *   (Conversion `phoneE164`, not Meta's digits-only `phone`); `user.external_id` = SHA-256, case kept;
 *   `ttclid`, `ttp`, IP and user agent in clear.
 */
export interface TikTokEvent {
  event: string;
  event_time: number;
  event_id: string;
  user: Record<string, string>;
  properties?: Record<string, unknown>;
  page?: { url: string };
  limited_data_use: boolean;
}

/**
 * TikTok's standard event names. In May 2025 TikTok renamed CompletePayment → Purchase and SubmitForm → Lead
 * ("legacy names are auto-converted on the backend", ads.tiktok.com/help/article/how-to-adopt-tiktoks-updated-standard-events),
 * so the current names are used; a pixel still firing the legacy names is deduplicated against them. Names already
 * standard (CompleteRegistration, StartTrial, Subscribe, …) pass through; anything else goes as a custom event.
 */
const EVENT_NAMES: Record<string, string> = {
  Purchase: 'Purchase',
  CompletePayment: 'Purchase',
  Lead: 'Lead',
  SubmitForm: 'Lead',
};

export function tiktokEventName(eventName: string): string {
  return EVENT_NAMES[eventName] ?? eventName;
}

/** Identifiers sent under TikTok's keys; which of them a conversion carries is what `signals` reports. */
export function tiktokUser(c: Conversion): Record<string, string> {
  const user: Record<string, string> = {};
  if (c.user.email) user.email = c.user.email;
  // Only the E.164-with-'+' hash matches TikTok's normalization; a phone that arrived pre-hashed has no such variant.
  if (c.user.phoneE164) user.phone = c.user.phoneE164;
  if (c.user.externalId) user.external_id = c.user.externalId;
  if (c.clicks.ttclid) user.ttclid = c.clicks.ttclid.value;
  if (c.clicks.ttp) user.ttp = c.clicks.ttp.value;
  if (c.user.ip) user.ip = c.user.ip;
  if (c.user.userAgent) user.user_agent = c.user.userAgent;
  return user;
}

export function toTikTokEvent(c: Conversion, now: Date): TikTokEvent {
  const occurred = Math.floor(Date.parse(c.occurredAt) / 1000);
  const event: TikTokEvent = {
    event: tiktokEventName(c.eventName),
    // A clock a little ahead must not put the event in TikTok's future.
    event_time: Math.min(occurred, Math.floor(now.getTime() / 1000)),
    // Always a string: a numeric-looking event_id sent as a number is refused with 40002 (stape-io/tiktok-tag #10).
    event_id: String(c.eventId),
    user: tiktokUser(c),
    // Limited Data Use (US state privacy laws): on when the visitor refused ad personalization (sale/sharing).
    limited_data_use: consentTier(c.consent).limitedDataUse,
  };
  if (c.eventSourceUrl) event.page = { url: c.eventSourceUrl };
  const properties: Record<string, unknown> = {};
  if (c.value !== undefined) properties.value = c.value;
  if (c.currency) properties.currency = c.currency;
  if (c.orderId) properties.order_id = c.orderId;
  if (c.contents?.length) {
    properties.content_type = 'product';
    properties.contents = c.contents.map((item) => {
      const content: Record<string, unknown> = { content_id: item.id, content_type: 'product', quantity: item.quantity ?? 1 };
      if (item.price !== undefined) content.price = item.price;
      if (item.name) content.content_name = item.name;
      return content;
    });
  }
  if (Object.keys(properties).length) event.properties = properties;
  return event;
}
