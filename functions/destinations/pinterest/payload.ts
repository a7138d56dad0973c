import { consentTier } from '#core/consent.ts';
import type { Conversion } from '#core/conversion.ts';
import { decimalString, eventTimeSeconds, hashedUserData, orderCustomData } from '#destinations/event-fields.ts';

/**
 * Pinterest Conversions API v5 event (`POST /v5/ad_accounts/{id}/events`, OpenAPI `pinterest/api-description`
 * v5/openapi.json, op `events/create`; platforms-more.md §2). `additionalProperties: false` on the event and on
 * `custom_data`, so only documented keys are sent:
 * - `event_time` in Unix **seconds**; `event_id` = the Conversion's event ID, the one the Pinterest tag sends (dedup);
 * - `user_data.em` / `ph` / `fn` / `ln` / `ct` / `st` / `zp` / `country` / `external_id`: arrays of SHA-256 hex. Our
 *   `email` (trim + lowercase) and `phone` (digits with country code, no '+', no leading zero) are exactly Pinterest's
 *   normalizations; names and address parts follow Meta's rules, which are Pinterest's (lowercase, no spaces or
 *   punctuation, 2-letter state/country, digits-only zip);
 * - `client_ip_address`, `client_user_agent`, `click_id` (`epik` URL parameter or `_epik` cookie) in clear;
 * - `custom_data.value` is a **string** ("49.99").
 */
export interface PinterestEvent {
  event_name: string;
  action_source: 'web' | 'offline';
  event_time: number;
  event_id: string;
  event_source_url?: string;
  opt_out?: boolean;
  user_data: Record<string, string | string[]>;
  custom_data?: Record<string, unknown>;
}

/** Pinterest's standard event names (the spec's enum); anything else goes as `custom`. */
const EVENT_NAMES: Record<string, string> = {
  Purchase: 'checkout',
  Lead: 'lead',
  CompleteRegistration: 'signup',
  Subscribe: 'subscribe',
  AddToCart: 'add_to_cart',
  InitiateCheckout: 'initiate_checkout',
  AddPaymentInfo: 'add_payment_info',
  ViewContent: 'view_content',
  Search: 'search',
  PageView: 'page_visit',
};

export function pinterestEventName(eventName: string): string {
  return EVENT_NAMES[eventName] ?? 'custom';
}

export function pinterestUserData(c: Conversion): Record<string, string | string[]> {
  const data = hashedUserData(c);
  if (c.clicks.epik) data.click_id = c.clicks.epik.value;
  return data;
}

/** Pinterest needs `em`, hashed MAIDs or IP + user agent (a phone alone is refused: segmentio/action-destinations#3820). */
export function pinterestCanMatch(c: Conversion): boolean {
  return Boolean(c.user.email || (c.user.ip && c.user.userAgent));
}

export function toPinterestEvent(c: Conversion, now: Date): PinterestEvent {
  const event: PinterestEvent = {
    event_name: pinterestEventName(c.eventName),
    action_source: c.actionSource === 'website' ? 'web' : 'offline',
    event_time: eventTimeSeconds(c, now),
    event_id: String(c.eventId),
    user_data: pinterestUserData(c),
  };
  if (c.eventSourceUrl) event.event_source_url = c.eventSourceUrl;
  const custom = orderCustomData(c, decimalString);
  // Limited data processing (US state privacy laws) when ad personalization was refused.
  if (consentTier(c.consent).limitedDataUse) custom.opt_out_type = 'LDP';
  if (Object.keys(custom).length) event.custom_data = custom;
  return event;
}
