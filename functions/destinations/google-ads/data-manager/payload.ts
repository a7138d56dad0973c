import { consentTier } from '#core/consent.ts';
import type { Conversion } from '#core/conversion.ts';
import { clickIdOf } from '../payload.ts';

/**
 * Data Manager API `events:ingest` body for Google Ads offline click conversions (and their adjustments), built by
 * hand from the Conversion. Field names and rules, checked against Google's pages in 2026-12 (see README "Google Ads"):
 * - endpoint `POST https://datamanager.googleapis.com/v1/events:ingest`, REST JSON in lowerCamelCase, enums as strings;
 * - `destinations[]`: `operatingAccount {accountType: GOOGLE_ADS, accountId}` = the account owning the conversion
 *   action, `loginAccount` = the manager account when access goes through one, `productDestinationId` = the numeric
 *   conversion action ID (devguides/concepts/destinations, events/google-ads/offline/upgrade);
 * - at most 2,000 events and 10 user identifiers per event (devguides/limits);
 * - `encoding: HEX` declared once for every hashed `userData` value (SHA-256, lowercase hex; concepts/formatting);
 * - `eventTimestamp` RFC 3339; `eventSource` required for offline conversions (release notes v1.2);
 * - `consent.adUserData` / `adPersonalization`: CONSENT_GRANTED / CONSENT_DENIED;
 * - an adjustment is the same event again: same `transactionId`, destination and conversion action, the new
 *   `conversionValue` (events/google-ads/conversion-adjustments). There is no retraction.
 */
export interface DataManagerEvent {
  destinationReferences?: string[];
  transactionId: string;
  eventTimestamp: string;
  eventSource: 'WEB' | 'APP' | 'IN_STORE' | 'PHONE' | 'MESSAGE' | 'OTHER';
  conversionValue?: number;
  currency?: string;
  adIdentifiers?: { gclid?: string; gbraid?: string; wbraid?: string; landingPageDeviceInfo?: DeviceInfo };
  eventDeviceInfo?: DeviceInfo;
  userData?: { userIdentifiers: ({ emailAddress: string } | { phoneNumber: string })[] };
  consent: { adUserData: DmConsent; adPersonalization: DmConsent };
}

export interface DataManagerDestination {
  reference: string;
  operatingAccount: { accountType: 'GOOGLE_ADS'; accountId: string };
  loginAccount?: { accountType: 'GOOGLE_ADS'; accountId: string };
  productDestinationId: string;
}

interface DeviceInfo {
  userAgent?: string;
  ipAddress?: string;
}

type DmConsent = 'CONSENT_GRANTED' | 'CONSENT_DENIED';

/** devguides/limits: IngestEventsRequest takes at most 2,000 events and 10 user identifiers per event. */
export const MAX_EVENTS = 2000;
export const MAX_USER_IDENTIFIERS = 10;

const EVENT_SOURCE: Record<Conversion['actionSource'], DataManagerEvent['eventSource']> = {
  website: 'WEB',
  app: 'APP',
  physical_store: 'IN_STORE',
  phone_call: 'PHONE',
  chat: 'MESSAGE',
  email: 'OTHER',
  crm: 'OTHER',
  system_generated: 'OTHER',
  other: 'OTHER',
};

/**
 * Google: "IP address matching isn't available for users in the EEA, UK and Switzerland" (device_info.proto): their
 * IP is left out when the address says where they live.
 */
const NO_IP_MATCHING = new Set(
  'at be bg hr cy cz dk ee fi fr de gr hu ie it lv lt lu mt nl pl pt ro sk si es se is li no gb ch'.split(' '),
);

/**
 * The transaction ID: the order ID (or, without one, the deterministic event ID), the key Google de-duplicates and
 * adjusts on. A purely numeric ID is prefixed: reported to be refused by the live API although validateOnly accepts
 * it (third-party report, superdesigndev/treg#151 — unverified in Google's docs); the prefix is stable, so a refund
 * finds the same transaction.
 */
export function transactionIdOf(id: string): string {
  return /^\d+$/.test(id) ? `order-${id}` : id;
}

