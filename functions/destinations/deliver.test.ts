import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Conversion } from '#core/conversion.ts';
import { startMetaFake, type MetaFake } from '../../test/fakes/meta-server.ts';
import { NOW, conversionFactory, conversions } from '../../test/support/factories.ts';
import { deliver, type DeliveryResult } from './deliver.ts';
import { fetchTransport } from './http.ts';
import { metaDestination, type MetaConfig } from './meta/index.ts';
import { ConfigurationError, type Destination, type PlatformRequest, type PlatformResponse, type PriorDelivery, type Transport } from './types.ts';

const CONFIG: MetaConfig = { pixelId: '1234567890123456', accessToken: 'EAAGtesttoken', baseUrl: 'https://graph.facebook.com', apiVersion: 'v24.0' };
const DAY = 24 * 3600_000;

type MetaBody = { data: { event_id: string }[]; access_token?: string };

/**
 * An in-memory Conversions API that answers like Meta (platforms.md §1.3, §1.10): up to 1,000 events a request,
 * and "if any event you send in a batch is invalid, we reject the entire batch" with a code-100 error.
 */
function metaLikeTransport(invalidEventIds: Iterable<string> = []) {
  const invalid = new Set(invalidEventIds);
  const requests: PlatformRequest[] = [];
  const accepted: string[] = [];
  const transport: Transport = async (request) => {
    requests.push(request);
    const { data } = request.body as MetaBody;
    if (data.length > 1000) return graph(400, { message: 'Invalid parameter', code: 100, error_subcode: 2804019 });
    const bad = data.findIndex((e) => invalid.has(e.event_id));
    if (bad >= 0) {
      return graph(400, {
        message: 'Invalid parameter',
        type: 'OAuthException',
        code: 100,
        error_subcode: 2804019,
        is_transient: false,
        error_user_msg: `The parameter $['data'][${bad}]['event_time'] is required.`,
      });
    }
    accepted.push(...data.map((e) => e.event_id));
    return { status: 200, headers: {}, body: { events_received: data.length, messages: [], fbtrace_id: 'AbCdEf' } };
  };
  const sentIds = () => requests.flatMap((r) => (r.body as MetaBody).data.map((e) => e.event_id));
  return { transport, requests, accepted, sentIds };
}

function graph(status: number, error: Record<string, unknown>): PlatformResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: { error } };
}

const statuses = (results: DeliveryResult[]) => results.map((r) => r.status);
const idsWith = (batch: Conversion[], results: DeliveryResult[], status: DeliveryResult['status']) =>
  batch.filter((_, i) => results[i].status === status).map((c) => c.eventId);

describe('deliver: batching', () => {
  it('sends 2500 conversions in 3 requests of at most 1000 events, each event once', async () => {
    // Prepare
    const batch = conversions(2500);
    const meta = metaLikeTransport();
    const stats = { requests: 0 };

    // Act
    const results = await deliver(metaDestination, CONFIG, batch, meta.transport, NOW, stats);

    // Assess
    expect(meta.requests).toHaveLength(3);
    expect(stats.requests).toBe(3);
    for (const r of meta.requests) expect((r.body as MetaBody).data.length).toBeLessThanOrEqual(1000);
    expect(meta.sentIds().sort()).toEqual(batch.map((c) => c.eventId).sort());
    expect(new Set(statuses(results))).toEqual(new Set(['delivered']));
  });

  it('sends a small batch in one request', async () => {
    const meta = metaLikeTransport();

    const results = await deliver(metaDestination, CONFIG, conversions(5), meta.transport, NOW);

    expect(meta.requests).toHaveLength(1);
    expect(statuses(results)).toEqual(Array(5).fill('delivered'));
  });

  it('reports what each delivered conversion carried to the platform', async () => {
    const [result] = await deliver(metaDestination, CONFIG, [conversionFactory({ clicks: {}, user: { email: 'a'.repeat(64) } })], metaLikeTransport().transport, NOW);

    expect(result).toEqual({ status: 'delivered', signals: ['em'] });
  });
});

