import * as z from './zod.ts';

/**
 * The one shared type. Every source produces it, every destination consumes it, and it is what travels
 * on the destination queues and sits in the DLQ — so it holds hashes and technical signals only, never
 * raw e-mail, phone, name or address.
 */

/** A string of 1 to `max` characters (an ID, a name). */
const nonEmpty = (max: number) => z.string().check(z.minLength(1), z.maxLength(max));

const sha256Hex = z.string().check(z.regex(/^[0-9a-f]{64}$/, 'must be a lowercase SHA-256 hex digest'));

/**
 * Ad-platform click identifiers and first-party browser IDs, each with the time it was captured. New keys are only
 * ever appended: LinkedIn `li_fat_id`, Snapchat `ScCid`, Pinterest `epik`, Reddit `rdt_cid`, X `twclid`,
 * Snapchat's pixel cookie `_scid` (`scid`, a browser ID sent as `sc_cookie1`), Microsoft UET's visitor cookie `_uetvid`
 * (`uetvid`, a browser ID sent as the UET Conversions API's `anonymousId`), the Reddit Pixel's `_rdt_uuid` cookie
 * (`rdtUuid`, a browser ID sent as `user.uuid`).
 */
export const CLICK_KEYS = ['fbc', 'fbp', 'gclid', 'gbraid', 'wbraid', 'ttclid', 'ttp', 'msclkid', 'gaClientId', 'liFatId', 'scCid', 'epik', 'rdtCid', 'twclid', 'scid', 'uetvid', 'rdtUuid'] as const;
export type ClickKey = (typeof CLICK_KEYS)[number];

export const CapturedValueSchema = z.object({
  value: nonEmpty(500),
  /** Unix milliseconds when the value was first seen (for fbc: the click time). */
  capturedAt: z.number().check(z.int(), z.nonnegative()),
});
export type CapturedValue = z.infer<typeof CapturedValueSchema>;

export const ClicksSchema = z.partialRecord(z.enum(CLICK_KEYS), CapturedValueSchema);
export type Clicks = z.infer<typeof ClicksSchema>;

/**
 * Hashed identifiers. Where platforms normalize differently, each variant is hashed once at ingestion:
 * - `email`: trim + lowercase (Meta, TikTok); `emailGoogle`: Google's form (gmail dots dropped), only when it differs;
 *   `emailMicrosoft`: Microsoft's form (dots and '+alias' dropped from every local part), only when it differs.
 * - `phone`: digits with country code, no '+' (Meta); `phoneE164`: '+' and digits (Google, TikTok, GA4).
 * - names and address parts follow Meta's rules (lowercase, no punctuation; zip without the +4; ISO country code).
 */
export const UserSchema = z.object({
  email: z.optional(sha256Hex),
  emailGoogle: z.optional(sha256Hex),
  /** The Data Manager API's form: Google's, with a gmail / googlemail '+tag' dropped too; only when it differs. */
  emailDataManager: z.optional(sha256Hex),
  /** Microsoft Advertising's form: '+alias' and every dot of the local part dropped, for any domain; only when it differs. */
  emailMicrosoft: z.optional(sha256Hex),
  /** Reddit's form: lowercase, '+alias' dropped, every non-alphanumeric removed from the local part; only when it differs. */
  emailReddit: z.optional(sha256Hex),
  phone: z.optional(sha256Hex),
  phoneE164: z.optional(sha256Hex),
  firstName: z.optional(sha256Hex),
  lastName: z.optional(sha256Hex),
  street: z.optional(sha256Hex),
  city: z.optional(sha256Hex),
  state: z.optional(sha256Hex),
  zip: z.optional(sha256Hex),
  country: z.optional(sha256Hex),
  /** ISO 3166-1 alpha-2, lowercase: not personal data, and Google wants it in clear. */
  countryCode: z.optional(z.string().check(z.regex(/^[a-z]{2}$/))),
  /** SHA-256 of the advertiser's stable customer ID (or the visitor ID). */
  externalId: z.optional(sha256Hex),
  /** IP and user agent travel in clear: the platforms require them that way. */
  ip: z.optional(z.string().check(z.maxLength(64))),
  userAgent: z.optional(z.string().check(z.maxLength(1024))),
});
export type User = z.infer<typeof UserSchema>;

