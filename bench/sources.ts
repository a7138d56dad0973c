import { createDecipheriv, createHash, createHmac, hash, randomBytes, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../lib/constructs/relay-function.ts';
import { STRIPE_SECRET, stripeCheckoutWebhook, type HttpRequestSpec } from './fixtures.ts';

/**
 * How the bench exercises each source in functions/registry.ts: a fresh, valid, signed request; the settings it needs;
 * and the "floor" for the same request — what any implementation must do at least (check the signature, parse,
 * (decrypt,) SHA-256 the identifiers) with bare node:crypto. A source in the registry without an entry here is
 * reported as "no bench request"; add one next to it.
 */
export interface SourceBench {
  settings: Record<string, string>;
  /** Loads what `request` needs (e.g. a test helper from another branch); called once before use. */
  prepare?(): Promise<void>;
  request(opts?: { visitorId?: string }): HttpRequestSpec;
  /** Verify, parse and hash `identifiers` values of the request with bare node:crypto; returns the number hashed. */
  floor(request: HttpRequestSpec, identifiers: number): number;
}

/** Sources the issue names that are built on other branches: shown as "not yet available" until they are registered. */
export const EXPECTED_SOURCES = ['stripe', 'clickbank', 'crm', 'postback'];

/** ClickBank's side of an Instant Notification: test/support/clickbank.ts, loaded by path so this file compiles without it. */
let clickbank: { clickbankEncrypt(n: unknown, key: string): { notification: string; iv: string }; clickbankNotification(o?: Record<string, unknown>): Record<string, any> } | undefined;
const CLICKBANK_KEY = 'BENCHSECRETKEY01';
const CRM_SECRET = 'crm-bench-secret';
const POSTBACK_TOKEN = 'postback-bench-token';

export const sourceBenches: Record<string, SourceBench> = {
  stripe: {
    settings: { STRIPE_WEBHOOK_SECRET: STRIPE_SECRET },
    request: (opts) => stripeCheckoutWebhook(opts),
    floor(request, identifiers) {
      const header = request.headers['stripe-signature'];
      let t = '';
      const signatures: string[] = [];
      for (const part of header.split(',')) {
        const [k, v] = part.split('=', 2);
        if (k === 't') t = v;
        else if (k === 'v1') signatures.push(v);
      }
      const expected = createHmac('sha256', STRIPE_SECRET).update(`${t}.${request.body}`).digest();
      if (!signatures.some((s) => s.length === 64 && timingSafeEqual(Buffer.from(s, 'hex'), expected))) throw new Error('floor: bad signature');
      if (Math.abs(Date.now() / 1000 - Number(t)) > 300) throw new Error('floor: too old');
      const event = JSON.parse(request.body);
      const d = event.data.object.customer_details;
      const [first, ...last] = String(d.name).split(' ');
      const phone = String(d.phone).replace(/\D/g, '');
      const candidates = [d.email.trim().toLowerCase(), phone, `+${phone}`, first.toLowerCase(), last.join('').toLowerCase(), d.address.line1.toLowerCase(),
        d.address.city.toLowerCase(), d.address.state.toLowerCase(), d.address.postal_code.slice(0, 5), d.address.country.toLowerCase(), event.data.object.customer];
      let hashed = 0;
      for (let i = 0; i < identifiers; i++) if (hash('sha256', candidates[i % candidates.length], 'hex')) hashed++;
      return hashed;
    },
  },
  crm: {
    settings: { CRM_WEBHOOK_SECRET: CRM_SECRET },
    request(opts) {
      const orderId = `deal_bench_${randomBytes(6).toString('hex')}`;
      const body = JSON.stringify({
        event: 'Purchase', order_id: orderId, value: 49.99, currency: 'USD', visitor_id: opts?.visitorId,
        email: 'Jane.Doe@Example.com', phone: '+1 (415) 555-0100', first_name: 'Jane', last_name: 'Doe', street: '1 Market Street',
        city: 'San Francisco', state: 'CA', zip: '94105-1234', country: 'US', external_id: 'contact_123',
      });
      const ts = String(Math.floor(Date.now() / 1000));
      const signature = `sha256=${createHmac('sha256', CRM_SECRET).update(`${ts}.`).update(body).digest('hex')}`;
      return { method: 'POST', path: '/webhooks/crm', headers: { 'content-type': 'application/json', 'x-relay-timestamp': ts, 'x-relay-signature': signature }, body };
    },
    floor(request, identifiers) {
      const ts = request.headers['x-relay-timestamp'];
      const expected = createHmac('sha256', CRM_SECRET).update(`${ts}.`).update(request.body).digest();
      const given = Buffer.from(request.headers['x-relay-signature'].slice('sha256='.length), 'hex');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new Error('floor: bad signature');
      if (Math.abs(Date.now() / 1000 - Number(ts)) > 300) throw new Error('floor: stale');
      const e = JSON.parse(request.body);
      const phone = String(e.phone).replace(/\D/g, '');
      const candidates = [e.email.trim().toLowerCase(), phone, `+${phone}`, e.first_name.toLowerCase(), e.last_name.toLowerCase(), e.street.toLowerCase(), e.city.toLowerCase(), e.state.toLowerCase(), e.zip.slice(0, 5), e.country.toLowerCase(), e.external_id];
      let hashed = 0;
      for (let i = 0; i < identifiers; i++) if (hash('sha256', candidates[i % candidates.length], 'hex')) hashed++;
      return hashed;
    },
  },
  postback: {
    settings: { POSTBACK_TOKEN: POSTBACK_TOKEN },
    request(opts) {
      const body = JSON.stringify({ clickid: opts?.visitorId ?? 'vis_bench_postback', txid: `tx_bench_${randomBytes(6).toString('hex')}`, payout: '12.50', currency: 'USD' });
      return { method: 'POST', path: '/postback', headers: { 'content-type': 'application/json', authorization: `Bearer ${POSTBACK_TOKEN}` }, body };
    },
    floor(request, identifiers) {
      const digest = (t: string) => createHash('sha256').update(t).digest();
      if (!timingSafeEqual(digest(request.headers.authorization.slice('Bearer '.length)), digest(POSTBACK_TOKEN))) throw new Error('floor: bad token');
      const p = JSON.parse(request.body);
      let hashed = 0;
      for (let i = 0; i < identifiers; i++) if (hash('sha256', p.clickid, 'hex')) hashed++;
      return hashed;
    },
  },
  clickbank: {
    settings: { CLICKBANK_SECRET_KEY: CLICKBANK_KEY },
    async prepare() {
      clickbank ??= await import(pathToFileURL(path.join(PROJECT_ROOT, 'test/support/clickbank.ts')).href);
    },
    request() {
      if (!clickbank) throw new Error('bench: clickbank.prepare() first');
      const receipt = randomBytes(5).toString('hex').toUpperCase();
      const body = JSON.stringify(clickbank.clickbankEncrypt(clickbank.clickbankNotification({ receipt }), CLICKBANK_KEY));
      return { method: 'POST', path: '/webhooks/clickbank', headers: { 'content-type': 'application/json' }, body };
    },
    floor(request, identifiers) {
      // ClickBank's published scheme: key = first 32 hex characters of SHA-1(secret key), AES-256-CBC, base64 fields.
      const envelope = JSON.parse(request.body);
      const key = Buffer.from(createHash('sha1').update(CLICKBANK_KEY).digest('hex').slice(0, 32), 'ascii');
      const decipher = createDecipheriv('aes-256-cbc', key, Buffer.from(envelope.iv, 'base64'));
      const plain = Buffer.concat([decipher.update(Buffer.from(envelope.notification, 'base64')), decipher.final()]).toString('utf8');
      const n = JSON.parse(plain);
      const c = n.customer.billing;
      const phone = String(c.phoneNumber).replace(/\D/g, '');
      const candidates = [c.email.trim().toLowerCase(), phone, `+1${phone}`, c.firstName.toLowerCase(), c.lastName.toLowerCase(), c.address.state.toLowerCase(), c.address.postalCode.slice(0, 5), c.address.country.toLowerCase()];
      let hashed = 0;
      for (let i = 0; i < identifiers; i++) if (hash('sha256', candidates[i % candidates.length], 'hex')) hashed++;
      return hashed;
    },
  },
};
