import { describe, expect, it } from 'vitest';
import { RequestError } from '#core/errors.ts';
import { eventIdFor } from '#core/event-id.ts';
import type { IncomingRequest, Settings } from '#sources/types.ts';
import { NOW, sha256 } from '../../../test/support/factories.ts';
import { TEST_VISITOR_ID as VISITOR_ID, incomingRequest, tampered } from '../../../test/support/requests.ts';
import { crmSignature } from '../../../test/support/signatures.ts';
import { asConversion, conversionsOf, rejection } from '../../../test/support/source-results.ts';
import { crmSource } from './index.ts';

const SECRET = 'crm_test_secret_4f9a';
const SETTINGS = { CRM_WEBHOOK_SECRET: SECRET };
const NOW_S = Math.floor(NOW.getTime() / 1000);

/** Signs as the README tells a CRM to: HMAC-SHA256(secret, `${timestamp}.${body}`), hex, prefixed `sha256=`. */
function signed(body: unknown, opts: { secret?: string; timestamp?: number; raw?: string; contentType?: string } = {}): IncomingRequest {
  const raw = opts.raw ?? JSON.stringify(body);
  const ts = String(opts.timestamp ?? NOW_S);
  return incomingRequest({
    path: '/webhooks/crm',
    contentType: opts.contentType ?? 'application/json',
    headers: { 'x-relay-timestamp': ts, 'x-relay-signature': crmSignature(opts.secret ?? SECRET, ts, raw) },
    body: raw,
  });
}

const read = (request: IncomingRequest, settings: Settings = SETTINGS) => crmSource.read(request, settings, NOW);

const LEAD = {
  event: 'Lead',
  event_id: 'lead-1001',
  time: '2026-03-02T11:58:00Z',
  visitor_id: VISITOR_ID,
  lead_id: '1234567890123456',
  email: ' Jane.Doe@Example.com ',
  phone: '+1 (415) 555-0100',
  name: 'Jane Doe',
  city: 'San Francisco',
  state: 'CA',
  zip: '94105-1234',
  country: 'US',
};