/** The e-mail hash in the Data Manager form (gmail dots and +tag dropped), falling back to Google's, then the plain one. */
function emailOf(c: Conversion): string | undefined {
  return c.user.emailDataManager ?? c.user.emailGoogle ?? c.user.email;
}

/** Hashed e-mail and E.164 phone (both SHA-256 hex), only with ad_user_data consent. */
export function dataManagerIdentifiers(c: Conversion): NonNullable<DataManagerEvent['userData']>['userIdentifiers'] {
  if (consentTier(c.consent).google.adUserData !== 'GRANTED') return [];
  const ids: NonNullable<DataManagerEvent['userData']>['userIdentifiers'] = [];
  const email = emailOf(c);
  if (email) ids.push({ emailAddress: email });
  if (c.user.phoneE164) ids.push({ phoneNumber: c.user.phoneE164 });
  return ids.slice(0, MAX_USER_IDENTIFIERS);
}

/** The visitor's browser (captured with the click on the landing page), with ad_user_data consent; no EEA/UK/CH IP. */
function deviceOf(c: Conversion): DeviceInfo | undefined {
  if (consentTier(c.consent).google.adUserData !== 'GRANTED') return undefined;
  const ip = c.user.ip && !(c.user.countryCode && NO_IP_MATCHING.has(c.user.countryCode)) ? c.user.ip : undefined;
  const info: DeviceInfo = { ...(c.user.userAgent && { userAgent: c.user.userAgent }), ...(ip && { ipAddress: ip }) };
  return Object.keys(info).length ? info : undefined;
}

export interface EventContext {
  /** The destination reference for a conversion name, or undefined when no conversion action is configured. */
  referenceFor(eventName: string): string | undefined;
}

/**
 * A conversion, or an adjustment of one: a refund restates the original's value to what is left (0 for a full
 * refund, which the Data Manager API cannot retract) under the original's transaction ID, carrying the identifiers
 * the refund has (Google requires at least one; they are used if the original cannot be matched).
 */
export function toDataManagerEvent(c: Conversion, ctx: EventContext): DataManagerEvent {
  const adj = c.adjustment;
  const name = adj ? (adj.originalEventName ?? 'Purchase') : c.eventName;
  const click = clickIdOf(c);
  // Never dated before the landing that carried the click (the conversion must not precede it), whole seconds.
  const occurred = Math.max(Date.parse(c.occurredAt), click ? Math.floor(c.clicks[click.key]!.capturedAt / 1000) * 1000 : 0);
  const { google } = consentTier(c.consent);
  const event: DataManagerEvent = {
    destinationReferences: [ctx.referenceFor(name) ?? `<no conversion action for ${name}>`],
    transactionId: transactionIdOf(adj ? adj.originalOrderId : (c.orderId ?? c.eventId)),
    eventTimestamp: new Date(occurred).toISOString().replace('.000Z', 'Z'),
    eventSource: EVENT_SOURCE[c.actionSource],
    consent: { adUserData: `CONSENT_${google.adUserData}`, adPersonalization: `CONSENT_${google.adPersonalization}` },
  };
  const value = adj ? (adj.full ? 0 : adj.remainingValue) : c.value;
  if (value !== undefined) event.conversionValue = value;
  if (c.currency) event.currency = c.currency;
  const device = deviceOf(c);
  if (click) event.adIdentifiers = { [click.key]: click.value, ...(device && { landingPageDeviceInfo: device }) };
  if (device) event.eventDeviceInfo = device;
  const ids = dataManagerIdentifiers(c);
  if (ids.length) event.userData = { userIdentifiers: ids };
  return event;
}

/** Which signals an event carries (for the ledger), in the Data Manager API's own field names. */
export function dataManagerSignals(c: Conversion): string[] {
  const event = toDataManagerEvent(c, { referenceFor: () => 'x' });
  const signals: string[] = [];
  const click = clickIdOf(c);
  if (click) signals.push(click.key);
  for (const id of event.userData?.userIdentifiers ?? []) signals.push('emailAddress' in id ? 'emailAddress' : 'phoneNumber');
  if (event.eventDeviceInfo?.ipAddress) signals.push('ipAddress');
  if (event.eventDeviceInfo?.userAgent) signals.push('userAgent');
  signals.push('transactionId');
  return signals;
}