/** Consent as the visitor gave it. `undefined` means no signal: the configured site default applies. */
export const ConsentSchema = z.object({
  /** Marketing / advertising use at all (Meta, TikTok). */
  marketing: z.optional(z.boolean()),
  /** Google's ad_user_data. */
  adUserData: z.optional(z.boolean()),
  /** Google's ad_personalization. */
  adPersonalization: z.optional(z.boolean()),
  analytics: z.optional(z.boolean()),
});
export type Consent = z.infer<typeof ConsentSchema>;

export const ContentSchema = z.object({
  id: nonEmpty(200),
  quantity: z.optional(z.number().check(z.int(), z.positive())),
  price: z.optional(z.number().check(z.nonnegative())),
  name: z.optional(z.string().check(z.maxLength(200))),
});

export const ACTION_SOURCES = ['website', 'system_generated', 'crm', 'email', 'phone_call', 'physical_store', 'app', 'chat', 'other'] as const;

export const ConversionSchema = z.object({
  /** Deterministic: the browser pixel can send the same ID, so the platform keeps one of the two. */
  eventId: nonEmpty(200),
  /** Purchase, Lead, CompleteRegistration, StartTrial, Subscribe, Refund, Chargeback, or a custom name. */
  eventName: nonEmpty(64),
  /** When the conversion happened (ISO 8601, UTC). */
  occurredAt: z.iso.datetime(),
  value: z.optional(z.number().check(z.nonnegative())),
  /** ISO 4217, upper case. */
  currency: z.optional(z.string().check(z.regex(/^[A-Z]{3}$/))),
  orderId: z.optional(nonEmpty(200)),
  actionSource: z.enum(ACTION_SOURCES),
  eventSourceUrl: z.optional(z.url().check(z.maxLength(2048))),
  contents: z.optional(z.array(ContentSchema).check(z.maxLength(200))),
  user: UserSchema,
  clicks: ClicksSchema,
  consent: ConsentSchema,
  visitorId: z.optional(z.string().check(z.maxLength(128))),
  /** A refund or chargeback: it corrects an earlier conversion, found by its order ID. */
  adjustment: z.optional(
    z.object({
      kind: z.enum(['refund', 'chargeback']),
      originalOrderId: nonEmpty(200),
      originalEventId: z.optional(nonEmpty(200)),
      /** The original conversion's event name (Purchase, …), where the source knows it: it picks Google's conversion action. */
      originalEventName: z.optional(nonEmpty(64)),
      /** When the original conversion happened, once a destination learns it from the ledger (Microsoft's offline adjustments name the original by its conversion time). */
      originalOccurredAt: z.optional(z.iso.datetime()),
      /** The whole order was reversed (a retraction) or only part of it (a restatement to `remainingValue`). */
      full: z.boolean(),
      remainingValue: z.optional(z.number().check(z.nonnegative())),
    }),
  ),
  /** A lead ID issued by the platform (Meta lead ads' `lead_id`), for CRM-reported conversions. */
  leadId: z.optional(z.string().check(z.maxLength(100))),
  /** The CRM the lead is tracked in (`HubSpot`, `Salesforce`, …): Meta's `lead_event_source` for CRM lead events. */
  leadEventSource: z.optional(nonEmpty(100)),
  /** A source's test event: processed and recorded with the exact payload, never sent to a platform. */
  test: z.optional(z.boolean()),
  /** Where it came from, for the ledger and for support. */
  source: z.object({
    name: z.string().check(z.minLength(1)),
    eventId: z.string().check(z.minLength(1)),
    eventType: z.string().check(z.minLength(1)),
    livemode: z.optional(z.boolean()),
  }),
});
export type Conversion = z.infer<typeof ConversionSchema>;