describe('crm source: events', () => {
  it('reads a single event object into one conversion with hashed identifiers', async () => {
    const [lead] = conversionsOf(await read(signed(LEAD)));

    expect(lead).toMatchObject({
      eventId: 'lead-1001',
      eventName: 'Lead',
      occurredAt: '2026-03-02T11:58:00.000Z',
      actionSource: 'crm',
      visitorId: VISITOR_ID,
      leadId: '1234567890123456',
      leadEventSource: 'CRM',
      source: { name: 'crm', eventId: 'lead-1001', eventType: 'Lead' },
    });
    expect(lead.user).toMatchObject({
      email: sha256('jane.doe@example.com'),
      phone: sha256('14155550100'),
      firstName: sha256('jane'),
      lastName: sha256('doe'),
      city: sha256('sanfrancisco'),
      state: sha256('ca'),
      zip: sha256('94105'),
      country: sha256('us'),
    });
  });

  it('keeps no raw personal data in the result', async () => {
    const text = JSON.stringify(await read(signed(LEAD))).toLowerCase();

    for (const raw of ['jane', 'doe', '@example.com', '555-0100', '4155550100', 'san francisco', '94105']) expect(text, raw).not.toContain(raw);
  });

  it('reads a batch of events, each its own conversion', async () => {
    const body = {
      events: [
        LEAD,
        { event: 'Purchase', order_id: 'deal-2002', time: NOW_S - 60, value: 1200, currency: 'usd', email: 'jane.doe@example.com', crm: 'Pipedrive' },
      ],
    };

    const [lead, purchase] = conversionsOf(await read(signed(body)));

    expect(lead.eventName).toBe('Lead');
    expect(purchase).toMatchObject({
      eventId: 'deal-2002', // a Purchase's event ID is its order ID (what a thank-you page would send)
      eventName: 'Purchase',
      orderId: 'deal-2002',
      value: 1200,
      currency: 'USD',
      occurredAt: new Date((NOW_S - 60) * 1000).toISOString(),
      leadEventSource: 'Pipedrive',
    });
  });

  it('derives a non-purchase event ID from the order ID and the event name, so stages of one deal never collide', async () => {
    const body = { events: [{ event: 'QualifiedLead', order_id: 'deal-7' }, { event: 'Purchase', order_id: 'deal-7', value: 5, currency: 'EUR' }] };

    const ids = conversionsOf(await read(signed(body))).map((c) => c.eventId);

    expect(ids).toEqual([eventIdFor('deal-7', 'QualifiedLead'), 'deal-7']);
  });

  it('takes a custom event name and the CRM name from CRM_NAME', async () => {
    const [c] = conversionsOf(await read(signed({ event: 'Demo Booked', event_id: 'd-1', email: 'a@b.co' }), { ...SETTINGS, CRM_NAME: 'Zoho' }));

    expect(c.eventName).toBe('Demo Booked');
    expect(c.leadEventSource).toBe('Zoho');
  });

  it('uses the time of receipt when the event has none', async () => {
    const [c] = conversionsOf(await read(signed({ event: 'Lead', event_id: 'l-2', email: 'a@b.co' })));

    expect(c.occurredAt).toBe(NOW.toISOString());
  });

  it('carries the consent the CRM recorded', async () => {
    const [c] = conversionsOf(await read(signed({ ...LEAD, consent: { marketing: 'denied', ad_user_data: false } })));

    expect(c.consent).toMatchObject({ marketing: false, adUserData: false });
  });

  it('accepts action_source when the sender knows better (a website form posted by its backend)', async () => {
    const [c] = conversionsOf(await read(signed({ ...LEAD, action_source: 'website' })));

    expect(c.actionSource).toBe('website');
  });

  it('produces drafts that are valid Conversions once clicks and consent are attached', async () => {
    for (const c of conversionsOf(await read(signed({ events: [LEAD, { event: 'Purchase', order_id: 'o-1', value: 1, currency: 'USD' }] })))) {
      expect(() => asConversion(c)).not.toThrow();
    }
  });

  it('renames an event through RELAY_MAPPING and records an event the mapping turns off as skipped', async () => {
    const settings = { ...SETTINGS, RELAY_MAPPING: '{"sources":{"crm":{"deal_won":"Purchase","Opportunity":null}}}' };
    const body = { events: [{ event: 'deal_won', order_id: 'd-9', value: 10, currency: 'USD' }, { event: 'Opportunity', order_id: 'd-9' }] };

    const result = await read(signed(body), settings);

    expect(conversionsOf(result).map((c) => [c.eventName, c.eventId])).toEqual([['Purchase', 'd-9']]);
    expect(result.skipped).toEqual([{ sourceEventId: eventIdFor('d-9', 'Opportunity'), eventType: 'Opportunity', reason: expect.stringMatching(/RELAY_MAPPING turns crm event "Opportunity" off/) }]);
  });

  it('answers skipped when the mapping turns every event off', async () => {
    const settings = { ...SETTINGS, RELAY_MAPPING: '{"sources":{"crm":{"Opportunity":null}}}' };

    const result = await read(signed({ event: 'Opportunity', order_id: 'd-9' }), settings);

    expect(result.kind).toBe('skipped');
  });
});

