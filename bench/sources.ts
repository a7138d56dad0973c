import { createDecipheriv, createHash, createHmac, hash, randomUUID, timingSafeEqual } from 'node:crypto';
import { crmSignature, hubspotSignatureV3 } from '../test/support/signatures.ts';
import { sourceDrivers, type Customer, type SourceDriver, type SourceRequest } from '../test/support/source-requests.ts';
import type { HttpRequestSpec } from './fixtures.ts';

/**
 * How the bench exercises each source in functions/registry.ts. The requests come from the suites' drivers
 * (test/support/source-requests.ts: one request builder per source in the project); what is bench-only is the
 * "floor" for the same request — what any implementation must do at least (check the signature, parse, (decrypt,)
 * fetch what the source does not send (HubSpot: the CRM API), SHA-256 the identifiers) with bare node:crypto and
 * fetch. A source with a driver but no floor here is reported as "no bench request"; add its floor next to the others.
 */
export interface SourceBench {
  /** Settings the relay needs for this source (read after `start`: HubSpot's include its CRM API fake's address). */
  readonly settings: Record<string, string>;
  /** Starts what the source needs besides the relay (HubSpot: its CRM API fake); returns what stops it. */
  start?(): Promise<() => Promise<void>>;
  request(opts?: { visitorId?: string }): HttpRequestSpec;
  /** Verify, parse (and fetch) and hash `identifiers` values of the request with bare node:crypto; returns the number hashed. */
  floor(request: HttpRequestSpec, identifiers: number): number | Promise<number>;
}

/** Sources the issue names: shown as "not yet available" until they are registered. */
export const EXPECTED_SOURCES = ['stripe', 'clickbank', 'crm', 'postback', 'hubspot'];

/** The customer of every bench purchase: every identifier a platform matches on, as a shop's checkout records them. */
const BENCH_CUSTOMER: Customer = {
  email: 'Jane.Doe@Example.com',
  phone: '+1 (415) 555-0100',
  name: 'Jane Doe',
  address: { line1: '1 Market Street', line2: null, city: 'San Francisco', state: 'CA', postal_code: '94105-1234', country: 'US' },
};

const asSpec = (r: SourceRequest): HttpRequestSpec => ({ method: r.method, path: r.path, headers: r.headers, body: typeof r.body === 'string' ? r.body : r.body.toString('utf8') });
const timingSafeEqualText = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
const fresh = (ts: string | number, unit: 's' | 'ms') => Math.abs(Date.now() - Number(ts) * (unit === 's' ? 1000 : 1)) <= 300_000;
const digits = (s: unknown) => String(s ?? '').replace(/\D/g, '');

/** Hashes `identifiers` values, cycling through the candidates the request carries (the count is what our code hashed). */
function hashAll(candidates: (string | undefined | null)[], identifiers: number): number {
  const present = candidates.filter((c): c is string => !!c);
  let hashed = 0;
  for (let i = 0; i < identifiers; i++) if (hash('sha256', present[i % present.length] ?? '', 'hex')) hashed++;
  return hashed;
}

/** A bench entry for a driver: a unique purchase by BENCH_CUSTOMER per request, and the given floor. */
function fromDriver(driver: SourceDriver, floor: SourceBench['floor']): SourceBench {
  return {
    get settings() {
      return driver.env;
    },
    start: driver.start && (() => driver.start!()),
    request: (opts) => asSpec(driver.purchase({ id: `bench_${randomUUID()}`, customer: BENCH_CUSTOMER, visitorId: opts?.visitorId })),
    floor,
  };
}

const { stripe, clickbank, postback, crm, hubspot } = sourceDrivers;

