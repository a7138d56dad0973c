import { describe, expect, it } from 'vitest';
import { RequestError } from '#core/errors.ts';
import type { IncomingRequest, Settings } from '#sources/types.ts';
import { NOW, sha256 } from '../../../test/support/factories.ts';
import { TEST_VISITOR_ID as VISITOR_ID, incomingRequest, tampered } from '../../../test/support/requests.ts';
import { hubspotSignatureV3 as v3 } from '../../../test/support/signatures.ts';
import { asConversion, conversionsOf, rejection } from '../../../test/support/source-results.ts';
import type { HubSpotContact, HubSpotCrm, HubSpotDeal } from './crm-api.ts';
import { createHubSpotSource } from './index.ts';
import { decodeForSignature } from './signature.ts';

const SECRET = 'hs-client-secret-0b1c';
const HOST = 'relay.example.com';
const URL_ = `https://${HOST}/webhooks/hubspot`;
const SETTINGS = { HUBSPOT_CLIENT_SECRET: SECRET, HUBSPOT_ACCESS_TOKEN: 'pat-na1-test' };

function signed(events: unknown, opts: { secret?: string; ts?: number; uri?: string; headers?: Record<string, string>; raw?: string; path?: string; rawQuery?: string } = {}): IncomingRequest {
  const body = opts.raw ?? JSON.stringify(events);
  const ts = String(opts.ts ?? NOW.getTime() - 2000);
  return incomingRequest({
    path: opts.path ?? '/webhooks/hubspot',
    rawQuery: opts.rawQuery,
    headers: {
      host: HOST,
      'x-forwarded-proto': 'https',
      'content-type': 'application/json',
      'x-hubspot-signature-v3': v3(opts.secret ?? SECRET, 'POST', opts.uri ?? URL_, body, ts),
      'x-hubspot-request-timestamp': ts,
      ...opts.headers,
    },
    body,
  });
}

/** A HubSpot Webhooks API event as documented (developers.hubspot.com → webhooks). */
const hsEvent = (overrides: Record<string, unknown> = {}) => ({
  eventId: 1001,
  subscriptionId: 12345,
  portalId: 62515,
  appId: 54321,
  occurredAt: NOW.getTime() - 60_000,
  subscriptionType: 'deal.propertyChange',
  attemptNumber: 0,
  objectId: 9001,
  changeSource: 'CRM',
  propertyName: 'dealstage',
  propertyValue: 'closedwon',
  ...overrides,
});

/** The CRM API in memory; counts calls so tests can check batching. */
class FakeCrm implements HubSpotCrm {
  calls: string[] = [];
  dealsById = new Map<string, HubSpotDeal>([['9001', { amount: '1500.50', currency: 'eur', contactIds: ['51'] }]]);
  contactsById = new Map<string, HubSpotContact>([
    ['51', { email: ' Jane.Doe@Example.com ', phone: '+1 (415) 555-0100', firstname: 'Jane', lastname: 'Doe', city: 'San Francisco', state: 'CA', zip: '94105', country: 'United States', relay_visitor_id: VISITOR_ID }],
  ]);
  async deals(ids: string[]) {
    this.calls.push(`deals:${ids.join(',')}`);
    return new Map(ids.filter((id) => this.dealsById.has(id)).map((id) => [id, this.dealsById.get(id)!]));
  }
  async contacts(ids: string[], properties: string[]) {
    this.calls.push(`contacts:${ids.join(',')}:${properties.includes('relay_visitor_id')}`);
    return new Map(ids.filter((id) => this.contactsById.has(id)).map((id) => [id, this.contactsById.get(id)!]));
  }
}

function setup() {
  const crm = new FakeCrm();
  const source = createHubSpotSource({ crm: (s) => (s.HUBSPOT_ACCESS_TOKEN ? crm : undefined) });
  const read = (request: IncomingRequest, settings: Settings = SETTINGS) => source.read(request, settings, NOW);
  return { crm, read };
}

