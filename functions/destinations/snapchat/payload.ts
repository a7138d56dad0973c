import { consentTier } from '#core/consent.ts';
import type { Conversion } from '#core/conversion.ts';
import { eventTimeSeconds, hashedUserData, orderCustomData } from '#destinations/event-fields.ts';

/**
 * Snapchat Conversions API v3 event (`POST /v3/{pixel_id}/events`; field names from Snap's own SDK,
 * github Snapchat/business-sdk-v3-java `api/openapi.yaml` CapiEvent, and developers.snap.com → Conversions API →
 * Using the API; platforms-more.md §3):
 * - `event_time` in Unix **seconds** (10 digits): Snap's docs and SDK examples; Segment sent ms and had to fix it
 *   (segmentio/action-destinations#3959);
 * - `user_data.em` / `ph` / `fn` / `ln` / `ct` / `st` / `zp` / `country` / `external_id`: arrays of SHA-256 hex; our
 *   `email` (trim + lowercase) and `phone` (digits with country code, no '+') are Snap's forms;
 * - `client_ip_address`, `client_user_agent`, `sc_click_id` (the `ScCid` landing parameter), `sc_cookie1` (the pixel's
 *   `_scid` cookie) in clear;
 * - `action_source` `WEB` / `OFFLINE` (Snap's own GTM tag spelling; the canonical case is not documented);
 * - `data_processing_options: ["LDU"]` when ad personalization was refused.
 */
export interface SnapchatEvent {
  event_name: string;
  event_time: number;
  event_id: string;
  action_source: 'WEB' | 'OFFLINE';
  event_source_url?: string;
  data_processing_options?: string[];
  user_data: Record<string, string | string[]>;
  custom_data?: Record<string, unknown>;
}

/** Snap's standard event names; anything else goes as CUSTOM_EVENT_1 (Snap has five custom slots). */
const EVENT_NAMES: Record<string, string> = {
  Purchase: 'PURCHASE',
  Lead: 'SIGN_UP',
  CompleteRegistration: 'SIGN_UP',
  Subscribe: 'SUBSCRIBE',
  StartTrial: 'START_TRIAL',
  AddToCart: 'ADD_CART',
  InitiateCheckout: 'START_CHECKOUT',
  AddPaymentInfo: 'ADD_BILLING',
  ViewContent: 'VIEW_CONTENT',
  Search: 'SEARCH',
  PageView: 'PAGE_VIEW',
};

export function snapchatEventName(eventName: string): string {
  return EVENT_NAMES[eventName] ?? 'CUSTOM_EVENT_1';
}

export function snapchatUserData(c: Conversion): Record<string, string | string[]> {
  const data = hashedUserData(c);
  if (c.clicks.scCid) data.sc_click_id = c.clicks.scCid.value;
  if (c.clicks.scid) data.sc_cookie1 = c.clicks.scid.value;
  return data;
}

/** Snap matches on `em`, `ph`, a mobile ad ID or IP + user agent (Segment's snap-capi-v3 check). */
export function snapchatCanMatch(c: Conversion): boolean {
  return Boolean(c.user.email || c.user.phone || (c.user.ip && c.user.userAgent));
}

export function toSnapchatEvent(c: Conversion, now: Date): SnapchatEvent {
  const event: SnapchatEvent = {
    event_name: snapchatEventName(c.eventName),
    event_time: eventTimeSeconds(c, now),
    event_id: String(c.eventId),
    action_source: c.actionSource === 'website' ? 'WEB' : 'OFFLINE',
    user_data: snapchatUserData(c),
  };
  if (c.eventSourceUrl) event.event_source_url = c.eventSourceUrl;
  if (consentTier(c.consent).limitedDataUse) event.data_processing_options = ['LDU'];
  const custom = orderCustomData(c, (amount) => amount);
  if (Object.keys(custom).length) event.custom_data = custom;
  return event;
}