describe('crm source: signature', () => {
  it('accepts the second of two comma-separated secrets (rotation)', async () => {
    const result = await read(signed(LEAD, { secret: 'new_secret' }), { CRM_WEBHOOK_SECRET: 'old_secret, new_secret' });

    expect(result.kind).toBe('conversions');
  });

  it('rejects another secret’s signature with 401 invalid_signature, never naming the secret', async () => {
    const err = await rejection(read(signed(LEAD, { secret: 'someone_else' })));

    expect(err).toMatchObject({ status: 401, code: 'invalid_signature' });
    expect(err.message).not.toContain(SECRET);
  });

  it('rejects a body changed after signing', async () => {
    const request = tampered(signed(LEAD), 'lead-1001', 'lead-1002');

    expect(await rejection(read(request))).toMatchObject({ status: 401, code: 'invalid_signature' });
  });

  it('rejects a replayed request: a timestamp 301 s old is stale (401), 299 s is fine', async () => {
    expect(await rejection(read(signed(LEAD, { timestamp: NOW_S - 301 })))).toMatchObject({ status: 401, code: 'stale_timestamp' });
    expect((await read(signed(LEAD, { timestamp: NOW_S - 299 }))).kind).toBe('conversions');
  });

  it('rejects a timestamp too far in the future', async () => {
    expect(await rejection(read(signed(LEAD, { timestamp: NOW_S + 301 })))).toMatchObject({ status: 401, code: 'stale_timestamp' });
  });

  it('rejects a request with the timestamp of another signed request (the timestamp is signed too)', async () => {
    const request = signed(LEAD, { timestamp: NOW_S - 10 });
    request.headers['x-relay-timestamp'] = String(NOW_S);

    expect(await rejection(read(request))).toMatchObject({ status: 401, code: 'invalid_signature' });
  });

  it.each(['x-relay-timestamp', 'x-relay-signature'])('rejects a request without %s: 401 missing_signature', async (header) => {
    const request = signed(LEAD);
    delete request.headers[header];

    expect(await rejection(read(request))).toMatchObject({ status: 401, code: 'missing_signature' });
  });

  it('rejects a signature of another length or shape without throwing anything else', async () => {
    for (const bad of ['sha256=', 'sha256=abc', 'md5=00', '', 'sha256=' + 'g'.repeat(64)]) {
      const request = signed(LEAD);
      request.headers['x-relay-signature'] = bad;
      const err = await rejection(read(request));
      expect(err.status, bad).toBe(401);
    }
  });

  it('throws a plain Error (500: the CRM retries) when CRM_WEBHOOK_SECRET is not configured', async () => {
    await expect(read(signed(LEAD), {})).rejects.not.toBeInstanceOf(RequestError);
  });
});

describe('crm source: bad bodies (after a valid signature)', () => {
  it('rejects a body that is not JSON: 400 malformed_body', async () => {
    expect(await rejection(read(signed(null, { raw: '{"event":' })))).toMatchObject({ status: 400, code: 'malformed_body' });
  });

  it('rejects a non-JSON content type: 400', async () => {
    expect(await rejection(read(signed(LEAD, { contentType: 'application/x-www-form-urlencoded' })))).toMatchObject({ status: 400, code: 'unsupported_content_type' });
  });

  it.each([
    [{ event: 'Lead' }, /event_id: each event needs event_id or order_id/],
    [{ event: '', event_id: 'x' }, /^event: /],
    [{ event: 'Purchase', order_id: 'o', value: 10 }, /currency: a value needs its currency/],
    [{ event: 'Purchase', order_id: 'o', value: -1, currency: 'USD' }, /^value: /],
    [{ event: 'Lead', event_id: 'x', lead_id: '12345' }, /^lead_id: /],
    [{ event: 'Lead', event_id: 'x', time: 'yesterday' }, /^time: /],
    // Past the last instant a Date holds (8.64e15 ms): refused, where reading it used to throw a RangeError (a 500).
    [{ event: 'Lead', event_id: 'x', time: 8.64e12 + 1 }, /^time: /],
    [{ events: [] }, /^events: /],
    [{ events: [LEAD, { event: 'Lead' }] }, /^events\.1\.event_id: /],
    [[LEAD], /^body: /],
  ])('rejects %j with 400 invalid_event saying where', async (body, message) => {
    const err = await rejection(read(signed(body)));

    expect(err).toMatchObject({ status: 400, code: 'invalid_event' });
    expect(err.message).toMatch(message);
  });

  it('rejects more than 500 events in one request', async () => {
    const events = Array.from({ length: 501 }, (_, i) => ({ event: 'Lead', event_id: `l-${i}` }));

    expect(await rejection(read(signed({ events })))).toMatchObject({ status: 400, code: 'invalid_event' });
  });
});
