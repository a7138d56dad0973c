import { fetchTransport } from '#destinations/http.ts';
import type { Settings } from '#sources/types.ts';

/**
 * HubSpot's webhook events carry IDs only (objectId, propertyName, propertyValue): a deal's amount and currency
 * and the contact's e-mail, phone and name need a read through the CRM API. This is that read, behind an
 * interface so tests use a fake. Batch endpoints keep it to at most three calls per webhook request (HubSpot
 * sends up to 100 events per request, and private apps may make ~100 calls per 10 s).
 */
export interface HubSpotDeal {
  amount?: string | null;
  currency?: string | null;
  contactIds: string[];
}
export type HubSpotContact = Record<string, string | null | undefined>;

export interface HubSpotCrm {
  deals(ids: string[]): Promise<Map<string, HubSpotDeal>>;
  contacts(ids: string[], properties: string[]): Promise<Map<string, HubSpotContact>>;
}

export const CONTACT_PROPERTIES = ['email', 'phone', 'mobilephone', 'firstname', 'lastname', 'address', 'city', 'state', 'zip', 'country'];
const DEFAULT_BASE_URL = 'https://api.hubapi.com';
const TIMEOUT_MS = 3000;
/** The relay's HTTP client (node:http, not fetch: cheaper on a cold start). */
const http = fetchTransport(TIMEOUT_MS);

export class HubSpotApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'HubSpotApiError';
  }
}

type BatchRead = { results?: { id: string; properties?: Record<string, string | null> }[] };
type AssociationsRead = { results?: { from: { id: string }; to?: { toObjectId: number | string }[] }[] };

/** The CRM API over HTTPS with a private app's access token (scopes: crm.objects.contacts.read, crm.objects.deals.read). */
export class HttpHubSpotCrm implements HubSpotCrm {
  constructor(
    private readonly token: string,
    private readonly baseUrl = DEFAULT_BASE_URL,
  ) {}

  async deals(ids: string[]): Promise<Map<string, HubSpotDeal>> {
    const out = new Map<string, HubSpotDeal>();
    if (ids.length === 0) return out;
    const inputs = ids.map((id) => ({ id }));
    const [deals, links] = await Promise.all([
      this.post<BatchRead>('/crm/v3/objects/deals/batch/read', { properties: ['amount', 'deal_currency_code'], inputs }),
      this.post<AssociationsRead>('/crm/v4/associations/deal/contact/batch/read', { inputs }),
    ]);
    const contactsOf = new Map((links.results ?? []).map((r) => [String(r.from.id), (r.to ?? []).map((t) => String(t.toObjectId))]));
    for (const d of deals.results ?? []) {
      out.set(String(d.id), { amount: d.properties?.amount, currency: d.properties?.deal_currency_code, contactIds: contactsOf.get(String(d.id)) ?? [] });
    }
    return out;
  }

  async contacts(ids: string[], properties: string[]): Promise<Map<string, HubSpotContact>> {
    if (ids.length === 0) return new Map();
    const res = await this.post<BatchRead>('/crm/v3/objects/contacts/batch/read', { properties, inputs: ids.map((id) => ({ id })) });
    return new Map((res.results ?? []).map((c) => [String(c.id), c.properties ?? {}]));
  }

  private async post<T>(path: string, body: unknown): Promise<T> {
    const res = await http({ method: 'POST', url: `${this.baseUrl}${path}`, headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' }, body });
    // 207: some IDs were not found (deleted since); the others are in `results`.
    if (res.status !== 200 && res.status !== 207) {
      throw new HubSpotApiError(res.status, `HubSpot CRM API ${path} answered ${res.status}${res.status === 401 || res.status === 403 ? ' (check HUBSPOT_ACCESS_TOKEN and its scopes)' : ''}`);
    }
    // A 200 whose body is not JSON (a proxy's page) is a failure, as fetch's res.json() made it.
    if (typeof res.body !== 'object' || res.body === null) throw new HubSpotApiError(res.status, `HubSpot CRM API ${path} answered ${res.status} without a JSON body`);
    return res.body as T;
  }
}

/** The CRM API client for these settings, or undefined when no access token is set (events are read without it). */
export function hubspotCrmFrom(settings: Settings): HubSpotCrm | undefined {
  const token = settings.HUBSPOT_ACCESS_TOKEN?.trim();
  if (!token) return undefined;
  return new HttpHubSpotCrm(token, (settings.HUBSPOT_API_BASE_URL?.trim() || DEFAULT_BASE_URL).replace(/\/+$/, ''));
}
