import * as z from '#core/zod.ts';
import { ACTION_SOURCES } from '#core/conversion.ts';

/**
 * The generic CRM webhook's body: one event object, or `{ "events": [ … ] }` with up to 500 of them.
 * Personal data arrives raw (the caller is the advertiser's own system, over TLS, signed) and is normalized and
 * hashed before anything is stored or queued. Unknown keys are ignored, so a CRM may send more than we read.
 */
const Text = (max: number) => z.string().check(z.trim(), z.minLength(1), z.maxLength(max));
const Consent = z.union([z.boolean(), z.pipe(z.enum(['granted', 'denied']), z.transform((v) => v === 'granted'))]);
const LEAD_ID = /^\d{15,17}$/;

export const CrmEventSchema = z
  .object({
    /** Lead, QualifiedLead, Purchase, or a custom name. */
    event: z.string().check(z.regex(/^[A-Za-z][A-Za-z0-9_ .-]{0,63}$/, 'must be a name: a letter, then up to 63 letters, digits, spaces, _ . or -')),
    /** Your unique ID for this event (the de-duplication key); give it or order_id. */
    event_id: z.optional(Text(200)),
    /** The order / deal / lead ID: the event ID is derived from it when event_id is absent. */
    order_id: z.optional(Text(200)),
    /** When it happened: ISO 8601 with an offset, or Unix seconds. Default: when the relay receives it. */
    // Seconds beyond 8.64e12 are past the last instant a Date holds: refused, not a crash when it is read.
    time: z.optional(z.union([z.iso.datetime({ offset: true }), z.number().check(z.int(), z.positive(), z.maximum(8.64e12, 'must be Unix seconds'))])),
    value: z.optional(z.number().check(z.nonnegative())),
    currency: z.optional(z.string().check(z.regex(/^[A-Za-z]{3}$/, 'must be an ISO 4217 code such as USD'))),
    /** The visitor ID /collect issued (kept on the lead, e.g. in a hidden form field). */
    visitor_id: z.optional(Text(128)),
    /** Meta Lead Ads' lead ID (the leadgen_id, 15–17 digits), for leads that came from an Instant Form. */
    lead_id: z.optional(
      z.pipe(
        z.pipe(z.union([z.string().check(z.regex(LEAD_ID)), z.number().check(z.int(), z.positive())]), z.transform(String)),
        z.string().check(z.regex(LEAD_ID, 'must be 15 to 17 digits')),
      ),
    ),
    /** The CRM's name, for Meta's lead_event_source (default: the CRM_NAME setting, else "CRM"). */
    crm: z.optional(Text(100)),
    action_source: z.optional(z.enum(ACTION_SOURCES)),
    email: z.optional(Text(320)),
    phone: z.optional(Text(64)),
    first_name: z.optional(Text(200)),
    last_name: z.optional(Text(200)),
    /** Full name, split into first and last when those are absent. */
    name: z.optional(Text(400)),
    street: z.optional(Text(400)),
    city: z.optional(Text(200)),
    state: z.optional(Text(200)),
    zip: z.optional(Text(40)),
    country: z.optional(Text(100)),
    /** Your stable customer / contact ID (hashed). */
    external_id: z.optional(Text(200)),
    consent: z.optional(
      z.object({ marketing: z.optional(Consent), ad_user_data: z.optional(Consent), ad_personalization: z.optional(Consent), analytics: z.optional(Consent) }),
    ),
  })
  .check(
    z.refine((e) => e.event_id !== undefined || e.order_id !== undefined, { message: 'each event needs event_id or order_id (its de-duplication key)', path: ['event_id'] }),
    z.refine((e) => e.value === undefined || e.currency !== undefined, { message: 'a value needs its currency', path: ['currency'] }),
  );
export type CrmEvent = z.infer<typeof CrmEventSchema>;

export const MAX_EVENTS_PER_REQUEST = 500;