describe('deliver: conversions the platform would refuse', () => {
  it('skips a conversion older than Meta accepts, with the reason, and does not send it', async () => {
    // Prepare
    const old = conversionFactory({ eventId: 'old', occurredAt: new Date(NOW.getTime() - 8 * DAY).toISOString() });
    const recent = conversionFactory({ eventId: 'recent', occurredAt: new Date(NOW.getTime() - 6 * DAY).toISOString() });
    const meta = metaLikeTransport();

    // Act
    const results = await deliver(metaDestination, CONFIG, [old, recent], meta.transport, NOW);

    // Assess
    expect(results[0]).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/too old/) });
    expect(results[1].status).toBe('delivered');
    expect(meta.sentIds()).toEqual(['recent']);
  });

  it('skips a conversion without marketing consent, with the reason, and does not send it', async () => {
    const blocked = conversionFactory({ eventId: 'no-consent', consent: { marketing: false } });
    const meta = metaLikeTransport();

    const results = await deliver(metaDestination, CONFIG, [blocked, conversionFactory({ eventId: 'ok' })], meta.transport, NOW);

    expect(results[0]).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/consent/) });
    expect(meta.sentIds()).toEqual(['ok']);
  });

  it('sends no request at all when every conversion is skipped', async () => {
    const meta = metaLikeTransport();

    await deliver(metaDestination, CONFIG, [conversionFactory({ consent: { marketing: false } })], meta.transport, NOW);

    expect(meta.requests).toHaveLength(0);
  });

  it('dead-letters a conversion the destination rejects as invalid, without sending it, and sends the rest', async () => {
    // Prepare: a destination whose platform would silently drop an event without currency (GA4 does).
    const strict = { ...metaDestination, rejectReason: (c: Conversion) => (c.currency ? undefined : { code: 'invalid_payload', message: 'currency is required' }) };
    const meta = metaLikeTransport();

    // Act
    const results = await deliver(strict, CONFIG, [conversionFactory({ eventId: 'no-currency', currency: undefined }), conversionFactory({ eventId: 'ok' })], meta.transport, NOW);

    // Assess
    expect(results[0]).toEqual({ status: 'failed', error: { code: 'invalid_payload', message: 'currency is required' } });
    expect(results[1].status).toBe('delivered');
    expect(meta.sentIds()).toEqual(['ok']);
  });
});

describe('deliver: dry-run (no credentials)', () => {
  it('sends nothing and gives each conversion the exact single-event request it would have made', async () => {
    // Prepare
    const batch = conversions(3);
    const meta = metaLikeTransport();

    // Act
    const results = await deliver(metaDestination, undefined, batch, meta.transport, NOW);

    // Assess
    expect(meta.requests).toHaveLength(0);
    results.forEach((r, i) => {
      expect(r.status).toBe('dry_run');
      if (r.status !== 'dry_run') return;
      expect(r.request).toEqual(metaDestination.buildRequest([batch[i]], undefined, NOW));
      expect(r.request.url).toBe('https://graph.facebook.com/v26.0/<META_PIXEL_ID>/events');
      expect((r.request.body as MetaBody).data.map((e) => e.event_id)).toEqual([batch[i].eventId]);
    });
  });

  it('still skips what the platform would refuse', async () => {
    const results = await deliver(metaDestination, undefined, [conversionFactory({ consent: { marketing: false } })], metaLikeTransport().transport, NOW);

    expect(results[0].status).toBe('skipped');
  });
});

