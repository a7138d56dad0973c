import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHubSpotFake, type HubSpotFake } from '../fakes/hubspot-server.ts';
import { startMetaFake, type MetaFake } from '../fakes/meta-server.ts';
import { sha256 } from '../support/factories.ts';
import { eventsWithId, postStripe as postStripeWebhook, requestsMentioning, startTempRelay, stripeEventPayload, useTempRelay, waitForEvents, waitForLedgerRow } from '../support/flows.ts';
import { crmSignature, hubspotSignatureV3 } from '../support/signatures.ts';
import { stripeCharge, stripeInvoice, stripePaymentIntent, stripeSession } from '../support/stripe-objects.ts';

/**
 * End to end through `npm start`'s runner (its own process): the generic CRM webhook, HubSpot (with a fake of its
 * CRM API) and the rest of Stripe, each signed as its sender signs, delivered to a fake Meta Conversions API that
 * validates payloads as Meta documents them.
 */
const CRM_SECRET = 'crm_e2e_secret';
const HUBSPOT_SECRET = 'hubspot-e2e-client-secret';
const HUBSPOT_TOKEN = 'pat-na1-e2e';
const STRIPE_SECRET = 'whsec_e2e_crm_suite';
const PIXEL_ID = '1234567890123';
const META_TOKEN = 'EAAB-e2e-crm';
const ALLOWED = ['Purchase', 'Lead', 'QualifiedLead', 'Subscribe', 'StartTrial', 'Refund', 'Chargeback'];
const unique = (prefix: string) => `${prefix}_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`;

