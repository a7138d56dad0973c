import * as z from '#core/zod.ts';
import { RequestError } from '#core/errors.ts';
import { eventIdFor } from '#core/event-id.ts';
import { conversionNameFor, mappingFrom, type Mapping } from '#core/mapping.ts';
import { hashUser, sha256Hex } from '#core/normalize.ts';
import { secretList } from '#core/signature.ts';
import { isVisitorId } from '#core/visitor.ts';
import type { ConversionDraft, SkippedEvent, Source, SourceResult } from '#sources/types.ts';
import { CONTACT_PROPERTIES, hubspotCrmFrom, type HubSpotContact, type HubSpotCrm } from './crm-api.ts';
import { verifyHubSpotSignature } from './signature.ts';

/**
 * HubSpot Webhooks API (an app's CRM object subscriptions): a JSON array of events, signed v3 with the app's client
 * secret. Each event becomes a conversion when the mapping names its trigger:
 * - `<object>.creation` (e.g. `contact.creation` → Lead);
 * - `<object>.<property>=<value>` for a property change to that value (e.g. `deal.dealstage=closedwon` → Purchase);
 * - `<object>.<property>` for a change to any value (e.g. `contact.recent_conversion_date`: every form submission).
 * With `HUBSPOT_ACCESS_TOKEN`, the deal's amount and currency and the contact's e-mail, phone, name and address
 * are read through the CRM API (and hashed at once); without it, a contact event carries only its hashed contact
 * ID, and a deal event cannot know its value, so it is recorded as skipped with that reason.
 */
const ObjectTypes: Record<string, string> = { '0-1': 'contact', '0-2': 'company', '0-3': 'deal', '0-5': 'ticket' };

const asString = z.pipe(z.union([z.number(), z.string()]), z.transform(String));
const HubSpotEventSchema = z.looseObject({
  eventId: asString,
  portalId: asString,
  // Unix milliseconds, within what a Date holds (a larger one would crash the read instead of being refused).
  occurredAt: z.number().check(z.int(), z.positive(), z.maximum(8.64e15)),
  subscriptionType: z.string().check(z.minLength(1), z.maxLength(100)),
  objectId: asString,
  /** Newer generic subscriptions (`object.creation`) name the object type by ID: 0-1 contact, 0-3 deal, … */
  objectTypeId: z.optional(z.string()),
  propertyName: z.optional(z.string().check(z.maxLength(200))),
  propertyValue: z.optional(z.union([z.string(), z.number(), z.boolean(), z.null()])),
});
type HubSpotEvent = z.infer<typeof HubSpotEventSchema>;
const BodySchema = z.array(HubSpotEventSchema).check(z.minLength(1), z.maxLength(1000));

const DEFAULT_VISITOR_PROPERTY = 'relay_visitor_id';

interface Planned {
  event: HubSpotEvent;
  object: string;
  name: string;
  /** What makes this conversion unique: the object, plus the value for any-value triggers. */
  key: string;
}

/** The trigger keys an event matches, most specific first. */
function triggersOf(e: HubSpotEvent): { object: string; kind: string; keys: string[] } | undefined {
  const [prefix, kind] = e.subscriptionType.split('.', 2);
  const object = prefix === 'object' ? ObjectTypes[e.objectTypeId ?? ''] : prefix;
  if (!object || !kind) return undefined;
  if (kind === 'creation') return { object, kind, keys: [`${object}.creation`] };
  if (kind === 'propertyChange' && e.propertyName) {
    const value = e.propertyValue == null ? '' : String(e.propertyValue);
    return { object, kind, keys: [`${object}.${e.propertyName}=${value}`, `${object}.${e.propertyName}`] };
  }
  return { object, kind, keys: [] };
}

function plan(e: HubSpotEvent, mapping: Mapping): Planned | SkippedEvent {
  const skip = (reason: string): SkippedEvent => ({ sourceEventId: e.eventId, eventType: e.subscriptionType, reason });
  const t = triggersOf(e);
  if (!t) return skip(`subscription type ${e.subscriptionType} is not a conversion`);
  for (const key of t.keys) {
    const name = conversionNameFor(mapping, 'hubspot', key);
    if (name === null) return skip(`RELAY_MAPPING turns hubspot trigger ${printable(key, e.propertyName)} off`);
    if (name === undefined) continue;
    const base = `hubspot-${e.portalId}-${t.object}-${e.objectId}`;
    // A value-specific trigger (a stage) happens once per object; an any-value trigger once per value.
    const key_ = key.includes('=') || t.kind === 'creation' ? base : `${base}:${e.propertyName}:${sha256Hex(String(e.propertyValue ?? '')).slice(0, 16)}`;
    return { event: e, object: t.object, name, key: key_ };
  }
  const what = t.keys.length ? `${printable(t.keys[0], e.propertyName)} is not mapped to a conversion` : `subscription type ${e.subscriptionType} is not a conversion`;
  return skip(`${what} (RELAY_MAPPING.sources.hubspot)`);
}

/**
 * Skip reasons are stored and logged: a property's new value appears in them only for the pipeline and lifecycle
 * properties, whose values are stage IDs; any other value (an e-mail, a name) is replaced by `<value>`.
 */
const STAGE_PROPERTIES = new Set(['dealstage', 'pipeline', 'lifecyclestage', 'hs_lead_status', 'hs_pipeline', 'hs_pipeline_stage']);
function printable(key: string, property: string | undefined): string {
  return property && !STAGE_PROPERTIES.has(property) && key.includes('=') ? `${key.slice(0, key.indexOf('='))}=<value>` : key;
}