describe('deliver: a source’s test events', () => {
  it('sends a test conversion nowhere, even with credentials, and records its exact payload without the credentials', async () => {
    // Prepare
    const [real, test] = conversions(2);
    const meta = metaLikeTransport();

    // Act
    const testConversion = { ...test, test: true };
    const results = await deliver(metaDestination, { ...CONFIG, testEventCode: 'TEST123' }, [real, testConversion], meta.transport, NOW);

    // Assess
    expect(statuses(results)).toEqual(['delivered', 'dry_run']);
    expect(meta.sentIds()).toEqual([real.eventId]);
    const record = results[1];
    if (record.status !== 'dry_run') throw new Error('unreachable');
    expect(record.reason).toMatch(/test event/);
    // The events are exactly what Meta would have received; only the pixel ID and token are placeholders.
    expect((record.request.body as MetaBody).data).toEqual((metaDestination.buildRequest([testConversion], CONFIG, NOW).body as MetaBody).data);
    expect(record.request.url).toBe('https://graph.facebook.com/v26.0/<META_PIXEL_ID>/events');
    expect(JSON.stringify(record.request)).not.toContain(CONFIG.accessToken);
  });
});

describe('deliver: whole-request failures', () => {
  it('retries every conversion when the transport throws (network, timeout)', async () => {
    const failing: Transport = async () => {
      throw new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });
    };

    const results = await deliver(metaDestination, CONFIG, conversions(4), failing, NOW);

    expect(statuses(results)).toEqual(Array(4).fill('retry'));
    expect(results[0]).toMatchObject({ error: { code: 'network', message: expect.stringContaining('ECONNRESET') } });
  });

  it.each([500, 503, 429])('retries every conversion on HTTP %i', async (status) => {
    const answer: Transport = async () => graph(status, { message: 'An unexpected error has occurred.', code: 2, is_transient: true });

    const results = await deliver(metaDestination, CONFIG, conversions(4), answer, NOW);

    expect(statuses(results)).toEqual(Array(4).fill('retry'));
  });

  it('fails every conversion when the batch is rejected for configuration (bad token)', async () => {
    let calls = 0;
    const answer: Transport = async () => {
      calls++;
      return graph(400, { message: 'Invalid OAuth access token', type: 'OAuthException', code: 190 });
    };

    const results = await deliver(metaDestination, CONFIG, conversions(4), answer, NOW);

    expect(statuses(results)).toEqual(Array(4).fill('failed'));
    expect(results[0]).toMatchObject({ error: { code: '190' } });
    expect(calls).toBe(1); // not split: no event can succeed
  });
});

describe('deliver: isolating invalid events (Meta rejects the whole batch for one)', () => {
  it('delivers 7 of 8 when one is invalid, in at most 2·log2(8)+1 = 7 requests', async () => {
    // Prepare
    const batch = conversions(8);
    const meta = metaLikeTransport([batch[5].eventId]);

    // Act
    const results = await deliver(metaDestination, CONFIG, batch, meta.transport, NOW);

    // Assess
    expect(idsWith(batch, results, 'failed')).toEqual([batch[5].eventId]);
    expect(idsWith(batch, results, 'delivered')).toHaveLength(7);
    expect(results[5]).toMatchObject({ status: 'failed', error: { code: '100/2804019' } });
    expect(meta.requests.length).toBeLessThanOrEqual(7);
    expect(meta.accepted.sort()).toEqual(batch.filter((_, i) => i !== 5).map((c) => c.eventId).sort()); // each once
  });

  it('fails exactly the two invalid conversions among 16', async () => {
    const batch = conversions(16);
    const bad = [batch[2].eventId, batch[13].eventId];
    const meta = metaLikeTransport(bad);

    const results = await deliver(metaDestination, CONFIG, batch, meta.transport, NOW);

    expect(idsWith(batch, results, 'failed').sort()).toEqual([...bad].sort());
    expect(idsWith(batch, results, 'delivered')).toHaveLength(14);
  });

  it('fails a single invalid conversion without splitting further', async () => {
    const batch = conversions(1);
    const meta = metaLikeTransport([batch[0].eventId]);

    const results = await deliver(metaDestination, CONFIG, batch, meta.transport, NOW);

    expect(statuses(results)).toEqual(['failed']);
    expect(meta.requests).toHaveLength(1);
  });
});

