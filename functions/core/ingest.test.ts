import { describe, expect, it } from 'vitest';
import { metaDestination } from '#destinations/meta/index.ts';
import type { ConversionDraft, SourceResult } from '#sources/types.ts';
import { NOW, conversionFactory, sha256 } from '../../test/support/factories.ts';
import { ConversionSchema, type Conversion } from './conversion.ts';
import { attachVisitor, ingest, planRoutes, type EnqueueReceipt, type IngestPorts, type Route, type RoutingRule, type VisitorLink } from './ingest.ts';
import type { Visitor, VisitorLookup } from './visitor.ts';

// ------------------------------------------------------------------------------------------- in-memory ports

/** The visitors table in memory: visitors by ID, and hashed e-mails pointing at a visitor ID. */
class MemoryVisitors implements VisitorLookup {
  readonly byId = new Map<string, Visitor>();
  readonly byEmail = new Map<string, string>();

  add(visitor: Visitor): this {
    this.byId.set(visitor.visitorId, visitor);
    return this;
  }

  readonly byPhone = new Map<string, string>();

  async find({ visitorId, emailHash, phoneHash }: { visitorId?: string; emailHash?: string; phoneHash?: string }): Promise<Visitor | undefined> {
    // As the DynamoDB store does: report which visitor the looked-up hashes already point at.
    const links = { email: emailHash ? this.byEmail.get(emailHash) : undefined, phone: phoneHash ? this.byPhone.get(phoneHash) : undefined };
    const direct = visitorId ? this.byId.get(visitorId) : undefined;
    if (direct) return { ...direct, links };
    const linked = (emailHash && this.byEmail.get(emailHash)) || (phoneHash && this.byPhone.get(phoneHash));
    const found = linked ? this.byId.get(linked) : undefined;
    return found && { ...found, links };
  }

  readonly linkWrites: string[] = [];

  async linkEmail(emailHash: string, visitorId: string): Promise<void> {
    this.linkWrites.push(`E#${emailHash}`);
    this.byEmail.set(emailHash, visitorId);
  }

  async linkPhone(phoneHash: string, visitorId: string): Promise<void> {
    this.linkWrites.push(`P#${phoneHash}`);
    this.byPhone.set(phoneHash, visitorId);
  }
}

/**
 * The ledger in memory, like the DynamoDB adapter (store/ingest-store.ts): a conversion is committed once (its
 * receipt kept), a later commit of the same event ID answers that receipt; links are written after the commit.
 */
function memoryPorts(visitors = new MemoryVisitors()) {
  const committed = new Map<string, EnqueueReceipt>();
  const enqueued: { conversion: Conversion; routes: Route[]; invocationId: string; links: VisitorLink[] }[] = [];
  const skips: { source: string; sourceEventId: string; eventType: string; reason: string }[] = [];
  const lookups: string[] = [];
  const commits: string[] = [];
  const ports: IngestPorts = {
    visitors: {
      find: (keys) => {
        lookups.push(JSON.stringify(keys));
        return visitors.find(keys);
      },
    },
    async commit(conversion, routes, invocationId, links) {
      commits.push(conversion.eventId);
      const earlier = committed.get(conversion.eventId);
      if (earlier) return { kind: 'duplicate', receipt: earlier };
      const receipt = { eventId: conversion.eventId, routes, invocationId };
      committed.set(conversion.eventId, receipt);
      enqueued.push({ conversion, routes, invocationId, links });
      for (const l of links) await (l.kind === 'email' ? visitors.linkEmail(l.hash, l.visitorId) : visitors.linkPhone(l.hash, l.visitorId));
      return { kind: 'committed', receipt };
    },
    async recordSkip(source, sourceEventId, eventType, reason) {
      skips.push({ source, sourceEventId, eventType, reason });
    },
  };
  return { ports, visitors, enqueued, skips, committed, lookups, commits };
}

// ------------------------------------------------------------------------------------------------ factories

const EMAIL_HASH = sha256('jenny.rosen@example.com');
const VISITOR_ID = 'b6f1c1d2-9a4e-4c1e-8f3a-2d7e5c9b0a11';
const LANDING_MS = NOW.getTime() - 3600_000;

