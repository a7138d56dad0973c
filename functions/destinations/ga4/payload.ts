import { consentTier } from '#core/consent.ts';
import type { Conversion } from '#core/conversion.ts';
import { sha256Hex } from '#core/normalize.ts';
import { snakeCaseName } from '#destinations/event-fields.ts';
import { ga4ClientId } from './client-id.ts';
import { GA4_NAME, RESERVED_EVENT_NAMES, RESERVED_PREFIXES, type Ga4Event, type Ga4Request } from './schema.ts';

/**
 * GA4 Measurement Protocol payloads (platforms.md §4, GA-ref / GA-send / GA-uid); client_id: client-id.ts.
 *
 * user_id: the hashed customer ID when the source reported one (never the visitor-derived external ID, never an
 * e-mail): GA4 forbids PII in user_id, and a SHA-256 is not.
 */

/** The hashed customer ID, unless it is only the hash of our visitor ID (attachVisitor's fallback). */
export function ga4UserId(c: Conversion): string | undefined {
  const id = c.user.externalId;
  if (!id || (c.visitorId && id === sha256Hex(c.visitorId))) return undefined;
  return id;
}

/** Google's "user-provided data": only with the visitor's ad_user_data consent. Hashes already in Google's form. */
export function ga4UserData(c: Conversion): NonNullable<Ga4Request['user_data']> | undefined {
  if (consentTier(c.consent).google.adUserData !== 'GRANTED') return undefined;
  const data: NonNullable<Ga4Request['user_data']> = {};
  // Google's e-mail form drops gmail dots; `emailGoogle` exists only where it differs from `email`.
  const email = c.user.emailGoogle ?? c.user.email;
  if (email) data.sha256_email_address = [email];
  if (c.user.phoneE164) data.sha256_phone_number = [c.user.phoneE164];
  // Names are hashed letters-only (Meta's rule, see normalizeName); for one-word names that equals Google's form.
  const address: NonNullable<NonNullable<Ga4Request['user_data']>['address']>[number] = {};
  if (c.user.firstName) address.sha256_first_name = c.user.firstName;
  if (c.user.lastName) address.sha256_last_name = c.user.lastName;
  if (c.user.street) address.sha256_street = c.user.street;
  if (c.user.countryCode) address.country = c.user.countryCode;
  if (Object.keys(address).length) data.address = [address];
  return Object.keys(data).length ? data : undefined;
}

/** GA4's recommended events for our conversion names; anything else becomes a valid custom name. */
const RECOMMENDED: Record<string, string> = {
  Purchase: 'purchase',
  Lead: 'generate_lead',
  CompleteRegistration: 'sign_up',
};

/** `StartTrial` → `start_trial`, `Webinar Signup!` → `webinar_signup`; always a name GA4 accepts. */
export function ga4EventName(c: Conversion): string {
  if (c.adjustment) return 'refund';
  const known = RECOMMENDED[c.eventName];
  if (known) return known;
  let name = snakeCaseName(c.eventName);
  if (!/^[a-z]/.test(name) || RESERVED_PREFIXES.some((p) => name.startsWith(p)) || RESERVED_EVENT_NAMES.has(name)) name = `conversion_${name}`;
  name = name.slice(0, 40).replace(/_+$/, '');
  return GA4_NAME.test(name) ? name : 'conversion';
}

export function toGa4Event(c: Conversion, now: Date): Ga4Event {
  const name = ga4EventName(c);
  const params: Record<string, unknown> = {};
  if (name === 'purchase') params.transaction_id = c.orderId ?? c.eventId;
  if (name === 'refund') params.transaction_id = c.adjustment!.originalOrderId;
  // GA4 ignores a value without its currency; a purchase always sends value (validation catches a missing currency).
  if (c.value !== undefined && (c.currency || name === 'purchase')) params.value = c.value;
  if (c.currency) params.currency = c.currency;
  if (c.contents?.length && name !== 'refund') {
    params.items = c.contents.map((item) => {
      const out: Record<string, unknown> = { item_id: item.id, quantity: item.quantity ?? 1 };
      if (item.name) out.item_name = item.name.slice(0, 100);
      if (item.price !== undefined) out.price = item.price;
      return out;
    });
  }
  const occurredMs = Math.min(Date.parse(c.occurredAt), now.getTime());
  return { name, params: params as Ga4Event['params'], timestamp_micros: occurredMs * 1000 };
}

/** Everything in a request that is not an event: one client, one set of user fields per request. */
export function ga4UserFields(c: Conversion): Omit<Ga4Request, 'events' | 'validation_behavior'> {
  const fields: Omit<Ga4Request, 'events' | 'validation_behavior'> = { client_id: ga4ClientId(c)?.clientId ?? '<none>' };
  // Analytics-only consent: the event goes without identifiers (no customer ID, no IP), per consentTier's contract.
  const { identifiers, google } = consentTier(c.consent);
  const userId = identifiers ? ga4UserId(c) : undefined;
  if (userId) fields.user_id = userId;
  // The visitor's IP: GA4 derives the location from it (the request itself comes from our server).
  if (identifiers && c.user.ip) fields.ip_override = c.user.ip;
  fields.consent = { ad_user_data: google.adUserData, ad_personalization: google.adPersonalization };
  const userData = ga4UserData(c);
  if (userData) fields.user_data = userData;
  return fields;
}

/**
 * One request. Its conversions share their user fields (the destination groups by them: GA4 takes one client per
 * request, and one customer's e-mail must never ride along with another's event).
 */
export function toGa4Request(conversions: Conversion[], now: Date, validate: boolean): Ga4Request {
  const request: Ga4Request = { ...ga4UserFields(conversions[0]), events: conversions.map((c) => toGa4Event(c, now)) };
  // The validation server reports recommendations too only when asked to.
  if (validate) request.validation_behavior = 'ENFORCE_RECOMMENDATIONS';
  return request;
}