describe('deliver: against the Meta fake over HTTP', () => {
  it('fails the whole batch in one request when the pinned API version has been sunset (code 2635)', async () => {
    // Prepare: a Graph API that only answers v25.0.
    const newer = await startMetaFake({ pixelId: CONFIG.pixelId, accessToken: CONFIG.accessToken, apiVersion: 'v25.0' });
    try {
      const now = new Date();
      const batch = conversions(8, { occurredAt: new Date(now.getTime() - 60_000).toISOString() });
      const stats = { requests: 0 };

      // Act
      const results = await deliver(metaDestination, { ...CONFIG, baseUrl: newer.baseUrl }, batch, fetchTransport(), now, stats);

      // Assess
      expect(statuses(results)).toEqual(Array(8).fill('failed'));
      expect(results[0]).toMatchObject({ error: { code: '2635' } });
      expect(stats.requests).toBe(1);
    } finally {
      await newer.close();
    }
  });

  let fake: MetaFake;
  beforeAll(async () => {
    fake = await startMetaFake({ pixelId: CONFIG.pixelId, accessToken: CONFIG.accessToken });
  });
  afterAll(async () => fake?.close());

  it('isolates the one event the API rejects and delivers the others once', async () => {
    // Prepare: the fake checks event ages against the real clock.
    const now = new Date();
    const batch = conversions(8, { occurredAt: new Date(now.getTime() - 60_000).toISOString() });
    const poisoned = batch[3].eventId;
    fake.failWhen((ev) => ev.event_id === poisoned, {
      status: 400,
      body: { error: { message: 'Invalid parameter', type: 'OAuthException', code: 100, error_subcode: 2804001, is_transient: false } },
    });

    // Act
    const results = await deliver(metaDestination, { ...CONFIG, baseUrl: fake.baseUrl }, batch, fetchTransport(), now);

    // Assess
    expect(idsWith(batch, results, 'failed')).toEqual([poisoned]);
    expect(fake.events().map((e) => e.event_id).sort()).toEqual(batch.filter((c) => c.eventId !== poisoned).map((c) => c.eventId).sort());
  });
});

describe('deliver: conversions that depend on earlier ones', () => {
  // A minimal destination whose refunds wait for their original (the generic default decision, no afterDependencies).
  const sent: string[][] = [];
  const dependent: Destination<{ token: string }> = {
    name: 'dep',
    maxBatchSize: 10,
    maxEventAgeMs: 30 * DAY,
    settingKeys: [],
    configure: () => ({ config: { token: 't' }, missing: [] }),
    buildRequest: (batch) => ({ method: 'POST', url: 'http://x', headers: {}, body: batch.map((c) => c.eventId) }),
    classify: () => ({ kind: 'ok' }),
    signals: () => [],
    dependsOn: (c) => (c.adjustment ? [c.adjustment.originalEventId ?? c.adjustment.originalOrderId] : undefined),
  };
  const transport: Transport = async (request) => {
    sent.push(request.body as string[]);
    return { status: 200, headers: {}, body: {} };
  };
  const refundOf = (original: string) =>
    conversionFactory({ eventId: `re_${original}`, eventName: 'Refund', adjustment: { kind: 'refund', originalOrderId: original, originalEventId: original, full: true } });

  it('sends a refund whose original was delivered, holds one still pending, skips one never sent', async () => {
    sent.length = 0;
    const rows: Record<string, PriorDelivery> = {
      done: { eventId: 'done', status: 'delivered' },
      pending: { eventId: 'pending', status: 'retrying' },
      skipped: { eventId: 'skipped', status: 'skipped', reason: 'consent' },
    };
    const asked: string[][] = [];

    const results = await deliver(dependent, { token: 't' }, [refundOf('done'), refundOf('pending'), refundOf('skipped'), refundOf('unknown'), conversionFactory()], transport, NOW, undefined, {
      priorDeliveries: async (destination, ids) => {
        asked.push([destination, ...ids]);
        return ids.map((id) => rows[id]);
      },
    });

    expect(statuses(results)).toEqual(['delivered', 'retry', 'skipped', 'skipped', 'delivered']);
    expect(results[1]).toMatchObject({ error: { code: 'awaiting_original' } });
    expect(sent).toEqual([['re_done', 'cs_test_order_1']]);
    // One ledger read for the whole batch, for this destination only.
    expect(asked).toEqual([['dep', 'done', 'pending', 'skipped', 'unknown']]);
  });

  it('retries the dependent conversions, and only those, when the ledger cannot be read', async () => {
    const results = await deliver(dependent, { token: 't' }, [refundOf('done'), conversionFactory()], transport, NOW, undefined, {
      priorDeliveries: async () => {
        throw new Error('throttled');
      },
    });

    expect(results[0]).toMatchObject({ status: 'retry', error: { code: 'ledger_unavailable' } });
    expect(results[1].status).toBe('delivered');
  });

  it('checks nothing without a ledger lookup (callers that predate the hook)', async () => {
    expect(statuses(await deliver(dependent, { token: 't' }, [refundOf('pending')], transport, NOW))).toEqual(['delivered']);
  });
});