describe('hubspot source: deal won', () => {
  it('turns a deal moved to closedwon into a Purchase with the deal’s amount and currency', async () => {
    const { read } = setup();

    const [purchase] = conversionsOf(await read(signed([hsEvent()])));

    expect(purchase).toMatchObject({
      eventName: 'Purchase',
      eventId: 'hubspot-62515-deal-9001',
      orderId: 'hubspot-62515-deal-9001',
      value: 1500.5,
      currency: 'EUR',
      actionSource: 'crm',
      occurredAt: new Date(NOW.getTime() - 60_000).toISOString(),
      leadEventSource: 'HubSpot',
      visitorId: VISITOR_ID,
      source: { name: 'hubspot', eventId: '1001', eventType: 'deal.propertyChange' },
    });
  });

  it('hashes the deal’s contact read through the CRM API, and keeps nothing raw', async () => {
    const { read } = setup();

    const result = await read(signed([hsEvent()]));
    const [purchase] = conversionsOf(result);

    expect(purchase.user).toMatchObject({
      email: sha256('jane.doe@example.com'),
      phone: sha256('14155550100'),
      firstName: sha256('jane'),
      lastName: sha256('doe'),
      city: sha256('sanfrancisco'),
      country: sha256('us'),
      externalId: sha256('51'),
    });
    const text = JSON.stringify(result).toLowerCase();
    for (const raw of ['jane', 'doe', '@example.com', '555-0100', 'san francisco']) expect(text, raw).not.toContain(raw);
  });

  it('uses HUBSPOT_DEFAULT_CURRENCY when the deal has no currency', async () => {
    const { read, crm } = setup();
    crm.dealsById.set('9001', { amount: '99', currency: null, contactIds: [] });

    const [purchase] = conversionsOf(await read(signed([hsEvent()]), { ...SETTINGS, HUBSPOT_DEFAULT_CURRENCY: 'gbp' }));

    expect(purchase).toMatchObject({ value: 99, currency: 'GBP' });
  });

  it('gives the same event ID when a deal is won twice (reopened, won again): one Purchase', async () => {
    const { read } = setup();

    const [a] = conversionsOf(await read(signed([hsEvent({ eventId: 1 })])));
    const [b] = conversionsOf(await read(signed([hsEvent({ eventId: 2, occurredAt: NOW.getTime() - 1000 })])));

    expect(a.eventId).toBe(b.eventId);
  });

  it('takes a custom pipeline’s won stage from RELAY_MAPPING', async () => {
    const { read } = setup();
    const settings = { ...SETTINGS, RELAY_MAPPING: '{"sources":{"hubspot":{"deal.dealstage=1234567":"Purchase"}}}' };

    const [purchase] = conversionsOf(await read(signed([hsEvent({ propertyValue: '1234567' })]), settings));

    expect(purchase.eventName).toBe('Purchase');
  });

  it('records a move to a stage that is not mapped as skipped, naming the trigger', async () => {
    const { read } = setup();

    const result = await read(signed([hsEvent({ propertyValue: 'appointmentscheduled' })]));

    expect(result).toMatchObject({ kind: 'skipped', reason: expect.stringContaining('deal.dealstage=appointmentscheduled is not mapped') });
  });

  it('never puts the new value of a personal property (an e-mail) in a skip reason', async () => {
    const { read } = setup();

    const result = await read(signed([hsEvent({ subscriptionType: 'contact.propertyChange', objectId: 51, propertyName: 'email', propertyValue: 'jane.doe@example.com' })]));

    expect(result).toMatchObject({ kind: 'skipped', reason: expect.stringContaining('contact.email=<value> is not mapped') });
    expect(JSON.stringify(result)).not.toContain('jane.doe');
  });

  it('without HUBSPOT_ACCESS_TOKEN records a won deal as skipped, saying why', async () => {
    const { read, crm } = setup();

    const result = await read(signed([hsEvent()]), { HUBSPOT_CLIENT_SECRET: SECRET });

    expect(result).toMatchObject({ kind: 'skipped', reason: expect.stringMatching(/set HUBSPOT_ACCESS_TOKEN/) });
    expect(crm.calls).toEqual([]);
  });
});

