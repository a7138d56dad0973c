import { consentTier } from '#core/consent.ts';
import type { Conversion } from '#core/conversion.ts';

/**
 * Meta Conversions API server event, built by hand (Meta's SDK costs ~1.4 MB and 100+ ms of cold start for the
 * same JSON). Field rules: https://developers.facebook.com/docs/marketing-api/conversions-api/parameters
 * - `event_time` in Unix seconds, never in the future;
 * - hashed `user_data` values are arrays of SHA-256 hex (already normalized and hashed at ingestion);
 * - `fbc`, `fbp`, IP and user agent are sent in clear, exactly as captured;
 * - a conversion with a Lead Ads `lead_id` follows the Conversions API for CRM payload specification
 *   (conversion-leads-integration/payload-specification): `user_data.lead_id` unhashed, `action_source`
 *   `system_generated`, `custom_data.event_source` `crm` and `custom_data.lead_event_source` = the CRM's name.
 */
export interface MetaServerEvent {
  event_name: string;
  event_time: number;
  event_id: string;
  action_source: string;
  event_source_url?: string;
  user_data: Record<string, string | string[]>;
  custom_data?: Record<string, unknown>;
  data_processing_options?: string[];
  data_processing_options_country?: number;
  data_processing_options_state?: number;
}

/** Meta's action_source list has no `crm`; a CRM-reported event is `system_generated` there. */
const ACTION_SOURCE: Partial<Record<Conversion['actionSource'], string>> = { crm: 'system_generated' };

const HASHED_USER_FIELDS = {
  em: 'email',
  ph: 'phone',
  fn: 'firstName',
  ln: 'lastName',
  ct: 'city',
  st: 'state',
  zp: 'zip',
  country: 'country',
  external_id: 'externalId',
} as const satisfies Record<string, keyof Conversion['user']>;

export function metaUserData(c: Conversion): Record<string, string | string[]> {
  const user: Record<string, string | string[]> = {};
  for (const [metaKey, ourKey] of Object.entries(HASHED_USER_FIELDS)) {
    const v = c.user[ourKey];
    if (v) user[metaKey] = [v];
  }
  if (c.user.ip) user.client_ip_address = c.user.ip;
  if (c.user.userAgent) user.client_user_agent = c.user.userAgent;
  if (c.clicks.fbc) user.fbc = c.clicks.fbc.value;
  if (c.clicks.fbp) user.fbp = c.clicks.fbp.value;
  // Lead Ads' lead ID, in clear (Meta: "Do not hash").
  if (c.leadId) user.lead_id = c.leadId;
  return user;
}

export function toMetaEvent(c: Conversion, now: Date): MetaServerEvent {
  const occurred = Math.floor(Date.parse(c.occurredAt) / 1000);
  const event: MetaServerEvent = {
    event_name: c.eventName,
    // A clock a little ahead must not make Meta reject the whole batch.
    event_time: Math.min(occurred, Math.floor(now.getTime() / 1000)),
    event_id: c.eventId,
    // Meta's CRM (Conversion Leads) events are system_generated, whatever the source said.
    action_source: c.leadId ? 'system_generated' : (ACTION_SOURCE[c.actionSource] ?? c.actionSource),
    user_data: metaUserData(c),
  };
  if (c.eventSourceUrl) event.event_source_url = c.eventSourceUrl;
  // Marketing granted but personalization refused: Meta's Limited Data Use, located by Meta from the IP (0, 0).
  if (consentTier(c.consent).limitedDataUse) {
    event.data_processing_options = ['LDU'];
    event.data_processing_options_country = 0;
    event.data_processing_options_state = 0;
  }
  const custom: Record<string, unknown> = {};
  if (c.value !== undefined) custom.value = c.value;
  if (c.currency) custom.currency = c.currency;
  if (c.orderId) custom.order_id = c.orderId;
  if (c.contents?.length) {
    custom.contents = c.contents.map((item) => ({ id: item.id, quantity: item.quantity ?? 1, item_price: item.price }));
    custom.content_type = 'product';
    custom.num_items = c.contents.reduce((n, item) => n + (item.quantity ?? 1), 0);
  }
  if (c.leadId) {
    // Conversions API for CRM: event_source "crm" and the CRM's name, both under custom_data.
    custom.event_source = 'crm';
    custom.lead_event_source = c.leadEventSource ?? c.source.name;
  }
  if (Object.keys(custom).length) event.custom_data = custom;
  return event;
}