describe('deliver: retry hints', () => {
  it('passes the platform’s retryAfterSeconds on to the retried conversions', async () => {
    const dest: Destination<{ token: string }> = {
      name: 'hint',
      maxBatchSize: 10,
      maxEventAgeMs: 30 * DAY,
      settingKeys: [],
      configure: () => ({ config: { token: 't' }, missing: [] }),
      buildRequest: () => ({ method: 'POST', url: 'http://x', headers: {}, body: {} }),
      classify: () => ({ kind: 'partial', failures: [{ index: 1, transient: true, retryAfterSeconds: 21600, error: { code: 'TOO_RECENT_EVENT', message: 'too recent' } }] }),
      signals: () => [],
    };

    const results = await deliver(dest, { token: 't' }, conversions(2), async () => ({ status: 200, headers: {}, body: {} }), NOW);

    expect(results).toEqual([
      { status: 'delivered', signals: [] },
      { status: 'retry', error: { code: 'TOO_RECENT_EVENT', message: 'too recent' }, retryAfterSeconds: 21600 },
    ]);
  });
});

describe('deliver: prepare failures', () => {
  const base: Destination<{ token: string }> = {
    name: 'prep',
    maxBatchSize: 10,
    maxEventAgeMs: 30 * DAY,
    settingKeys: [],
    configure: () => ({ config: { token: 't' }, missing: [] }),
    buildRequest: () => ({ method: 'POST', url: 'http://x', headers: {}, body: {} }),
    classify: () => ({ kind: 'ok' }),
    signals: () => [],
  };
  const never: Transport = async () => {
    throw new Error('must not be called');
  };

  it('dead-letters every conversion at once on a ConfigurationError, with its code', async () => {
    const dest = { ...base, prepare: async () => Promise.reject(new ConfigurationError('oauth.invalid_grant', 'refresh token revoked')) };

    const results = await deliver(dest, { token: 't' }, conversions(2), never, NOW);

    expect(results).toEqual([0, 1].map(() => ({ status: 'failed', error: { code: 'oauth.invalid_grant', message: 'refresh token revoked' } })));
  });

  it('retries every conversion on any other error', async () => {
    const dest = { ...base, prepare: async () => Promise.reject(new Error('ECONNRESET')) };

    expect(statuses(await deliver(dest, { token: 't' }, conversions(2), never, NOW))).toEqual(['retry', 'retry']);
  });
});