describe('hubspot source: contacts', () => {
  it('turns contact.creation into a Lead with the contact’s hashed details and visitor ID', async () => {
    const { read } = setup();

    const [lead] = conversionsOf(await read(signed([hsEvent({ subscriptionType: 'contact.creation', objectId: 51, propertyName: undefined, propertyValue: undefined, changeFlag: 'NEW' })])));

    expect(lead).toMatchObject({ eventName: 'Lead', eventId: 'hubspot-62515-contact-51:lead', visitorId: VISITOR_ID, actionSource: 'crm' });
    expect(lead.user.email).toBe(sha256('jane.doe@example.com'));
    expect(lead.value).toBeUndefined();
  });

  it('reads the newer generic subscriptions (object.creation with objectTypeId 0-1)', async () => {
    const { read } = setup();

    const [lead] = conversionsOf(await read(signed([hsEvent({ subscriptionType: 'object.creation', objectTypeId: '0-1', objectId: 51 })])));

    expect(lead.eventName).toBe('Lead');
  });

  it('without the access token, still reports the Lead with the hashed contact ID only', async () => {
    const { read } = setup();

    const [lead] = conversionsOf(await read(signed([hsEvent({ subscriptionType: 'contact.creation', objectId: 51 })]), { HUBSPOT_CLIENT_SECRET: SECRET }));

    expect(lead.user).toEqual({ externalId: sha256('51') });
  });

  it('turns MQL and SQL into one QualifiedLead per contact (same event ID)', async () => {
    const { read } = setup();
    const change = (value: string, eventId: number) => hsEvent({ eventId, subscriptionType: 'contact.propertyChange', objectId: 51, propertyName: 'lifecyclestage', propertyValue: value });

    const [mql, sql] = conversionsOf(await read(signed([change('marketingqualifiedlead', 1), change('salesqualifiedlead', 2)])));

    expect([mql.eventName, sql.eventName]).toEqual(['QualifiedLead', 'QualifiedLead']);
    expect(mql.eventId).toBe(sql.eventId);
  });

  it('maps form submissions through an any-value trigger (contact.recent_conversion_date): one Lead per submission', async () => {
    const { read } = setup();
    const settings = { ...SETTINGS, RELAY_MAPPING: '{"sources":{"hubspot":{"contact.recent_conversion_date":"Lead"}}}' };
    const submit = (value: string, eventId: number) => hsEvent({ eventId, subscriptionType: 'contact.propertyChange', objectId: 51, propertyName: 'recent_conversion_date', propertyValue: value });

    const [a, b] = conversionsOf(await read(signed([submit('1772450000000', 1), submit('1772451000000', 2)]), settings));

    expect([a.eventName, b.eventName]).toEqual(['Lead', 'Lead']);
    expect(a.eventId).not.toBe(b.eventId);
  });
});

describe('hubspot source: batches', () => {
  it('reads a batch with three API calls at most, and records the events that are not conversions', async () => {
    const { read, crm } = setup();
    crm.dealsById.set('9002', { amount: '10', currency: 'USD', contactIds: ['51'] });
    const batch = [
      hsEvent({ eventId: 1 }),
      hsEvent({ eventId: 2, objectId: 9002 }),
      hsEvent({ eventId: 3, subscriptionType: 'contact.creation', objectId: 51 }),
      hsEvent({ eventId: 4, subscriptionType: 'contact.deletion', objectId: 52 }),
      hsEvent({ eventId: 5, propertyName: 'amount', propertyValue: '12' }),
    ];

    const result = await read(signed(batch));

    expect(conversionsOf(result).map((c) => c.eventName)).toEqual(['Purchase', 'Purchase', 'Lead']);
    expect(result.skipped?.map((s) => s.sourceEventId)).toEqual(['4', '5']);
    expect(crm.calls).toEqual(['deals:9001,9002', 'contacts:51:true']);
  });

  it('produces drafts that are valid Conversions once clicks and consent are attached', async () => {
    const { read } = setup();

    for (const c of conversionsOf(await read(signed([hsEvent(), hsEvent({ eventId: 3, subscriptionType: 'contact.creation', objectId: 51 })])))) {
      expect(() => asConversion(c)).not.toThrow();
    }
  });

  it('lets a CRM API failure through as a plain error (500), so HubSpot retries the batch', async () => {
    const source = createHubSpotSource({
      crm: () => ({ deals: async () => Promise.reject(new Error('HubSpot CRM API answered 429')), contacts: async () => new Map() }),
    });

    await expect(source.read(signed([hsEvent()]), SETTINGS, NOW)).rejects.not.toBeInstanceOf(RequestError);
  });
});

