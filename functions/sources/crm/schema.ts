import * as z from 'zod';
import { ACTION_SOURCES } from '#core/conversion.ts';

/**
 * The generic CRM webhook's body: one event object, or `{ "events": [ … ] }` with up to 500 of them.
 * Personal data arrives raw (the caller is the advertiser's own system, over TLS, signed) and is normalized and
 * hashed before anything is stored or queued. Unknown keys are ignored, so a CRM may send more than we read.
 */
const Text = (max: number) => z.string().trim().min(1).max(max);
const Consent = z.union([z.boolean(), z.enum(['granted', 'denied']).transform((v) => v === 'granted')]);

export const CrmEventSchema = z
  .object({
    /** Lead, QualifiedLead, Purchase, or a custom name. */
    event: z.string().regex(/^[A-Za-z][A-Za-z0-9_ .-]{0,63}$/, 'must be a name: a letter, then up to 63 letters, digits, spaces, _ . or -'),
    /** Your unique ID for this event (the de-duplication key); give it or order_id. */
    event_id: Text(200).optional(),
    /** The order / deal / lead ID: the event ID is derived from it when event_id is absent. */
    order_id: Text(200).optional(),
    /** When it happened: ISO 8601 with an offset, or Unix seconds. Default: when the relay receives it. */
    // Seconds beyond 8.64e12 are past the last instant a Date holds: refused, not a crash when it is read.
    time: z.union([z.iso.datetime({ offset: true }), z.number().int().positive().max(8.64e12, 'must be Unix seconds')]).optional(),
    value: z.number().finite().nonnegative().optional(),
    currency: z.string().regex(/^[A-Za-z]{3}$/, 'must be an ISO 4217 code such as USD').optional(),
    /** The visitor ID /collect issued (kept on the lead, e.g. in a hidden form field). */
    visitor_id: Text(128).optional(),
    /** Meta Lead Ads' lead ID (the leadgen_id, 15–17 digits), for leads that came from an Instant Form. */
    lead_id: z.union([z.string().regex(/^\d{15,17}$/), z.number().int().positive()]).transform(String).pipe(z.string().regex(/^\d{15,17}$/, 'must be 15 to 17 digits')).optional(),
    /** The CRM's name, for Meta's lead_event_source (default: the CRM_NAME setting, else "CRM"). */
    crm: Text(100).optional(),
    action_source: z.enum(ACTION_SOURCES).optional(),
    email: Text(320).optional(),
    phone: Text(64).optional(),
    first_name: Text(200).optional(),
    last_name: Text(200).optional(),
    /** Full name, split into first and last when those are absent. */
    name: Text(400).optional(),
    street: Text(400).optional(),
    city: Text(200).optional(),
    state: Text(200).optional(),
    zip: Text(40).optional(),
    country: Text(100).optional(),
    /** Your stable customer / contact ID (hashed). */
    external_id: Text(200).optional(),
    consent: z
      .object({ marketing: Consent.optional(), ad_user_data: Consent.optional(), ad_personalization: Consent.optional(), analytics: Consent.optional() })
      .optional(),
  })
  .refine((e) => e.event_id !== undefined || e.order_id !== undefined, { message: 'each event needs event_id or order_id (its de-duplication key)', path: ['event_id'] })
  .refine((e) => e.value === undefined || e.currency !== undefined, { message: 'a value needs its currency', path: ['currency'] });
export type CrmEvent = z.infer<typeof CrmEventSchema>;

export const MAX_EVENTS_PER_REQUEST = 500;
