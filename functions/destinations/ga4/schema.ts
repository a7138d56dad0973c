import * as z from '#core/zod.ts';

/**
 * GA4 Measurement Protocol's rules as a schema. `/mp/collect` answers 2xx even to payloads it then drops
 * ("doesn't return an error code if the payload is malformed, or if the data is incorrect or not processed", GA-ref),
 * so every event is checked here before it is sent, and one that fails goes to the DLQ with the reason.
 * Limits: developers.google.com/analytics/devguides/collection/protocol/ga4/sending-events#limitations and the
 * reference's reserved names (platforms.md §4).
 */
export const MAX_EVENTS_PER_REQUEST = 25;
const MAX_PARAMS_PER_EVENT = 25;
const MAX_NAME_LENGTH = 40;
const MAX_PARAM_VALUE_LENGTH = 100;
const MAX_ITEMS = 200;
const MAX_USER_ID_LENGTH = 256;
/** Request bodies must stay under 130 kB. */
export const MAX_BODY_BYTES = 130_000;

/** Event names GA4 reserves for its own collection; an event sent under one of them is dropped. */
export const RESERVED_EVENT_NAMES = new Set([
  'ad_activeview', 'ad_click', 'ad_exposure', 'ad_impression', 'ad_query', 'ad_reward', 'adunit_exposure', 'app_background',
  'app_clear_data', 'app_exception', 'app_remove', 'app_store_refund', 'app_store_subscription_cancel',
  'app_store_subscription_convert', 'app_store_subscription_renew', 'app_update', 'app_upgrade', 'dynamic_link_app_open',
  'dynamic_link_app_update', 'dynamic_link_first_open', 'error', 'firebase_campaign', 'firebase_in_app_message_action',
  'firebase_in_app_message_dismiss', 'firebase_in_app_message_impression', 'first_open', 'first_visit', 'in_app_purchase',
  'notification_dismiss', 'notification_foreground', 'notification_open', 'notification_receive', 'os_update',
  'screen_view', 'session_start', 'user_engagement',
]);
export const RESERVED_PREFIXES = ['_', 'firebase_', 'ga_', 'google_', 'gtag.'];

/** Alphanumerics and underscores, starting with a letter, at most 40 characters, no reserved prefix. */
export const GA4_NAME = /^[A-Za-z][A-Za-z0-9_]{0,39}$/;
const hasReservedPrefix = (name: string) => RESERVED_PREFIXES.some((p) => name.toLowerCase().startsWith(p));

const Name = (what: string) =>
  z
    .string()
    .check(
      z.maxLength(MAX_NAME_LENGTH, `${what} names are at most ${MAX_NAME_LENGTH} characters`),
      z.regex(GA4_NAME, `${what} names must start with a letter and hold only letters, digits and underscores`),
      z.refine((n) => !hasReservedPrefix(n), `${what} names must not start with a reserved prefix (${RESERVED_PREFIXES.join(' ')})`),
    );

const ParamValue = z.union([z.string().check(z.maxLength(MAX_PARAM_VALUE_LENGTH, `parameter values are at most ${MAX_PARAM_VALUE_LENGTH} characters`)), z.number(), z.boolean()]);
const Sha256 = z.string().check(z.regex(/^[0-9a-f]{64}$/, 'must be a lowercase SHA-256 hex digest'));
const ParamText = z.string().check(z.minLength(1), z.maxLength(MAX_PARAM_VALUE_LENGTH));

export const Ga4ItemSchema = z
  .object({
    item_id: z.optional(ParamText),
    item_name: z.optional(ParamText),
    price: z.optional(z.number()),
    quantity: z.optional(z.number().check(z.int(), z.positive())),
  })
  .check(z.refine((item) => item.item_id !== undefined || item.item_name !== undefined, 'an item needs item_id or item_name'));

export const Ga4EventSchema = z
  .object({
    name: Name('event').check(z.refine((n) => !RESERVED_EVENT_NAMES.has(n), 'this event name is reserved by Google Analytics')),
    params: z
      .record(Name('parameter'), z.union([ParamValue, z.array(Ga4ItemSchema).check(z.maxLength(MAX_ITEMS, `at most ${MAX_ITEMS} items`))]))
      .check(
        z.refine((p) => Object.keys(p).length <= MAX_PARAMS_PER_EVENT, `at most ${MAX_PARAMS_PER_EVENT} parameters per event`),
        z.refine((p) => p.value === undefined || (typeof p.value === 'number' && typeof p.currency === 'string'), 'value must be a number and comes with currency'),
        z.refine((p) => p.currency === undefined || (typeof p.currency === 'string' && /^[A-Z]{3}$/.test(p.currency)), 'currency must be an ISO 4217 code'),
        z.refine((p) => p.items === undefined || Array.isArray(p.items), 'items must be a list'),
      ),
    timestamp_micros: z.optional(z.number().check(z.int(), z.positive())),
  })
  .check(
    z.refine((e) => e.name !== 'purchase' && e.name !== 'refund' ? true : typeof e.params.transaction_id === 'string', `purchase and refund need a transaction_id`),
    z.refine((e) => e.name !== 'purchase' || (typeof e.params.value === 'number' && typeof e.params.currency === 'string'), 'purchase needs value and currency'),
  );

const UserDataSchema = z.object({
  sha256_email_address: z.optional(z.array(Sha256).check(z.maxLength(3))),
  sha256_phone_number: z.optional(z.array(Sha256).check(z.maxLength(3))),
  address: z.optional(
    z
      .array(
        z.object({
          sha256_first_name: z.optional(Sha256),
          sha256_last_name: z.optional(Sha256),
          sha256_street: z.optional(Sha256),
          country: z.optional(z.string().check(z.regex(/^[a-z]{2}$/))),
        }),
      )
      .check(z.maxLength(2)),
  ),
});

const ConsentValue = z.enum(['GRANTED', 'DENIED']);

export const Ga4RequestSchema = z.object({
  client_id: ParamText,
  user_id: z.optional(z.string().check(z.minLength(1), z.maxLength(MAX_USER_ID_LENGTH))),
  ip_override: z.optional(z.string()),
  consent: z.optional(z.object({ ad_user_data: z.optional(ConsentValue), ad_personalization: z.optional(ConsentValue) })),
  user_data: z.optional(UserDataSchema),
  validation_behavior: z.optional(z.enum(['RELAXED', 'ENFORCE_RECOMMENDATIONS'])),
  events: z.array(Ga4EventSchema).check(z.minLength(1), z.maxLength(MAX_EVENTS_PER_REQUEST, `at most ${MAX_EVENTS_PER_REQUEST} events per request`)),
});
export type Ga4Request = z.infer<typeof Ga4RequestSchema>;
export type Ga4Event = z.infer<typeof Ga4EventSchema>;

/** The first problem with a request, as `path: message`, or undefined when GA4 would process it. */
export function ga4Problem(request: unknown): string | undefined {
  const res = Ga4RequestSchema.safeParse(request);
  if (!res.success) {
    const issue = res.error.issues[0];
    return `${issue.path.join('.') || 'request'}: ${issue.message}`;
  }
  if (Buffer.byteLength(JSON.stringify(request)) >= MAX_BODY_BYTES) return `request: bodies must stay under ${MAX_BODY_BYTES} bytes`;
  return undefined;
}