/** A draft as a source builds it: hashed identifiers, no clicks, no consent, no action source. */
function draftFactory(overrides: Partial<ConversionDraft> = {}): ConversionDraft {
  const { clicks: _c, consent: _k, actionSource: _a, eventSourceUrl: _u, visitorId: _v, ...c } = conversionFactory();
  return { ...c, user: { email: EMAIL_HASH, externalId: sha256('cus_123') }, ...overrides };
}

function visitorFactory(overrides: Partial<Visitor> = {}): Visitor {
  return {
    visitorId: VISITOR_ID,
    clicks: {
      fbc: { value: `fb.1.${LANDING_MS}.IwAR2abc`, capturedAt: LANDING_MS },
      fbp: { value: `fb.1.${LANDING_MS}.1234567890`, capturedAt: LANDING_MS },
      gclid: { value: 'Cj0KCQiA', capturedAt: LANDING_MS },
    },
    ip: '198.51.100.23',
    userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15',
    landingUrl: 'https://shop.example/landing?fbclid=IwAR2abc',
    firstSeenAt: LANDING_MS,
    lastSeenAt: LANDING_MS,
    ...overrides,
  };
}

const metaRule: RoutingRule = { name: 'meta', blocks: (c) => metaDestination.skipReason?.(c) };
const OPTS = { consentDefault: 'granted' as const, destinations: [metaRule] };

const conversionsResult = (...drafts: ConversionDraft[]): SourceResult => ({
  kind: 'conversions',
  sourceEventId: 'evt_test_1',
  eventType: 'checkout.session.completed',
  conversions: drafts,
});

// ----------------------------------------------------------------------------------------------------- tests

describe('attachVisitor', () => {
  it('joins the visitor’s clicks, IP, user agent and landing URL, making it a website event', () => {
    // Prepare
    const visitor = visitorFactory();

    // Act
    const conversion = attachVisitor(draftFactory({ visitorId: VISITOR_ID }), visitor, 'granted');

    // Assess
    expect(conversion.clicks).toEqual(visitor.clicks);
    expect(conversion.user.ip).toBe('198.51.100.23');
    expect(conversion.user.userAgent).toBe(visitor.userAgent);
    expect(conversion.eventSourceUrl).toBe('https://shop.example/landing?fbclid=IwAR2abc');
    expect(conversion.actionSource).toBe('website');
    expect(conversion.visitorId).toBe(VISITOR_ID);
  });

  it('without a visitor is a system_generated event with no clicks and no browser signals', () => {
    const conversion = attachVisitor(draftFactory(), undefined, 'granted');

    expect(conversion.actionSource).toBe('system_generated');
    expect(conversion.clicks).toEqual({});
    expect(conversion.user.ip).toBeUndefined();
    expect(conversion.user.userAgent).toBeUndefined();
    expect(conversion.eventSourceUrl).toBeUndefined();
  });

  it('is not a website event when the visitor has no user agent (Meta requires one for website events)', () => {
    const conversion = attachVisitor(draftFactory(), visitorFactory({ userAgent: undefined }), 'granted');

    expect(conversion.actionSource).toBe('system_generated');
  });

  it('keeps the IP and user agent the source itself provided', () => {
    const draft = draftFactory({ user: { email: EMAIL_HASH, ip: '203.0.113.9', userAgent: 'CheckoutBrowser/1.0' } });

    const conversion = attachVisitor(draft, visitorFactory(), 'granted');

    expect(conversion.user.ip).toBe('203.0.113.9');
    expect(conversion.user.userAgent).toBe('CheckoutBrowser/1.0');
  });

  it('uses the hashed visitor ID as external ID when the source has none', () => {
    const draft = draftFactory({ user: { email: EMAIL_HASH } });

    const conversion = attachVisitor(draft, visitorFactory(), 'granted');

    expect(conversion.user.externalId).toBe(sha256(VISITOR_ID));
  });

  it('grants everything when the visitor gave no consent signal and the site default is granted', () => {
    const conversion = attachVisitor(draftFactory(), visitorFactory(), 'granted');

    expect(conversion.consent).toEqual({ marketing: true, adUserData: true, adPersonalization: true, analytics: true });
  });

  it('denies everything when the visitor gave no consent signal and the site default is denied', () => {
    const conversion = attachVisitor(draftFactory(), visitorFactory(), 'denied');

    expect(conversion.consent).toEqual({ marketing: false, adUserData: false, adPersonalization: false, analytics: false });
  });

  it('lets the visitor’s own choice override the site default', () => {
    const visitor = visitorFactory({ consent: { marketing: false } });

    const conversion = attachVisitor(draftFactory(), visitor, 'granted');

    expect(conversion.consent.marketing).toBe(false);
    expect(conversion.consent.adUserData).toBe(false); // Google's signals follow marketing when not given
  });

  it('returns a Conversion that satisfies the schema', () => {
    expect(ConversionSchema.safeParse(attachVisitor(draftFactory(), visitorFactory(), 'granted')).success).toBe(true);
    expect(ConversionSchema.safeParse(attachVisitor(draftFactory(), undefined, 'denied')).success).toBe(true);
  });
});

