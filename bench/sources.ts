import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import { STRIPE_SECRET, stripeCheckoutWebhook, type HttpRequestSpec } from './fixtures.ts';

/**
 * How the bench exercises each source in functions/registry.ts: a fresh, valid, signed request; the settings it needs;
 * and the "floor" for the same request — what any implementation must do at least (check the signature, parse,
 * (decrypt,) SHA-256 the identifiers) with bare node:crypto. A source in the registry without an entry here is
 * reported as "no bench request"; add one next to it.
 */
export interface SourceBench {
  settings: Record<string, string>;
  request(opts?: { visitorId?: string }): HttpRequestSpec;
  /** Verify, parse and hash `identifiers` values of the request with bare node:crypto; returns the number hashed. */
  floor(request: HttpRequestSpec, identifiers: number): number;
}

/** Sources the issue names that are built on other branches: shown as "not yet available" until they are registered. */
export const EXPECTED_SOURCES = ['stripe', 'clickbank', 'crm'];

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
};