describe('CRM, HubSpot and Stripe events → Meta CAPI through the local runner', () => {
  let meta: MetaFake;
  let hubspot: HubSpotFake;
  beforeAll(async () => {
    meta = await startMetaFake({ pixelId: PIXEL_ID, accessToken: META_TOKEN });
    hubspot = await startHubSpotFake({ token: HUBSPOT_TOKEN });
  });
  afterAll(async () => {
    await meta?.close();
    await hubspot?.close();
  });
  beforeEach(() => meta.reset());
  const relay = useTempRelay('relay-e2e-crm-', () => ({
    CRM_WEBHOOK_SECRET: CRM_SECRET,
    CRM_NAME: 'Salesforce',
    HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET,
    HUBSPOT_ACCESS_TOKEN: HUBSPOT_TOKEN,
    HUBSPOT_API_BASE_URL: hubspot.baseUrl,
    STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
    META_PIXEL_ID: PIXEL_ID,
    META_ACCESS_TOKEN: META_TOKEN,
    META_API_BASE_URL: meta.baseUrl,
    RELAY_MAPPING: JSON.stringify({ destinations: { meta: ALLOWED } }),
    RELAY_RETRY_BASE_SECONDS: '1',
  }));

  const eventsFor = (eventId: string) => eventsWithId(meta.events(), eventId);
  const waitForMeta = (eventId: string) => waitForEvents(relay, () => meta.events(), eventId, 15_000, `Meta event ${eventId}`);
  const ledgerRow = (eventId: string, status: string) => waitForLedgerRow(relay, eventId, status, { destination: 'meta', timeoutMs: 10_000 });

  function postCrm(body: unknown, opts: { timestamp?: number; secret?: string } = {}) {
    const raw = JSON.stringify(body);
    const ts = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
    return fetch(`${relay.url}/webhooks/crm`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-relay-timestamp': ts, 'x-relay-signature': crmSignature(opts.secret ?? CRM_SECRET, ts, raw) },
      body: raw,
    });
  }

  function postHubSpot(events: unknown[]) {
    const raw = JSON.stringify(events);
    const ts = String(Date.now());
    // Signed over the URL HubSpot called: here the runner's own (no proxy in between).
    const uri = `${relay.url}/webhooks/hubspot`;
    const sig = hubspotSignatureV3(HUBSPOT_SECRET, 'POST', uri, raw, ts);
    return fetch(uri, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hubspot-signature-v3': sig, 'x-hubspot-request-timestamp': ts },
      body: raw,
    });
  }

  const postStripe = (type: string, object: object) => postStripeWebhook(relay, stripeEventPayload(type, object, unique('evt')), { secret: STRIPE_SECRET });

  it('lists the HubSpot and CRM routes at start', () => {
    const banner = relay.output.join('\n');
    expect(banner).toMatch(/POST \S+\/webhooks\/hubspot/);
    expect(banner).toMatch(/POST \S+\/webhooks\/crm/);
  });

  describe('generic CRM webhook', () => {
    it('turns a signed request with two events into two Meta events, the lead’s carrying lead_id and the CRM fields', async () => {
      const leadId = unique('lead');
      const dealId = unique('deal');
      const res = await postCrm({
        events: [
          { event: 'QualifiedLead', event_id: leadId, lead_id: '1234567890123456', email: 'Jane.Doe@Example.com' },
          { event: 'Purchase', order_id: dealId, value: 1200, currency: 'USD', email: 'jane.doe@example.com', phone: '+1 415 555 0100' },
        ],
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'accepted', conversions: [{ eventId: leadId }, { eventId: dealId }] });

      const [lead] = await waitForMeta(leadId);
      const [purchase] = await waitForMeta(dealId);
      expect(lead).toMatchObject({
        event_name: 'QualifiedLead',
        action_source: 'system_generated',
        user_data: { lead_id: '1234567890123456', em: [sha256('jane.doe@example.com')] },
        custom_data: { event_source: 'crm', lead_event_source: 'Salesforce' },
      });
      expect(purchase).toMatchObject({
        event_name: 'Purchase',
        action_source: 'system_generated',
        custom_data: { value: 1200, currency: 'USD', order_id: dealId },
        user_data: { ph: [sha256('14155550100')] },
      });
      expect(purchase.user_data.lead_id).toBeUndefined();
    });

    it('refuses a replayed request (signature 6 minutes old) with 401, and queues nothing', async () => {
      const id = unique('lead');
      const res = await postCrm({ event: 'Lead', event_id: id, email: 'a@example.com' }, { timestamp: Math.floor(Date.now() / 1000) - 360 });

      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'stale_timestamp' });
      await sleep(500);
      expect(await relay.ledgerFor(id)).toEqual([]);
      expect(eventsFor(id)).toEqual([]);
    });

    it('refuses a wrong secret with 401 and a malformed event with 400, saying what failed', async () => {
      const bad = await postCrm({ event: 'Lead', event_id: unique('x') }, { secret: 'not-the-secret' });
      expect(bad.status).toBe(401);
      expect(await bad.json()).toMatchObject({ error: 'invalid_signature' });

      const malformed = await postCrm({ event: 'Lead' });
      expect(malformed.status).toBe(400);
      expect(((await malformed.json()) as { message: string }).message).toMatch(/event_id or order_id/);
    });

    it('refuses a wrong content type with 400 and a body over 256 KB with 413, keeping nothing', async () => {
      const id = unique('lead');
      const raw = JSON.stringify({ event: 'Lead', event_id: id, email: 'a@example.com' });
      const ts = String(Math.floor(Date.now() / 1000));
      const sig = crmSignature(CRM_SECRET, ts, raw);
      const form = await fetch(`${relay.url}/webhooks/crm`, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-relay-timestamp': ts, 'x-relay-signature': sig }, body: raw });
      expect(form.status).toBe(400);
      expect(await form.json()).toMatchObject({ error: 'unsupported_content_type' });

      const big = await postCrm({ event: 'Lead', event_id: id, email: 'a@example.com', name: 'x'.repeat(300 * 1024) });
      expect(big.status).toBe(413);
      await sleep(300);
      expect(await relay.ledgerFor(id)).toEqual([]);
    });

    it('records a conversion outside Meta’s allowlist (RELAY_MAPPING) as skipped with the reason', async () => {
      const id = unique('demo');
      expect((await postCrm({ event: 'Demo Booked', event_id: id, email: 'a@example.com' })).status).toBe(200);

      const row = await ledgerRow(id, 'skipped');
      expect(row.reason).toMatch(/^not in destination allowlist/);
      expect(eventsFor(id)).toEqual([]);
    });
  });

  describe('HubSpot', () => {
    it('turns a signed "deal moved to closedwon" into a Purchase at Meta with the amount and contact read from HubSpot', async () => {
      const dealId = String(Math.floor(Math.random() * 1e9));
      hubspot.deals.set(dealId, { properties: { amount: '2500', deal_currency_code: 'EUR' }, contactIds: ['701'] });
      hubspot.contacts.set('701', { email: 'Buyer@Example.org', firstname: 'Bea', lastname: 'Buyer', phone: null });
      const res = await postHubSpot([
        { eventId: 1, subscriptionId: 2, portalId: 62515, appId: 3, occurredAt: Date.now() - 1000, subscriptionType: 'deal.propertyChange', attemptNumber: 0, objectId: Number(dealId), changeSource: 'CRM', propertyName: 'dealstage', propertyValue: 'closedwon' },
      ]);
      expect(res.status).toBe(200);

      const eventId = `hubspot-62515-deal-${dealId}`;
      const [purchase] = await waitForMeta(eventId);
      expect(purchase).toMatchObject({
        event_name: 'Purchase',
        action_source: 'system_generated',
        custom_data: { value: 2500, currency: 'EUR', order_id: eventId },
        user_data: { em: [sha256('buyer@example.org')], fn: [sha256('bea')], external_id: [sha256('701')] },
      });
      expect(hubspot.requests.every((r) => r.authorization === `Bearer ${HUBSPOT_TOKEN}`)).toBe(true);
    });

    it('turns contact.creation into a Lead, and a redelivered batch into no second event', async () => {
      const contactId = String(Math.floor(Math.random() * 1e9));
      hubspot.contacts.set(contactId, { email: 'lead@example.org', firstname: 'Lee', lastname: null, phone: null });
      const batch = [{ eventId: 7, subscriptionId: 2, portalId: 62515, appId: 3, occurredAt: Date.now() - 1000, subscriptionType: 'contact.creation', attemptNumber: 0, objectId: Number(contactId), changeSource: 'FORM', changeFlag: 'NEW' }];

      const first = await postHubSpot(batch);
      const again = await postHubSpot(batch.map((e) => ({ ...e, attemptNumber: 1 })));

      expect(await first.json()).toMatchObject({ status: 'accepted' });
      expect(await again.json()).toMatchObject({ status: 'duplicate' });
      const eventId = `hubspot-62515-contact-${contactId}:lead`;
      const [lead] = await waitForMeta(eventId);
      expect(lead).toMatchObject({ event_name: 'Lead', action_source: 'system_generated', user_data: { em: [sha256('lead@example.org')] } });
      await sleep(1000);
      expect(eventsFor(eventId)).toHaveLength(1);
    });

    it('refuses a HubSpot request signed with another secret: 401', async () => {
      const raw = '[]';
      const ts = String(Date.now());
      const sig = hubspotSignatureV3('other', 'POST', `${relay.url}/webhooks/hubspot`, raw, ts);
      const res = await fetch(`${relay.url}/webhooks/hubspot`, { method: 'POST', headers: { 'x-hubspot-signature-v3': sig, 'x-hubspot-request-timestamp': ts }, body: raw });

      expect(res.status).toBe(401);
    });
  });

  describe('Stripe', () => {
    it('turns the first invoice.paid of a subscription into Subscribe at Meta', async () => {
      const invoiceId = unique('in');
      const invoice = stripeInvoice({ id: invoiceId, status: 'paid', billing_reason: 'subscription_create', amount_paid: 1900, customer_email: 'sub@example.com' });

      expect((await postStripe('invoice.paid', invoice)).status).toBe(200);

      const [subscribe] = await waitForMeta(`${invoiceId}:subscribe`);
      expect(subscribe).toMatchObject({ event_name: 'Subscribe', custom_data: { value: 19, currency: 'USD', order_id: invoiceId } });
    });

    it('counts one Purchase when Stripe reports a payment as checkout.session.completed and payment_intent.succeeded', async () => {
      const pi = unique('pi');
      const session = stripeSession({ id: unique('cs_test'), payment_intent: pi, status: 'complete', payment_status: 'paid', amount_total: 4200, customer_email: 'once@example.com' });
      const intent = stripePaymentIntent({ id: pi, status: 'succeeded', amount: 4200, amount_received: 4200, receipt_email: 'once@example.com' });

      const answers = [];
      for (const [type, object] of [['payment_intent.succeeded', intent], ['checkout.session.completed', session]] as const) {
        const res = await postStripe(type, object);
        answers.push([res.status, ((await res.json()) as { status: string }).status]);
      }

      expect(answers).toEqual([[200, 'accepted'], [200, 'duplicate']]);
      await waitForMeta(pi);
      await sleep(1500); // time for a second delivery to show up, were there one
      expect(eventsFor(pi)).toHaveLength(1);
      expect(eventsFor(pi)[0].custom_data).toMatchObject({ value: 42, order_id: pi });
    });

    it('counts one Subscribe when a subscription checkout and its first invoice.paid both arrive', async () => {
      const invoiceId = unique('in');
      const session = stripeSession({ id: unique('cs_test'), mode: 'subscription', invoice: invoiceId, payment_intent: null, status: 'complete', payment_status: 'paid', amount_total: 900, customer_email: 'sub2@example.com' });
      const invoice = stripeInvoice({ id: invoiceId, status: 'paid', billing_reason: 'subscription_create', amount_paid: 900, customer_email: 'sub2@example.com' });

      expect((await postStripe('checkout.session.completed', session)).status).toBe(200);
      expect(await (await postStripe('invoice.paid', invoice)).json()).toMatchObject({ status: 'duplicate' });

      await waitForMeta(`${invoiceId}:subscribe`);
      await sleep(1000);
      expect(eventsFor(`${invoiceId}:subscribe`)).toHaveLength(1);
    });

    it('records charge.refunded as a Refund that Meta skips with the reason, linked in the ledger to the purchase', async () => {
      const pi = unique('pi');
      const charge = stripeCharge({ id: unique('ch'), payment_intent: pi, amount: 5000, amount_refunded: 2000, refunded: false, billing_details: { email: 'refund@example.com', name: null, phone: null, address: null, tax_id: null } });

      const res = await postStripe('charge.refunded', charge);
      expect(res.status).toBe(200);
      const refundId = `${pi}:refund:2000`;
      expect(await res.json()).toMatchObject({ conversions: [{ eventId: refundId, routes: expect.arrayContaining([expect.objectContaining({ destination: 'meta', status: 'skipped' })]) }] });

      const row = await ledgerRow(refundId, 'skipped');
      expect(row).toMatchObject({ eventName: 'Refund', adjustment: 'refund', originalOrderId: pi, originalEventId: pi, orderId: pi });
      expect(row.reason).toMatch(/Meta has no way to retract a conversion: the refund is recorded, not sent/);
      await sleep(800);
      expect(requestsMentioning(meta.requests, refundId)).toEqual([]);
    });
  });

  it('writes none of the raw e-mails, phones or names it received to its logs', () => {
    const logs = relay.output.join('\n').toLowerCase();
    for (const raw of ['jane.doe@example.com', 'buyer@example.org', 'lead@example.org', 'sub@example.com', 'once@example.com', 'refund@example.com', '555 0100', '5550100']) {
      expect(logs, raw).not.toContain(raw);
    }
  });
});

describe('mapping configuration at start', () => {
  it('refuses to start with a bad RELAY_MAPPING, naming the bad key', async () => {
    // startTempRelay removes its data directory when the relay fails to start.
    await expect(startTempRelay('relay-e2e-badmap-', { RELAY_MAPPING: '{"destinations":{"metta":["Purchase"]}}' })).rejects.toThrow(/RELAY_MAPPING\.destinations\.metta: no such destination/);
  });
});
