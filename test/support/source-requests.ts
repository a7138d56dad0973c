import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startHubSpotFake, type HubSpotFake } from '../fakes/hubspot-server.ts';
import { clickbankEncryptBytes, clickbankNotification } from './clickbank.ts';
import { stripeEvent } from './factories.ts';
import { PROJECT_ROOT } from './relay-process.ts';
import { crmSignature, hubspotSignatureV3 } from './signatures.ts';

/**
 * How the cross-cutting suites (faults, bad input, PII audit, CLI) produce genuine requests for each source in the
 * registry. A source added to functions/registry.ts joins those suites by adding its entry here; a source without
 * one is still fuzzed with unauthenticated input, and the suites say which checks they could not run for it.
 */
export interface Customer {
  email?: string;
  phone?: string;
  name?: string;
  address?: { line1?: string; line2?: string | null; city?: string; state?: string; postal_code?: string; country?: string };
}

export interface SourceRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  /** Usually text; bytes when a test sends what is not valid UTF-8. */
  body: string | Buffer;
}

export interface SourceDriver {
  /** Settings the relay needs to accept this source's requests (its signing secrets). */
  env: Record<string, string>;
  /** The secrets among `env`: they must never appear in a log line. */
  secrets: string[];
  /**
   * A genuine purchase of `amount` (major units, USD) identified by `id` (the event ID the platforms see), signed as
   * the source signs it at `at`. `sourceEventId` distinguishes redeliveries of the same business event where the
   * source does (Stripe: the same event ID on every retry).
   */
  purchase(opts: { id: string; customer?: Customer; amount?: number; at?: Date; visitorId?: string }): SourceRequest;
  /** A refund or reversal of the purchase `id`, where the source reports one. */
  refund?(opts: { id: string; amount?: number; at?: Date }): SourceRequest;
  /** Signs (or otherwise authenticates) an arbitrary body as this source would, at `at`. */
  sign(body: string | Buffer, at?: Date): SourceRequest;
  /** The oldest signature the source's replay window still accepts, in seconds (undefined: no timestamp in it). */
  replayWindowSeconds?: number;
  /**
   * What protects the body: `hmac` (default) a signature over its exact bytes, so any change is refused;
   * `encryption` (ClickBank: AES-CBC without a MAC) a change is refused unless it leaves the same notification;
   * `none` (postback: a token, the body unprotected) a changed body is a different, still authenticated request.
   */
  bodyIntegrity?: 'hmac' | 'encryption' | 'none';
  /**
   * The content `sign` authenticates, for a request this driver made: the body itself by default; ClickBank's
   * notification before encryption. Edit it and pass it to `sign` to send a changed but genuine event.
   */
  content?(req: SourceRequest): string | Buffer;
  /** The platform event ID of `purchase({ id })`, where the source derives it from more than `id` (HubSpot). */
  eventId?(id: string): string;
  /** A request the source would refuse as not its own, for sources whose authentication is not in a header. */
  forge?(req: SourceRequest): SourceRequest;
  /** False for a source whose requests carry no customer details (postback: a click ID and a payout). */
  carriesCustomer?: boolean;
  /** Starts what the source needs besides the relay (HubSpot: a fake of its CRM API); `env` holds its address after. */
  start?(): Promise<() => Promise<void>>;
}

// ---------------------------------------------------------------------------------------------------------------
// Stripe (sources.md §2): Stripe-Signature t=<unix>,v1=<hmac>; the same event ID on every retry.

const STRIPE_SECRET = 'whsec_suite_stripe_signing_secret_0123456789';
const stripeFixture = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/stripe/checkout.session.json'), 'utf8'));

/** Stripe's scheme (docs.stripe.com/webhooks#verify-manually): v1 = HMAC-SHA256(secret, "<t>.<raw body bytes>"). */
function stripeSigned(body: string | Buffer, at = new Date()): SourceRequest {
  const t = Math.floor(at.getTime() / 1000);
  const v1 = createHmac('sha256', STRIPE_SECRET).update(Buffer.concat([Buffer.from(`${t}.`), Buffer.from(body)])).digest('hex');
  const signature = `t=${t},v1=${v1}`;
  return { method: 'POST', path: '/webhooks/stripe', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body };
}

