import * as z from './zod.ts';
import type { Settings } from '#sources/types.ts';

/**
 * The mapping configuration: which source events become which conversion names, and which conversion names each
 * destination receives. One JSON object in the `RELAY_MAPPING` setting, merged over the defaults below:
 *
 * ```json
 * { "sources": { "stripe": { "subscription.renewal": null }, "hubspot": { "deal.dealstage=contractsigned": "Purchase" } },
 *   "destinations": { "meta": ["Purchase", "Lead", "QualifiedLead", "Subscribe", "StartTrial"] } }
 * ```
 * - `sources.<source>.<trigger>`: the conversion name that trigger produces, or `null` to record it as skipped
 *   instead (e.g. renewals off). A source's triggers are documented in the README; keys given replace the default
 *   for that key only.
 * - `destinations.<destination>`: the conversion names it receives (an allowlist), or `"*"` for all (the default).
 *
 * It is read by the local runner at start and by the CDK app at synth, so a bad key fails there with a message that
 * names it, not on the first webhook.
 */
export const MAPPING_SETTING = 'RELAY_MAPPING';

const EventNameSchema = z
  .string()
  .check(z.regex(/^[A-Za-z][A-Za-z0-9_ .-]{0,63}$/, 'must be a conversion name: a letter, then up to 63 letters, digits, spaces, _ . or -'));

const KeySchema = z.string().check(z.minLength(1));
const SourceMapSchema = z.record(KeySchema, z.union([EventNameSchema, z.null()]));
const AllowlistSchema = z.union([z.literal('*'), z.array(EventNameSchema)]);

const MappingInputSchema = z.strictObject({
  sources: z.optional(z.record(KeySchema, SourceMapSchema)),
  destinations: z.optional(z.record(KeySchema, AllowlistSchema)),
});

export interface Mapping {
  sources: Record<string, Record<string, string | null>>;
  destinations: Record<string, '*' | string[]>;
}

/** Stripe's triggers are named by what happened, not by Stripe event type: several event types report one payment. */
export const STRIPE_TRIGGERS = {
  /** A one-off payment: Checkout (payment mode, Payment Links included), a PaymentIntent, a one-off invoice. */
  purchase: 'Purchase',
  /** The first payment of a subscription: subscription-mode Checkout or `invoice.paid` with `subscription_create`. */
  'subscription.first_payment': 'Subscribe',
  /** A renewal: `invoice.paid` with `subscription_cycle`. `null` turns renewals off. */
  'subscription.renewal': 'Purchase',
  /** `customer.subscription.created` in `trialing` status. */
  'subscription.trial_start': 'StartTrial',
  /** `charge.refunded`: a refund adjustment linked to the original purchase. */
  refund: 'Refund',
  /** `charge.dispute.created`: a chargeback adjustment linked to the original purchase. */
  chargeback: 'Chargeback',
} as const;

/** HubSpot triggers: `<object>.creation`, `<object>.<property>` (any new value) or `<object>.<property>=<value>`. */
export const HUBSPOT_TRIGGER_PATTERN = /^(contact|company|deal|ticket)\.(creation|[a-z0-9_]+(=[^\s].*)?)$/;

export const DEFAULT_MAPPING: Mapping = {
  sources: {
    stripe: { ...STRIPE_TRIGGERS },
    hubspot: {
      'contact.creation': 'Lead',
      'contact.lifecyclestage=marketingqualifiedlead': 'QualifiedLead',
      'contact.lifecyclestage=salesqualifiedlead': 'QualifiedLead',
      'deal.dealstage=closedwon': 'Purchase',
    },
  },
  destinations: {},
};

export class MappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MappingError';
  }
}

export interface KnownNames {
  /** Source names from the registry: a mapping for any other source is a typo. */
  sources?: readonly string[];
  /** Destination names from the registry. */
  destinations?: readonly string[];
}

/**
 * Parses `RELAY_MAPPING` (undefined or blank: the defaults) and merges it over the defaults. Throws a `MappingError`
 * whose message names the bad key as `RELAY_MAPPING.<path>`.
 */
export function parseMapping(raw: string | undefined, known: KnownNames = {}): Mapping {
  if (!raw?.trim()) return DEFAULT_MAPPING;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new MappingError(`${MAPPING_SETTING} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = MappingInputSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const path = [MAPPING_SETTING, ...issue.path.map(String), ...keys].join('.');
    throw new MappingError(`${path}: ${keys.length ? 'unknown key (allowed: sources, destinations)' : issue.message}`);
  }
  const input = parsed.data;
  for (const [source, triggers] of Object.entries(input.sources ?? {})) {
    if (known.sources && !known.sources.includes(source)) {
      throw new MappingError(`${MAPPING_SETTING}.sources.${source}: no such source (sources: ${known.sources.join(', ')})`);
    }
    for (const trigger of Object.keys(triggers)) {
      const bad = triggerProblem(source, trigger);
      if (bad) throw new MappingError(`${MAPPING_SETTING}.sources.${source}.${trigger}: ${bad}`);
    }
  }
  for (const destination of Object.keys(input.destinations ?? {})) {
    if (known.destinations && !known.destinations.includes(destination)) {
      throw new MappingError(`${MAPPING_SETTING}.destinations.${destination}: no such destination (destinations: ${known.destinations.join(', ')})`);
    }
  }
  const sources: Mapping['sources'] = { ...DEFAULT_MAPPING.sources };
  for (const [source, triggers] of Object.entries(input.sources ?? {})) sources[source] = { ...sources[source], ...triggers };
  return { sources, destinations: { ...DEFAULT_MAPPING.destinations, ...input.destinations } };
}

function triggerProblem(source: string, trigger: string): string | undefined {
  if (source === 'stripe' && !(trigger in STRIPE_TRIGGERS)) return `unknown trigger (stripe triggers: ${Object.keys(STRIPE_TRIGGERS).join(', ')})`;
  if (source === 'hubspot' && !HUBSPOT_TRIGGER_PATTERN.test(trigger)) {
    return 'unknown trigger (hubspot triggers look like contact.creation, deal.dealstage=closedwon or contact.recent_conversion_date)';
  }
  return undefined;
}

let cached: { raw: string | undefined; mapping: Mapping } | undefined;

/** The mapping in these settings, parsed once per distinct value (a handler calls this on every request). */
export function mappingFrom(settings: Settings): Mapping {
  const raw = settings[MAPPING_SETTING];
  if (cached && cached.raw === raw) return cached.mapping;
  const mapping = parseMapping(raw);
  cached = { raw, mapping };
  return mapping;
}

/**
 * What a source trigger becomes: a conversion name, `null` when the mapping turns it off, or `undefined` when the
 * mapping does not know it (the source decides: a default name, or skipped as not mapped).
 */
export function conversionNameFor(mapping: Mapping, source: string, trigger: string): string | null | undefined {
  const names = mapping.sources[source];
  return names && Object.hasOwn(names, trigger) ? names[trigger] : undefined;
}

/** The skip reason when a destination's allowlist does not include this conversion name. */
export function allowlistReason(mapping: Mapping | undefined, destination: string, eventName: string): string | undefined {
  const allow = mapping?.destinations[destination];
  if (allow === undefined || allow === '*' || allow.includes(eventName)) return undefined;
  return `not in destination allowlist: ${eventName} is not among ${MAPPING_SETTING}.destinations.${destination}`;
}
