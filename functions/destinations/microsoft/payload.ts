import type { Conversion } from '#core/conversion.ts';
import { eventTimeSeconds, snakeCaseName } from '#destinations/event-fields.ts';

/**
 * Microsoft Advertising UET Conversions API event (`POST https://capi.uet.microsoft.com/v1/{tagId}/events`;
 * learn.microsoft.com/en-us/advertising/guides/uet-conversion-api-integration, MicrosoftDocs/Advertising@a21125d;
 * platforms-more.md §5):
 * - `eventType: "custom"` (a conversion, not a page view), `eventName` = the event action the UET tag's custom-event
 *   goal matches (`uetq.push('event', 'purchase', …)`), `eventId` = the Conversion's event ID: same tag + eventId +
 *   eventName as the UET JavaScript tag deduplicates;
 * - `eventTime` in Unix **seconds**, within the last 7 days;
 * - `userData.em`: SHA-256 of Microsoft's e-mail form (dots and '+alias' dropped from every local part:
 *   `emailMicrosoft`, else the plain form when they agree); `ph`: SHA-256 of E.164 **with** '+' (`phoneE164`; a
 *   digits-only hash is a well-formed hash that never matches, so it is never sent in its place);
 *   `msclkid` (the landing's `msclkid` or UET's `_uetmsclkid` cookie), `anonymousId` (UET's `_uetvid` visitor cookie),
 *   `externalId` (our hashed customer / visitor ID), `clientIpAddress`, `clientUserAgent` in clear;
 * - `customData.value` a **number**, `currency`, `transactionId` (order ID), `items[{id, quantity, price, name}]`,
 *   `itemIds`, and `pageType: "purchase"` + `ecommTotalValue` for a purchase;
 * - `adStorageConsent: "G"`: only conversions with marketing consent are sent ("D" would bar every advertising use).
 */
export interface UetEvent {
  eventType: 'custom';
  eventId: string;
  eventName: string;
  eventTime: number;
  eventSourceUrl?: string;
  adStorageConsent: 'G';
  userData: Record<string, string>;
  customData?: Record<string, unknown>;
}

/** UET's own event actions (the custom-event goal page's list; GA4's names) for our conversion names. */
const EVENT_ACTIONS: Record<string, string> = {
  Purchase: 'purchase',
  Lead: 'generate_lead',
  CompleteRegistration: 'sign_up',
  AddToCart: 'add_to_cart',
  InitiateCheckout: 'begin_checkout',
  AddPaymentInfo: 'add_payment_info',
  ViewContent: 'view_item',
  Search: 'search',
  PageView: 'page_view',
};

/** The event action: the configured one (MICROSOFT_EVENT_NAMES), UET's standard one, else the name in UET's style. */
export function uetEventName(eventName: string, configured: Record<string, string> = {}): string {
  return configured[eventName] ?? EVENT_ACTIONS[eventName] ?? (snakeCaseName(eventName) || 'conversion');
}

/** The hashed e-mail in Microsoft's form (only stored when it differs from the plain form). */
export const microsoftEmail = (c: Conversion) => c.user.emailMicrosoft ?? c.user.email;

/** A GUID, as Microsoft's click IDs are ("must be a valid UUID"): 32 hex digits as the landing URL carries it, or dashed. */
const GUID = /^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/**
 * The click ID as captured (Stape's tag sends it so too), when it is a GUID: anything else could not be attributed and
 * could fail the whole event, which then would not reach Microsoft with its other identifiers either.
 */
export function msclkidOf(c: Conversion): string | undefined {
  const v = c.clicks.msclkid?.value;
  return v && GUID.test(v) ? v : undefined;
}

export function uetUserData(c: Conversion): Record<string, string> {
  const u = c.user;
  const data: Record<string, string> = {};
  const msclkid = msclkidOf(c);
  if (msclkid) data.msclkid = msclkid;
  const em = microsoftEmail(c);
  if (em) data.em = em;
  if (u.phoneE164) data.ph = u.phoneE164;
  if (c.clicks.uetvid) data.anonymousId = c.clicks.uetvid.value;
  if (u.externalId) data.externalId = u.externalId;
  if (u.ip) data.clientIpAddress = u.ip;
  if (u.userAgent) data.clientUserAgent = u.userAgent;
  return data;
}

/** userData needs at least one of anonymousId, externalId, em, ph, msclkid, idfa, gaid (IP and user agent do not count). */
export function uetCanMatch(c: Conversion): boolean {
  const d = uetUserData(c);
  return Boolean(d.msclkid || d.em || d.ph || d.anonymousId || d.externalId);
}

export function toUetEvent(c: Conversion, eventName: string, now: Date): UetEvent {
  const event: UetEvent = {
    eventType: 'custom',
    eventId: String(c.eventId),
    eventName,
    eventTime: eventTimeSeconds(c, now),
    adStorageConsent: 'G',
    userData: uetUserData(c),
  };
  if (c.eventSourceUrl) event.eventSourceUrl = c.eventSourceUrl;
  const custom: Record<string, unknown> = {};
  if (c.value !== undefined) custom.value = c.value;
  if (c.currency) custom.currency = c.currency;
  if (c.orderId) custom.transactionId = c.orderId;
  if (c.contents?.length) {
    custom.itemIds = c.contents.map((item) => item.id);
    custom.items = c.contents.map((item) => ({
      id: item.id,
      quantity: item.quantity ?? 1,
      ...(item.price !== undefined && { price: item.price }),
      ...(item.name && { name: item.name }),
    }));
  }
  if (eventName === 'purchase') {
    custom.pageType = 'purchase';
    if (c.value !== undefined) custom.ecommTotalValue = c.value;
  }
  if (Object.keys(custom).length) event.customData = custom;
  return event;
}