describe('hubspot source: signature v3', () => {
  it('accepts a signature over the URL rebuilt from X-Forwarded-Proto, Host, path and query', async () => {
    const { read } = setup();

    const result = await read(signed([hsEvent()], { uri: `${URL_}?portal=62515&x=1`, rawQuery: 'portal=62515&x=1' }));

    expect(result.kind).toBe('conversions');
  });

  it('accepts http or https when no X-Forwarded-Proto is present (local runner behind a tunnel)', async () => {
    const { read } = setup();

    const result = await read(signed([hsEvent()], { uri: `http://${HOST}/webhooks/hubspot`, headers: { 'x-forwarded-proto': '' } }));

    expect(result.kind).toBe('conversions');
  });

  it('uses HUBSPOT_WEBHOOK_URL as the signed URL when set (custom domain with a base path)', async () => {
    const { read } = setup();
    const publicUrl = 'https://track.example.org/relay/webhooks/hubspot';

    expect((await read(signed([hsEvent()], { uri: publicUrl }), { ...SETTINGS, HUBSPOT_WEBHOOK_URL: publicUrl })).kind).toBe('conversions');
    expect(await rejection(read(signed([hsEvent()], { uri: publicUrl })))).toMatchObject({ status: 401, code: 'invalid_signature' });
  });

  it('decodes the characters HubSpot lists before hashing the URI', async () => {
    expect(decodeForSignature('https://h/p%3Aa%2Fb%3Fc%40d%21e%24f%27g%28h%29i%2Aj%2Ck%3Bl%20m')).toBe("https://h/p:a/b?c@d!e$f'g(h)i*j,k;l%20m");
    const { read } = setup();

    const result = await read(signed([hsEvent()], { uri: `${URL_}?a=b:c`, rawQuery: 'a=b%3Ac' }));

    expect(result.kind).toBe('conversions');
  });

  it('rejects another secret’s signature: 401 invalid_signature, never naming the secret', async () => {
    const { read } = setup();

    const err = await rejection(read(signed([hsEvent()], { secret: 'other' })));

    expect(err).toMatchObject({ status: 401, code: 'invalid_signature' });
    expect(err.message).not.toContain(SECRET);
  });

  it('rejects a body changed after signing', async () => {
    const { read } = setup();
    const request = tampered(signed([hsEvent()]), '9001', '9002');

    expect(await rejection(read(request))).toMatchObject({ status: 401, code: 'invalid_signature' });
  });

  it('rejects a timestamp older than 5 minutes (replay), accepts one just inside', async () => {
    const { read } = setup();

    expect(await rejection(read(signed([hsEvent()], { ts: NOW.getTime() - 300_001 })))).toMatchObject({ status: 401, code: 'stale_timestamp' });
    expect((await read(signed([hsEvent()], { ts: NOW.getTime() - 299_000 }))).kind).toBe('conversions');
  });

  it('rejects a request without the v3 headers (a v1-only request)', async () => {
    const { read } = setup();
    const request = signed([hsEvent()]);
    delete request.headers['x-hubspot-signature-v3'];

    expect(await rejection(read(request))).toMatchObject({ status: 401, code: 'missing_signature' });
  });

  it('accepts the second of two comma-separated client secrets (rotation)', async () => {
    const { read } = setup();

    expect((await read(signed([hsEvent()], { secret: 'new' }), { ...SETTINGS, HUBSPOT_CLIENT_SECRET: 'old,new' })).kind).toBe('conversions');
  });

  it('throws a plain Error (500) when HUBSPOT_CLIENT_SECRET is not configured', async () => {
    const { read } = setup();

    await expect(read(signed([hsEvent()]), {})).rejects.not.toBeInstanceOf(RequestError);
  });
});

describe('hubspot source: bad bodies', () => {
  it('rejects a signed body that is not JSON: 400 malformed_body', async () => {
    const { read } = setup();

    expect(await rejection(read(signed(null, { raw: '[{' })))).toMatchObject({ status: 400, code: 'malformed_body' });
  });

  // occurredAt past the last instant a Date holds used to throw a RangeError (a 500, retried by HubSpot for days).
  it.each([[{}], [[]], [[{ eventId: 1 }]], [[hsEvent({ occurredAt: 'yesterday' })]], [[hsEvent({ occurredAt: 8.64e15 + 1 })]]])('rejects %j: 400 malformed_event', async (body) => {
    const { read } = setup();

    expect(await rejection(read(signed(body)))).toMatchObject({ status: 400, code: 'malformed_event' });
  });
});
