import { consentTier } from '#core/consent.ts';
import type { Conversion } from '#core/conversion.ts';

/**
 * Google Ads API (REST, proto JSON names in lowerCamelCase) click conversions and conversion adjustments, built by
 * hand from the Conversion. Field rules (platforms.md §3; reference/rpc/v26 ClickConversion, ConversionAdjustment,
 * UserIdentifier):
 * - exactly one click ID per conversion: gclid, gbraid or wbraid (never hashed);
 * - `conversionDateTime` / `adjustmentDateTime` as "yyyy-mm-dd hh:mm:ss+|-hh:mm" in the account's time zone;
 * - `userIdentifiers`: at most 5, one identifier each; only `hashedEmail` and `hashedPhoneNumber` are accepted by
 *   the conversion upload service (`addressInfo` only by Customer Match, Store Sales and enhancement adjustments);
 * - `consent.adUserData` / `adPersonalization`: GRANTED or DENIED.
 */
export interface GoogleClickConversion {
  gclid?: string;
  gbraid?: string;
  wbraid?: string;
  conversionAction: string;
  conversionDateTime: string;
  conversionValue?: number;
  currencyCode?: string;
  orderId?: string;
  userIdentifiers?: GoogleUserIdentifier[];
  consent?: { adUserData?: ConsentStatus; adPersonalization?: ConsentStatus };
}

export type GoogleUserIdentifier = { userIdentifierSource: 'FIRST_PARTY' } & ({ hashedEmail: string } | { hashedPhoneNumber: string });

export interface GoogleConversionAdjustment {
  conversionAction: string;
  adjustmentType: 'RETRACTION' | 'RESTATEMENT';
  adjustmentDateTime: string;
  orderId: string;
  restatementValue?: { adjustedValue: number; currencyCode?: string };
}

type ConsentStatus = 'GRANTED' | 'DENIED';

/** Google's own limit (the ClickConversion doc): "The maximum number of user identifiers for each conversion is 5." */
const MAX_USER_IDENTIFIERS = 5;
/** Google keeps clicks for at most 90 days (the longest click-through window): an older click ID would be EXPIRED_EVENT. */
export const MAX_CLICK_AGE_MS = 90 * 24 * 3600_000;

const CLICK_ID_KEYS = ['gclid', 'gbraid', 'wbraid'] as const;
export type GoogleClickKey = (typeof CLICK_ID_KEYS)[number];

/**
 * The one click ID to send (Google refuses more than one: GBRAID_WBRAID_BOTH_SET and its siblings). gclid wins, as
 * the most precise; a click older than Google keeps is not sent (the user identifiers may still match).
 */
export function clickIdOf(c: Conversion): { key: GoogleClickKey; value: string } | undefined {
  const occurred = Date.parse(c.occurredAt);
  for (const key of CLICK_ID_KEYS) {
    const click = c.clicks[key];
    if (click && occurred - click.capturedAt <= MAX_CLICK_AGE_MS) return { key, value: click.value };
  }
  return undefined;
}

/**
 * Hashed e-mail (Google's form: gmail dots dropped, computed at ingestion when it differs) and E.164 phone, sent only
 * when the visitor allowed ad_user_data.
 */
export function googleUserIdentifiers(c: Conversion): GoogleUserIdentifier[] {
  if (consentTier(c.consent).google.adUserData !== 'GRANTED') return [];
  const ids: GoogleUserIdentifier[] = [];
  const email = c.user.emailGoogle ?? c.user.email;
  if (email) ids.push({ userIdentifierSource: 'FIRST_PARTY', hashedEmail: email });
  if (c.user.phoneE164) ids.push({ userIdentifierSource: 'FIRST_PARTY', hashedPhoneNumber: c.user.phoneE164 });
  return ids.slice(0, MAX_USER_IDENTIFIERS);
}

export interface PayloadContext {
  /** `customers/{id}/conversionActions/{actionId}` for a conversion's event name, or undefined. */
  actionFor(eventName: string): string | undefined;
  timeZone: string;
}