const stripe: SourceDriver = {
  env: { STRIPE_WEBHOOK_SECRET: STRIPE_SECRET },
  secrets: [STRIPE_SECRET],
  replayWindowSeconds: 300,
  sign: stripeSigned,
  purchase({ id, customer, amount = 49.99, at = new Date(), visitorId }) {
    const cents = Math.round(amount * 100);
    const session = {
      ...stripeFixture,
      id,
      // Stripe keys a one-off payment by its PaymentIntent where there is one; the driver makes it the same ID, so
      // the event ID is `id` whichever the source uses, and a refund of the charge points back at this purchase.
      payment_intent: id,
      amount_total: cents,
      amount_subtotal: cents,
      currency: 'usd',
      payment_status: 'paid',
      status: 'complete',
      created: Math.floor(at.getTime() / 1000),
      client_reference_id: visitorId ?? null,
      customer_details: { ...stripeFixture.customer_details, ...customer, address: { ...stripeFixture.customer_details?.address, ...customer?.address } },
    };
    const event = stripeEvent('checkout.session.completed', session, { id: `evt_${id}`, created: Math.floor(at.getTime() / 1000) });
    return stripeSigned(JSON.stringify(event), new Date());
  },
  refund({ id, amount = 49.99, at = new Date() }) {
    const cents = Math.round(amount * 100);
    const charge = {
      id: `ch_${id}`,
      object: 'charge',
      amount: cents,
      amount_captured: cents,
      amount_refunded: cents,
      currency: 'usd',
      refunded: true,
      paid: true,
      status: 'succeeded',
      created: Math.floor(at.getTime() / 1000),
      payment_intent: id,
      metadata: {},
      billing_details: { email: null, phone: null, name: null, address: null },
    };
    const event = stripeEvent('charge.refunded', charge, { id: `evt_refund_${id}`, created: Math.floor(at.getTime() / 1000) });
    return stripeSigned(JSON.stringify(event), new Date());
  },
};

// ---------------------------------------------------------------------------------------------------------------
// ClickBank (sources.md §3): the notification JSON, AES-256-CBC encrypted with the secret key; no timestamp, no MAC.

const CLICKBANK_SECRET = 'SUITECLICKBANKKEY0123456789ABCDEF';
/** The plaintext of each request the driver encrypted, so a suite can edit the notification and encrypt it again. */
const clickbankPlaintext = new WeakMap<SourceRequest, string | Buffer>();

function clickbankSigned(plaintext: string | Buffer): SourceRequest {
  const req: SourceRequest = { method: 'POST', path: '/webhooks/clickbank', headers: { 'content-type': 'application/json' }, body: JSON.stringify(clickbankEncryptBytes(plaintext, CLICKBANK_SECRET)) };
  clickbankPlaintext.set(req, plaintext);
  return req;
}

function splitName(name: string | undefined): { firstName?: string; lastName?: string } {
  if (!name) return {};
  const [first, ...rest] = name.trim().split(/\s+/);
  return { firstName: first, lastName: rest.join(' ') || undefined };
}

function clickbankPerson(c: Customer | undefined) {
  if (!c) return undefined;
  const a = c.address;
  return {
    ...splitName(c.name),
    fullName: c.name,
    email: c.email,
    phoneNumber: c.phone,
    address: a && { address1: a.line1, address2: a.line2 ?? undefined, city: a.city, state: a.state, postalCode: a.postal_code, country: a.country },
  };
}

function clickbankOrder(type: string, opts: { id: string; customer?: Customer; amount?: number; at?: Date; visitorId?: string }, amount: number): string {
  const person = clickbankPerson(opts.customer);
  const notification = clickbankNotification(
    {
      receipt: opts.id,
      transactionType: type,
      totalOrderAmount: amount,
      totalAccountAmount: amount,
      lineItems: [{ itemNo: '1', productTitle: 'Relay Suite Product', shippable: false, recurring: false, accountAmount: amount, quantity: 1, lineItemType: 'ORIGINAL', productPrice: Math.abs(amount) }],
      ...(person ? { customer: { billing: person, shipping: person } } : {}),
      vendorVariables: opts.visitorId ? { cr_vid: opts.visitorId } : null,
    },
    opts.at ?? new Date(),
  );
  return JSON.stringify(notification);
}