describe('planRoutes', () => {
  it('queues a conversion for Meta when marketing consent is granted', () => {
    const routes = planRoutes(conversionFactory(), [metaRule]);

    expect(routes).toEqual([{ destination: 'meta', status: 'queued' }]);
  });

  it('skips Meta, with the reason, when marketing consent is false', () => {
    const conversion = conversionFactory({ consent: { marketing: false } });

    const routes = planRoutes(conversion, [metaRule]);

    expect(routes).toHaveLength(1);
    expect(routes[0]).toMatchObject({ destination: 'meta', status: 'skipped' });
    expect((routes[0] as { reason: string }).reason).toMatch(/consent/);
  });

  it('routes to every destination without a blocking rule', () => {
    const routes = planRoutes(conversionFactory({ consent: { marketing: false } }), [metaRule, { name: 'ga4' }]);

    expect(routes.map((r) => [r.destination, r.status])).toEqual([
      ['meta', 'skipped'],
      ['ga4', 'queued'],
    ]);
  });
});

describe('ingest', () => {
  it('refuses (422) an event ID with a lone surrogate before reading or writing anything: a ledger key must be valid UTF-8', async () => {
    const { ports, commits, lookups } = memoryPorts();
    await expect(ingest('hubspot', conversionsResult(draftFactory({ eventId: 'hubspot-\udfff-deal-1' })), ports, OPTS, 'inv-1')).rejects.toMatchObject({ status: 422 });
    expect(lookups).toHaveLength(0);
    expect(commits).toHaveLength(0);
  });

  it('finds the visitor by the visitor ID the source carried and attaches the clicks', async () => {
    // Prepare
    const { ports, visitors, enqueued } = memoryPorts();
    visitors.add(visitorFactory());

    // Act
    await ingest('stripe', conversionsResult(draftFactory({ visitorId: VISITOR_ID })), ports, OPTS, 'inv-1');

    // Assess
    expect(enqueued).toHaveLength(1);
    expect(enqueued[0].conversion.clicks.fbc?.value).toBe(`fb.1.${LANDING_MS}.IwAR2abc`);
    expect(enqueued[0].conversion.actionSource).toBe('website');
  });

  it('finds the visitor through the hashed e-mail when the source carried no visitor ID', async () => {
    const { ports, visitors, enqueued } = memoryPorts();
    visitors.add(visitorFactory());
    visitors.byEmail.set(EMAIL_HASH, VISITOR_ID);

    await ingest('stripe', conversionsResult(draftFactory()), ports, OPTS, 'inv-1');

    expect(enqueued[0].conversion.visitorId).toBe(VISITOR_ID);
    expect(enqueued[0].conversion.clicks.gclid?.value).toBe('Cj0KCQiA');
  });

  it('finds the visitor through a hashed phone (linked by identify) when the conversion has only the phone', async () => {
    const { ports, visitors, enqueued } = memoryPorts();
    visitors.add(visitorFactory());
    const phone = sha256('14155550100');
    visitors.byPhone.set(phone, VISITOR_ID);

    await ingest('stripe', conversionsResult(draftFactory({ user: { phone } })), ports, OPTS, 'inv-1');

    expect(enqueued[0].conversion.visitorId).toBe(VISITOR_ID);
    expect(enqueued[0].conversion.clicks.gclid?.value).toBe('Cj0KCQiA');
  });

  it('links the phone too, when the conversion carried the visitor ID', async () => {
    const { ports, visitors } = memoryPorts();
    visitors.add(visitorFactory());
    const phone = sha256('14155550100');

    await ingest('stripe', conversionsResult(draftFactory({ visitorId: VISITOR_ID, user: { email: EMAIL_HASH, phone } })), ports, OPTS, 'inv-1');

    expect(visitors.byPhone.get(phone)).toBe(VISITOR_ID);
  });

  it('links the e-mail to the visitor, so a later conversion with only the e-mail gets the clicks', async () => {
    // Prepare
    const { ports, visitors, enqueued } = memoryPorts();
    visitors.add(visitorFactory());

    // Act
    await ingest('stripe', conversionsResult(draftFactory({ visitorId: VISITOR_ID })), ports, OPTS, 'inv-1');
    const later = draftFactory({ eventId: 'order_2', orderId: 'order_2' });
    await ingest('stripe', { ...conversionsResult(later), sourceEventId: 'evt_test_2' }, ports, OPTS, 'inv-2');

    // Assess
    expect(visitors.byEmail.get(EMAIL_HASH)).toBe(VISITOR_ID);
    expect(enqueued[1].conversion.visitorId).toBe(VISITOR_ID);
    expect(enqueued[1].conversion.clicks.fbc?.value).toBe(`fb.1.${LANDING_MS}.IwAR2abc`);
  });

  it('writes the e-mail and phone links once: a repeat customer’s next conversion rewrites neither', async () => {
    const { ports, visitors } = memoryPorts();
    visitors.add(visitorFactory());
    const phone = sha256('14155550100');
    const draft = (id: string) => draftFactory({ eventId: id, orderId: id, visitorId: VISITOR_ID, user: { email: EMAIL_HASH, phone } });

    await ingest('stripe', conversionsResult(draft('order_1')), ports, OPTS, 'inv-1');
    await ingest('stripe', { ...conversionsResult(draft('order_2')), sourceEventId: 'evt_test_2' }, ports, OPTS, 'inv-2');

    expect(visitors.linkWrites).toEqual([`E#${EMAIL_HASH}`, `P#${phone}`]);
  });

  it('rewrites a link that points at another visitor (the e-mail was last seen with a different browser)', async () => {
    const { ports, visitors } = memoryPorts();
    visitors.add(visitorFactory());
    visitors.byEmail.set(EMAIL_HASH, 'vis_other_browser_123');

    await ingest('stripe', conversionsResult(draftFactory({ visitorId: VISITOR_ID })), ports, OPTS, 'inv-1');

    expect(visitors.linkWrites).toEqual([`E#${EMAIL_HASH}`]);
    expect(visitors.byEmail.get(EMAIL_HASH)).toBe(VISITOR_ID);
  });

  it('attaches nothing when neither the visitor ID nor the e-mail is known', async () => {
    const { ports, enqueued } = memoryPorts();

    await ingest('stripe', conversionsResult(draftFactory({ visitorId: VISITOR_ID })), ports, OPTS, 'inv-1');

    expect(enqueued[0].conversion.clicks).toEqual({});
    expect(enqueued[0].conversion.actionSource).toBe('system_generated');
  });

  it('records a skipped source event with its reason and enqueues nothing', async () => {
    // Prepare
    const { ports, enqueued, skips } = memoryPorts();
    const result: SourceResult = { kind: 'skipped', sourceEventId: 'evt_9', eventType: 'customer.created', reason: 'event type customer.created is not a conversion' };

    // Act
    const outcome = await ingest('stripe', result, ports, OPTS, 'inv-1');

    // Assess
    expect(skips).toEqual([{ source: 'stripe', sourceEventId: 'evt_9', eventType: 'customer.created', reason: 'event type customer.created is not a conversion' }]);
    expect(enqueued).toHaveLength(0);
    expect(outcome).toMatchObject({ kind: 'skipped', reason: 'event type customer.created is not a conversion' });
  });

  it('flags a second delivery of the same event (same eventId, another invocation) as a duplicate', async () => {
    const { ports, enqueued } = memoryPorts();

    const first = await ingest('stripe', conversionsResult(draftFactory()), ports, OPTS, 'inv-1');
    const second = await ingest('stripe', conversionsResult(draftFactory()), ports, OPTS, 'inv-2');

    expect(first.kind === 'accepted' && first.receipts.map((r) => r.duplicate)).toEqual([false]);
    expect(second.kind === 'accepted' && second.receipts.map((r) => r.duplicate)).toEqual([true]);
    expect(enqueued).toHaveLength(1);
  });

  it('does not flag a retry of the same invocation as a duplicate', async () => {
    const { ports } = memoryPorts();

    await ingest('stripe', conversionsResult(draftFactory()), ports, OPTS, 'inv-1');
    const again = await ingest('stripe', conversionsResult(draftFactory()), ports, OPTS, 'inv-1');

    expect(again.kind === 'accepted' && again.receipts[0].duplicate).toBe(false);
  });

  it('answers a duplicate from its failed commit: the first receipt, nothing enqueued or linked again', async () => {
    const { ports, enqueued, lookups, commits, visitors } = memoryPorts();
    visitors.add(visitorFactory());

    await ingest('stripe', conversionsResult(draftFactory({ visitorId: VISITOR_ID })), ports, OPTS, 'inv-1');
    const second = await ingest('stripe', conversionsResult(draftFactory({ visitorId: VISITOR_ID })), ports, OPTS, 'inv-2');

    // Two calls each (the lookup and the conditional put); the links were written once, by the first.
    expect(lookups).toHaveLength(2);
    expect(commits).toHaveLength(2);
    expect(visitors.linkWrites).toHaveLength(1);
    expect(enqueued).toHaveLength(1);
    expect(second.kind === 'accepted' && second.receipts[0]).toMatchObject({ duplicate: true, invocationId: 'inv-1', routes: enqueued[0].routes });
  });

  it('commits concurrent deliveries of one event once: one accepted, the others duplicates with its routes', async () => {
    const { ports, enqueued } = memoryPorts();

    const outcomes = await Promise.all(['inv-1', 'inv-2', 'inv-3'].map((inv) => ingest('stripe', conversionsResult(draftFactory()), ports, OPTS, inv)));

    expect(enqueued).toHaveLength(1);
    const receipts = outcomes.flatMap((o) => (o.kind === 'accepted' ? o.receipts : []));
    expect(receipts.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(new Set(receipts.map((r) => JSON.stringify(r.routes))).size).toBe(1);
  });

  it('leaves nothing behind when the conversion is refused or the commit fails, so a retry does it all', async () => {
    const { ports, committed, commits } = memoryPorts();
    const bad = draftFactory({ value: -5 });

    const first = await ingest('stripe', conversionsResult(bad), ports, OPTS, 'inv-1').catch((e) => e);
    const failing = { ...ports, commit: async () => Promise.reject(new Error('DynamoDB unavailable')) };
    const down = await ingest('stripe', conversionsResult(draftFactory()), failing, OPTS, 'inv-2').catch((e) => e);
    const retry = await ingest('stripe', conversionsResult(draftFactory()), ports, OPTS, 'inv-3');

    expect(first).toMatchObject({ status: 422, code: 'invalid_conversion' });
    expect(commits).toHaveLength(1);
    expect(down.message).toBe('DynamoDB unavailable');
    expect(retry.kind === 'accepted' && retry.receipts[0]).toMatchObject({ duplicate: false, invocationId: 'inv-3' });
    expect(committed.size).toBe(1);
  });

  it('passes enqueue a Conversion that satisfies ConversionSchema, with its routes', async () => {
    const { ports, visitors, enqueued } = memoryPorts();
    visitors.add(visitorFactory({ consent: { marketing: false } }));

    await ingest('stripe', conversionsResult(draftFactory({ visitorId: VISITOR_ID })), ports, OPTS, 'inv-1');

    expect(ConversionSchema.safeParse(enqueued[0].conversion).success).toBe(true);
    expect(enqueued[0].routes).toEqual([{ destination: 'meta', status: 'skipped', reason: expect.stringMatching(/consent/) }]);
  });

  it('applies the site’s consent default to conversions without a visitor', async () => {
    const { ports, enqueued } = memoryPorts();

    await ingest('stripe', conversionsResult(draftFactory()), ports, { ...OPTS, consentDefault: 'denied' }, 'inv-1');

    expect(enqueued[0].conversion.consent.marketing).toBe(false);
    expect(enqueued[0].routes[0].status).toBe('skipped');
  });

  it('refuses a conversion the schema rejects (a negative value) with a 422 and enqueues nothing', async () => {
    const { ports, enqueued } = memoryPorts();

    const err = await ingest('stripe', conversionsResult(draftFactory({ value: -5 })), ports, OPTS, 'inv-1').catch((e) => e);

    expect(err).toMatchObject({ status: 422, code: 'invalid_conversion' });
    expect(err.message).toMatch(/value/);
    expect(enqueued).toEqual([]);
  });

  it('refuses a conversion dated more than an hour in the future with a 422 and enqueues nothing', async () => {
    const { ports, enqueued } = memoryPorts();
    const draft = draftFactory({ occurredAt: new Date(NOW.getTime() + 2 * 3600_000).toISOString() });

    const err = await ingest('stripe', conversionsResult(draft), ports, { ...OPTS, now: NOW }, 'inv-1').catch((e) => e);

    expect(err).toMatchObject({ status: 422, code: 'event_in_future' });
    expect(enqueued).toEqual([]);
  });

  it('refuses a source event ID too long to be a ledger key, recording nothing', async () => {
    const { ports, skips } = memoryPorts();
    const result: SourceResult = { kind: 'skipped', sourceEventId: 'e'.repeat(3000), eventType: 'x', reason: 'r' };

    const err = await ingest('stripe', result, ports, OPTS, 'inv-1').catch((e) => e);

    expect(err).toMatchObject({ status: 422, code: 'invalid_event' });
    expect(skips).toEqual([]);
  });
});

describe('ingest: batches with events that are not conversions', () => {
  it('records each skipped event of a batch and still enqueues its conversions', async () => {
    // Prepare
    const { ports, enqueued, skips } = memoryPorts();
    const result: SourceResult = {
      ...conversionsResult(draftFactory()),
      skipped: [{ sourceEventId: 'hs_2', eventType: 'deal.propertyChange', reason: 'stage not mapped' }],
    };

    // Act
    const outcome = await ingest('hubspot', result, ports, OPTS, 'inv-1');

    // Assess
    expect(enqueued).toHaveLength(1);
    expect(skips).toEqual([{ source: 'hubspot', sourceEventId: 'hs_2', eventType: 'deal.propertyChange', reason: 'stage not mapped' }]);
    expect(outcome.kind === 'accepted' && outcome.skipped).toEqual(result.skipped);
  });

  it('records every event of an all-skipped batch once, not the batch summary on top', async () => {
    const { ports, skips } = memoryPorts();
    const skipped = [
      { sourceEventId: 'hs_1', eventType: 'contact.propertyChange', reason: 'not mapped' },
      { sourceEventId: 'hs_2', eventType: 'contact.propertyChange', reason: 'not mapped' },
    ];

    const outcome = await ingest('hubspot', { kind: 'skipped', sourceEventId: 'hs_1', eventType: 'batch', reason: '2 events, none a conversion', skipped }, ports, OPTS, 'inv-1');

    expect(skips.map((s) => s.sourceEventId)).toEqual(['hs_1', 'hs_2']);
    expect(outcome).toEqual({ kind: 'skipped', sourceEventId: 'hs_1', eventType: 'batch', reason: '2 events, none a conversion' });
  });
});