export const sourceBenches: Record<string, SourceBench> = {
  stripe: fromDriver(stripe, (request, identifiers) => {
    const header = request.headers['stripe-signature'];
    let t = '';
    const signatures: string[] = [];
    for (const part of header.split(',')) {
      const [k, v] = part.split('=', 2);
      if (k === 't') t = v;
      else if (k === 'v1') signatures.push(v);
    }
    const expected = createHmac('sha256', stripe.env.STRIPE_WEBHOOK_SECRET).update(`${t}.${request.body}`).digest();
    if (!signatures.some((s) => s.length === 64 && timingSafeEqual(Buffer.from(s, 'hex'), expected))) throw new Error('floor: bad signature');
    if (!fresh(t, 's')) throw new Error('floor: too old');
    const event = JSON.parse(request.body);
    const d = event.data.object.customer_details;
    const [first, ...last] = String(d.name).split(' ');
    const phone = digits(d.phone);
    return hashAll([d.email.trim().toLowerCase(), phone, `+${phone}`, first.toLowerCase(), last.join('').toLowerCase(), d.address.line1.toLowerCase(),
      d.address.city.toLowerCase(), d.address.state.toLowerCase(), d.address.postal_code.slice(0, 5), d.address.country.toLowerCase(), event.data.object.customer], identifiers);
  }),
  crm: fromDriver(crm, (request, identifiers) => {
    const ts = request.headers['x-relay-timestamp'];
    if (!timingSafeEqualText(request.headers['x-relay-signature'], crmSignature(crm.env.CRM_WEBHOOK_SECRET, ts, request.body))) throw new Error('floor: bad signature');
    if (!fresh(ts, 's')) throw new Error('floor: stale');
    const e = JSON.parse(request.body);
    const [first, ...last] = String(e.name).split(' ');
    const phone = digits(e.phone);
    return hashAll([e.email.trim().toLowerCase(), phone, `+${phone}`, first.toLowerCase(), last.join('').toLowerCase(), e.street?.toLowerCase(), e.city?.toLowerCase(), e.state?.toLowerCase(), e.zip?.slice(0, 5), e.country?.toLowerCase(), e.visitor_id], identifiers);
  }),
  postback: fromDriver(postback, (request, identifiers) => {
    const digest = (t: string) => createHash('sha256').update(t).digest();
    if (!timingSafeEqual(digest(request.headers.authorization.slice('Bearer '.length)), digest(postback.env.POSTBACK_TOKEN))) throw new Error('floor: bad token');
    const p = JSON.parse(request.body);
    return hashAll([p.clickid], identifiers);
  }),
  clickbank: fromDriver(clickbank, (request, identifiers) => {
    // ClickBank's published scheme: key = first 32 hex characters of SHA-1(secret key), AES-256-CBC, base64 fields.
    const envelope = JSON.parse(request.body);
    const key = Buffer.from(createHash('sha1').update(clickbank.env.CLICKBANK_SECRET_KEY).digest('hex').slice(0, 32), 'ascii');
    const decipher = createDecipheriv('aes-256-cbc', key, Buffer.from(envelope.iv, 'base64'));
    const plain = Buffer.concat([decipher.update(Buffer.from(envelope.notification, 'base64')), decipher.final()]).toString('utf8');
    const c = JSON.parse(plain).customer.billing;
    const phone = digits(c.phoneNumber);
    return hashAll([c.email.trim().toLowerCase(), phone, `+${phone}`, c.firstName?.toLowerCase(), c.lastName?.toLowerCase(), c.address?.address1?.toLowerCase(), c.address?.city?.toLowerCase(),
      c.address?.state?.toLowerCase(), c.address?.postalCode?.slice(0, 5), c.address?.country?.toLowerCase()], identifiers);
  }),
  // HubSpot sends IDs only: the floor fetches the deal, its contact link and the contact as HubSpot's CRM API
  // offers them (the same three batch reads, two of them in parallel) with bare fetch.
  hubspot: fromDriver(hubspot, async (request, identifiers) => {
    const env = hubspot.env;
    const ts = request.headers['x-hubspot-request-timestamp'];
    if (!timingSafeEqualText(request.headers['x-hubspot-signature-v3'], hubspotSignatureV3(env.HUBSPOT_CLIENT_SECRET, 'POST', env.HUBSPOT_WEBHOOK_URL, request.body, ts))) throw new Error('floor: bad signature');
    if (!fresh(ts, 'ms')) throw new Error('floor: stale');
    const [event] = JSON.parse(request.body);
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${env.HUBSPOT_API_BASE_URL}${path}`, { method: 'POST', headers: { authorization: `Bearer ${env.HUBSPOT_ACCESS_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (res.status !== 200) throw new Error(`floor: ${path} answered ${res.status}`);
      return (await res.json()) as any;
    };
    const inputs = [{ id: String(event.objectId) }];
    const [, links] = await Promise.all([
      post('/crm/v3/objects/deals/batch/read', { properties: ['amount', 'deal_currency_code'], inputs }),
      post('/crm/v4/associations/deal/contact/batch/read', { inputs }),
    ]);
    const contactId = String(links.results[0].to[0].toObjectId);
    const properties = ['email', 'phone', 'firstname', 'lastname', 'address', 'city', 'state', 'zip', 'country', 'relay_visitor_id'];
    const c = (await post('/crm/v3/objects/contacts/batch/read', { properties, inputs: [{ id: contactId }] })).results[0].properties;
    const phone = digits(c.phone);
    return hashAll([c.email?.trim().toLowerCase(), phone, `+${phone}`, c.firstname?.toLowerCase(), c.lastname?.toLowerCase(), c.address?.toLowerCase(), c.city?.toLowerCase(),
      c.state?.toLowerCase(), c.zip?.slice(0, 5), c.country?.toLowerCase(), c.relay_visitor_id], identifiers);
  }),
};