const clickbank: SourceDriver = {
  env: { CLICKBANK_SECRET_KEY: CLICKBANK_SECRET },
  secrets: [CLICKBANK_SECRET],
  bodyIntegrity: 'encryption',
  sign: (body) => clickbankSigned(body),
  content: (req) => clickbankPlaintext.get(req) ?? req.body,
  purchase: (opts) => clickbankSigned(clickbankOrder('SALE', opts, opts.amount ?? 47)),
  // ClickBank reports a refund as RFND with the sale's receipt; the amount may arrive negative.
  refund: (opts) => clickbankSigned(clickbankOrder('RFND', opts, -(opts.amount ?? 47))),
  // Encrypted with another account's key: ClickBank's only proof of origin is the key.
  forge: (req) => {
    const plaintext = clickbankPlaintext.get(req) ?? req.body;
    return { ...req, body: JSON.stringify(clickbankEncryptBytes(plaintext, `${CLICKBANK_SECRET}-not-ours`)) };
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Postback (sources.md §4): parameters with a token; here POSTed as JSON with Authorization: Bearer.

const POSTBACK_TOKEN = 'pb_suite_token_0123456789abcdef';

/** A visitor ID (a UUID, as /collect issues) derived from the order, so every retry carries the same click. */
function derivedVisitorId(id: string): string {
  const h = createHash('sha256').update(`visitor:${id}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function postbackSigned(body: string | Buffer): SourceRequest {
  return { method: 'POST', path: '/postback', headers: { 'content-type': 'application/json', authorization: `Bearer ${POSTBACK_TOKEN}` }, body };
}

const postback: SourceDriver = {
  env: { POSTBACK_TOKEN },
  secrets: [POSTBACK_TOKEN],
  bodyIntegrity: 'none',
  carriesCustomer: false,
  sign: postbackSigned,
  // A network's postback carries the click and the payout, no customer details and no time (it is sent at once).
  purchase: ({ id, amount = 12.5, visitorId }) =>
    postbackSigned(JSON.stringify({ clickid: visitorId ?? derivedVisitorId(id), txid: id, payout: amount, currency: 'USD', event: 'purchase', status: 'approved' })),
};

// ---------------------------------------------------------------------------------------------------------------
// Generic CRM webhook (sources.md §6): X-Relay-Signature sha256=HMAC(secret, "<timestamp>.<body>").

const CRM_SECRET = 'crm_suite_webhook_secret_0123456789';

function crmSigned(body: string | Buffer, at = new Date()): SourceRequest {
  const t = String(Math.floor(at.getTime() / 1000));
  return { method: 'POST', path: '/webhooks/crm', headers: { 'content-type': 'application/json', 'x-relay-timestamp': t, 'x-relay-signature': crmSignature(CRM_SECRET, t, body) }, body };
}

const crm: SourceDriver = {
  env: { CRM_WEBHOOK_SECRET: CRM_SECRET },
  secrets: [CRM_SECRET],
  replayWindowSeconds: 300,
  sign: crmSigned,
  // A CRM's deal always has its contact: without a given customer, one with only an e-mail (like the other drivers'
  // fixtures, so that the platforms can match it).
  purchase({ id, customer: c = { email: `contact.${id}@example.com` }, amount = 1200, at = new Date(), visitorId }) {
    const a = c.address;
    const event = {
      event: 'Purchase',
      event_id: id,
      order_id: id,
      time: Math.floor(at.getTime() / 1000),
      value: amount,
      currency: 'USD',
      visitor_id: visitorId,
      email: c.email,
      phone: c.phone,
      name: c.name,
      street: a && [a.line1, a.line2].filter(Boolean).join(', '),
      city: a?.city,
      state: a?.state,
      zip: a?.postal_code,
      country: a?.country,
    };
    return crmSigned(JSON.stringify(event));
  },
};

// ---------------------------------------------------------------------------------------------------------------
// HubSpot (sources.md §5): a deal reaching closedwon (the default mapping's Purchase), signed v3; the deal's amount
// and its contact come from HubSpot's CRM API, here the fake in test/fakes/hubspot-server.ts.

const HUBSPOT_SECRET = 'hubspot-suite-client-secret-0123456789';
const HUBSPOT_TOKEN = 'pat-na1-suite-0123456789';
const HUBSPOT_PORTAL = 62515;
/** The URL entered in HubSpot; the relay checks signatures against it (it runs behind an ephemeral local port). */
const HUBSPOT_URL = 'https://relay.example.test/webhooks/hubspot';
let hubspotFake: HubSpotFake | undefined;

/** HubSpot object IDs are numbers: the deal's and its contact's are derived from the order so retries match. */
const hubspotNumber = (what: string, id: string) => String(parseInt(createHash('sha256').update(`${what}:${id}`).digest('hex').slice(0, 12), 16));

function hubspotSigned(body: string | Buffer, at = new Date()): SourceRequest {
  const ts = String(at.getTime());
  const sig = hubspotSignatureV3(HUBSPOT_SECRET, 'POST', HUBSPOT_URL, body, ts);
  return { method: 'POST', path: '/webhooks/hubspot', headers: { 'content-type': 'application/json', 'x-hubspot-signature-v3': sig, 'x-hubspot-request-timestamp': ts }, body };
}

const hubspot: SourceDriver = {
  // Without the fake running, no access token: the relay must never call the real api.hubapi.com.
  get env(): Record<string, string> {
    return {
      HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET,
      HUBSPOT_WEBHOOK_URL: HUBSPOT_URL,
      ...(hubspotFake ? { HUBSPOT_ACCESS_TOKEN: HUBSPOT_TOKEN, HUBSPOT_API_BASE_URL: hubspotFake.baseUrl } : {}),
    };
  },
  secrets: [HUBSPOT_SECRET, HUBSPOT_TOKEN],
  replayWindowSeconds: 300,
  sign: hubspotSigned,
  eventId: (id) => `hubspot-${HUBSPOT_PORTAL}-deal-${hubspotNumber('deal', id)}`,
  async start() {
    hubspotFake ??= await startHubSpotFake({ token: HUBSPOT_TOKEN });
    return async () => {
      await hubspotFake?.close();
      hubspotFake = undefined;
    };
  },
  purchase({ id, customer: c, amount = 2500, at = new Date(), visitorId }) {
    if (!hubspotFake) throw new Error('the HubSpot driver needs its CRM API fake: await startDriverFakes() first');
    const dealId = hubspotNumber('deal', id);
    const contactId = hubspotNumber('contact', id);
    const { firstName, lastName } = splitName(c?.name);
    const a = c?.address;
    hubspotFake.contacts.set(contactId, {
      email: c?.email ?? null,
      phone: c?.phone ?? null,
      firstname: firstName ?? null,
      lastname: lastName ?? null,
      address: a ? [a.line1, a.line2].filter(Boolean).join(', ') : null,
      city: a?.city ?? null,
      state: a?.state ?? null,
      zip: a?.postal_code ?? null,
      country: a?.country ?? null,
      relay_visitor_id: visitorId ?? null,
    });
    hubspotFake.deals.set(dealId, { properties: { amount: String(amount), deal_currency_code: 'USD' }, contactIds: [contactId] });
    // HubSpot's propertyChange event: IDs only, retried with the same eventId.
    const event = {
      eventId: Number(hubspotNumber('event', id)),
      subscriptionId: 2417011,
      portalId: HUBSPOT_PORTAL,
      appId: 4211009,
      occurredAt: at.getTime(),
      subscriptionType: 'deal.propertyChange',
      attemptNumber: 0,
      objectId: Number(dealId),
      propertyName: 'dealstage',
      propertyValue: 'closedwon',
      changeSource: 'CRM_UI_BULK_ACTION',
    };
    return hubspotSigned(JSON.stringify([event]));
  },
};

export const sourceDrivers: Record<string, SourceDriver> = { stripe, clickbank, postback, hubspot, crm };

/** Starts every driver's fakes (before `driverEnv()` is read for the relay); returns what stops them. */
export async function startDriverFakes(): Promise<() => Promise<void>> {
  const stops = await Promise.all(Object.values(sourceDrivers).map((d) => d.start?.()));
  return async () => {
    await Promise.all(stops.map((stop) => stop?.()));
  };
}

/** The platform event ID of `driver.purchase({ id })`. */
export const purchaseEventId = (driver: SourceDriver, id: string) => driver.eventId?.(id) ?? id;

/** The content `driver.sign` authenticates, for a request the driver made. */
export const contentOf = (driver: SourceDriver, req: SourceRequest) => driver.content?.(req) ?? req.body;

/**
 * The request with its authentication broken: each authentication header garbled, or the driver's own forgery
 * where the source authenticates otherwise (ClickBank: the encryption key).
 */
export function forged(driver: SourceDriver, req: SourceRequest): SourceRequest {
  if (driver.forge) return driver.forge(req);
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, k === 'content-type' ? v : `${v.slice(0, -3)}${v.endsWith('xyz') ? 'abc' : 'xyz'}`]));
  return { ...req, headers };
}

/** The settings every driver needs, merged, and every secret among them. */
export const driverEnv = () => Object.assign({}, ...Object.values(sourceDrivers).map((d) => d.env)) as Record<string, string>;
export const driverSecrets = () => Object.values(sourceDrivers).flatMap((d) => d.secrets);

export async function send(baseUrl: string, req: SourceRequest): Promise<Response> {
  return fetch(`${baseUrl}${req.path}`, { method: req.method, headers: req.headers, body: req.method === 'GET' ? undefined : typeof req.body === 'string' ? req.body : new Uint8Array(req.body), signal: AbortSignal.timeout(30_000) });
}