export interface HubSpotSourceOptions {
  /** The CRM API client for these settings (default: HTTPS with HUBSPOT_ACCESS_TOKEN, none without it). */
  crm?: (settings: Parameters<Source['read']>[1]) => HubSpotCrm | undefined;
}

export function createHubSpotSource(opts: HubSpotSourceOptions = {}): Source {
  const crmFor = opts.crm ?? hubspotCrmFrom;
  return {
    name: 'hubspot',
    async read(request, settings, now): Promise<SourceResult> {
      const secrets = secretList(settings.HUBSPOT_CLIENT_SECRET);
      if (secrets.length === 0) throw new Error('HUBSPOT_CLIENT_SECRET is not configured');
      verifyHubSpotSignature(request, secrets, settings, now);
      let json: unknown;
      try {
        json = JSON.parse(request.body.toString('utf8'));
      } catch {
        throw new RequestError(400, 'malformed_body', 'the body is not valid JSON');
      }
      const parsed = BodySchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new RequestError(400, 'malformed_event', `not a HubSpot webhook batch: ${issue.path.map(String).join('.') || 'body'}: ${issue.message}`);
      }
      const mapping = mappingFrom(settings);
      const crm = crmFor(settings);
      const planned: Planned[] = [];
      const skipped: SkippedEvent[] = [];
      for (const e of parsed.data) {
        const p = plan(e, mapping);
        if ('reason' in p) skipped.push(p);
        else if (p.object === 'deal' && !crm) {
          skipped.push({ sourceEventId: e.eventId, eventType: e.subscriptionType, reason: `${p.name} for deal ${e.objectId} not reported: set HUBSPOT_ACCESS_TOKEN so the relay can read the deal's amount and contact` });
        } else planned.push(p);
      }
      const conversions = await toDrafts(planned, crm, settings);
      const first = parsed.data[0];
      const eventType = parsed.data.length === 1 ? first.subscriptionType : `batch of ${parsed.data.length}`;
      if (conversions.length === 0) {
        const reason = skipped.length === 1 ? skipped[0].reason : `none of the ${skipped.length} events is a conversion`;
        return { kind: 'skipped', sourceEventId: first.eventId, eventType, reason, skipped };
      }
      return { kind: 'conversions', sourceEventId: conversions[0].source.eventId, eventType, conversions, ...(skipped.length ? { skipped } : {}) };
    },
  };
}

async function toDrafts(planned: Planned[], crm: HubSpotCrm | undefined, settings: Parameters<Source['read']>[1]): Promise<ConversionDraft[]> {
  const visitorProperty = settings.HUBSPOT_VISITOR_ID_PROPERTY?.trim() || DEFAULT_VISITOR_PROPERTY;
  const leadIdProperty = settings.HUBSPOT_LEAD_ID_PROPERTY?.trim();
  const defaultCurrency = (settings.HUBSPOT_DEFAULT_CURRENCY?.trim() || 'USD').toUpperCase();

  const dealIds = [...new Set(planned.filter((p) => p.object === 'deal').map((p) => p.event.objectId))];
  const deals = crm && dealIds.length ? await crm.deals(dealIds) : new Map();
  const contactIdOf = (p: Planned): string | undefined => (p.object === 'contact' ? p.event.objectId : deals.get(p.event.objectId)?.contactIds[0]);
  const contactIds = [...new Set(planned.map(contactIdOf).filter((id): id is string => id !== undefined))];
  const properties = [...CONTACT_PROPERTIES, visitorProperty, ...(leadIdProperty ? [leadIdProperty] : [])];
  const contacts: Map<string, HubSpotContact> = crm && contactIds.length ? await crm.contacts(contactIds, properties) : new Map();

  return planned.map((p) => {
    const e = p.event;
    const eventId = eventIdFor(p.key, p.name);
    const contactId = contactIdOf(p);
    const contact = contactId ? contacts.get(contactId) : undefined;
    const deal = p.object === 'deal' ? deals.get(e.objectId) : undefined;
    const amount = deal?.amount ? Number(deal.amount) : undefined;
    const lead = leadIdProperty ? contact?.[leadIdProperty]?.trim() : undefined;
    const visitorId = contact?.[visitorProperty]?.trim();
    return {
      eventId,
      eventName: p.name,
      occurredAt: new Date(e.occurredAt).toISOString(),
      ...(amount !== undefined && Number.isFinite(amount) && amount >= 0 ? { value: amount, currency: (deal?.currency || defaultCurrency).toUpperCase() } : {}),
      ...(p.object === 'deal' ? { orderId: p.key } : {}),
      actionSource: 'crm',
      visitorId: isVisitorId(visitorId) ? visitorId : undefined,
      leadId: lead && /^\d{15,17}$/.test(lead) ? lead : undefined,
      leadEventSource: 'HubSpot',
      user: hashUser(
        {
          email: contact?.email,
          phone: contact?.phone || contact?.mobilephone,
          firstName: contact?.firstname,
          lastName: contact?.lastname,
          street: contact?.address,
          city: contact?.city,
          state: contact?.state,
          zip: contact?.zip,
          country: contact?.country,
          // The HubSpot contact ID: a stable customer ID even when the API is not used.
          externalId: contactId,
        },
        { defaultCountry: settings.HUBSPOT_DEFAULT_COUNTRY?.trim() || undefined },
      ),
      source: { name: 'hubspot', eventId: e.eventId, eventType: e.subscriptionType },
    } satisfies ConversionDraft;
  });
}

export const hubspotSource = createHubSpotSource();