export function toClickConversion(c: Conversion, ctx: PayloadContext): GoogleClickConversion {
  const click = clickIdOf(c);
  // The conversion must not precede the click (CONVERSION_PRECEDES_EVENT), and payment providers report whole
  // seconds: never date it before the landing that carried the click (recorded after Google's own click time).
  const occurred = Math.max(Date.parse(c.occurredAt), click ? Math.floor(c.clicks[click.key]!.capturedAt / 1000) * 1000 : 0);
  const out: GoogleClickConversion = {
    conversionAction: ctx.actionFor(c.eventName) ?? `<no conversion action for ${c.eventName}>`,
    conversionDateTime: googleDateTime(occurred, ctx.timeZone),
  };
  if (click) out[click.key] = click.value;
  if (c.value !== undefined) out.conversionValue = c.value;
  if (c.currency) out.currencyCode = c.currency;
  if (c.orderId) out.orderId = c.orderId;
  const ids = googleUserIdentifiers(c);
  if (ids.length) out.userIdentifiers = ids;
  const { google } = consentTier(c.consent);
  out.consent = { adUserData: google.adUserData, adPersonalization: google.adPersonalization };
  return out;
}

/** A refund or chargeback: the whole order retracted, or restated to what is left of it. */
export function toConversionAdjustment(c: Conversion, ctx: PayloadContext): GoogleConversionAdjustment {
  const adj = c.adjustment!;
  const originalName = adj.originalEventName ?? 'Purchase';
  const out: GoogleConversionAdjustment = {
    conversionAction: ctx.actionFor(originalName) ?? `<no conversion action for ${originalName}>`,
    adjustmentType: adj.full ? 'RETRACTION' : 'RESTATEMENT',
    adjustmentDateTime: googleDateTime(Date.parse(c.occurredAt), ctx.timeZone),
    orderId: adj.originalOrderId,
  };
  if (!adj.full) {
    out.restatementValue = { adjustedValue: adj.remainingValue ?? 0 };
    if (c.currency) out.restatementValue.currencyCode = c.currency;
  }
  return out;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'longOffset',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Throws a RangeError for a zone Intl does not know (IANA names such as America/New_York, or UTC). */
export function assertTimeZone(timeZone: string): void {
  formatterFor(timeZone);
}

/**
 * "yyyy-mm-dd hh:mm:ss+|-hh:mm" for an instant, as the wall clock of `timeZone` shows it, with that zone's offset at
 * that instant (daylight saving included). Google requires the offset; without it times are misread
 * (CONVERSION_PRECEDES_EVENT).
 */
export function googleDateTime(instantMs: number, timeZone: string): string {
  const parts: Record<string, string> = {};
  for (const p of formatterFor(timeZone).formatToParts(new Date(instantMs))) parts[p.type] = p.value;
  // longOffset reads "GMT" for a zero offset, else "GMT+05:30" / "GMT-08:00".
  const offset = parts.timeZoneName === 'GMT' ? '+00:00' : parts.timeZoneName.replace('GMT', '');
  if (!/^[+-]\d{2}:\d{2}$/.test(offset)) throw new Error(`unexpected time zone offset "${parts.timeZoneName}" for ${timeZone}`);
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}${offset}`;
}

/**
 * GOOGLE_ADS_CONVERSION_ACTIONS: conversion name → conversion action ID, as JSON (`{"Purchase":"123"}`) or as
 * `Purchase=123,Lead=456`. Throws on anything else, naming the bad entry.
 */
export function parseConversionActions(raw: string): Record<string, string> {
  const text = raw.trim();
  let entries: [string, unknown][];
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error('GOOGLE_ADS_CONVERSION_ACTIONS is not valid JSON');
    }
    entries = Object.entries(parsed as Record<string, unknown>);
  } else {
    entries = text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((pair) => {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new Error(`GOOGLE_ADS_CONVERSION_ACTIONS: "${pair}" is not name=actionId`);
        return [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()];
      });
  }
  const out: Record<string, string> = {};
  for (const [name, id] of entries) {
    const value = typeof id === 'number' ? String(id) : id;
    if (typeof value !== 'string' || !/^\d+$/.test(value)) {
      throw new Error(`GOOGLE_ADS_CONVERSION_ACTIONS: the action for "${name}" must be the numeric conversion action ID`);
    }
    out[name] = value;
  }
  if (Object.keys(out).length === 0) throw new Error('GOOGLE_ADS_CONVERSION_ACTIONS lists no conversion action');
  return out;
}
