import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { calibrateMetaWeights, matchRecord, metaScore } from '#core/match-quality.ts';
import { destinationDefinitions as destinations } from '../../functions/destinations/definitions.ts';
import { renderQualityHtml } from '../../lib/ops/quality-html.ts';
import { qualityReport, tallyRequests, type RemoteVerdict } from '../../lib/ops/quality.ts';
import { batchRecordItems } from '../../functions/store/batch-records.ts';
import type { Target } from '../../lib/ops/target.ts';
import { NOW, conversionFactory } from '../support/factories.ts';

/**
 * The report's figures from ledger rows as the senders and the follow-up write them (the scan is mocked, one page at
 * a time): Google's verdict per request, Meta's calibrated score, and the platforms' verdicts beside ours.
 */
const ddb = mockClient(DynamoDBDocumentClient);
const target = { kind: 'local', description: 'test', ledgerTable: 'Ledger', queues: {}, secretArns: {}, ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })) } as unknown as Target;
const since = new Date(NOW.getTime() - 86400_000);
const meta = destinations.find((d) => d.name === 'meta')!;
const google = destinations.find((d) => d.name === 'google-ads')!;

/** A distinct conversion key per row (the report counts each conversion's newest row per destination). */
let rowCount = 0;
const pk = () => `C#evt_${++rowCount}`;

const googleRow = (event: string, requestId: string | undefined, status: string, platformStatus: string | undefined, reasons?: unknown) => {
  const c = conversionFactory();
  return { pk: pk(), sk: 'D#google-ads', status, eventName: event, m: matchRecord('google-ads', c, google.signals(c)), requestId, platformStatus, platformReasons: reasons };
};

describe('quality report: the platforms’ verdicts', () => {
  afterEach(() => ddb.reset());

  it('tallies Google’s verdict by distinct request, per event name, with the records it refused by reason', async () => {
    const clickNotFound = [{ reason: 'PROCESSING_ERROR_REASON_CLICK_NOT_FOUND', count: 2 }];
    ddb
      .on(ScanCommand)
      .resolvesOnce({
        Items: [
          // Request r1 carried two purchases and succeeded; r2 (two rows) failed; r3 is still pending.
          googleRow('Purchase', 'r1', 'delivered', 'succeeded'),
          googleRow('Purchase', 'r1', 'delivered', 'succeeded'),
          googleRow('Purchase', 'r2', 'dead_lettered', 'failed', clickNotFound),
          googleRow('Purchase', 'r2', 'dead_lettered', 'failed', clickNotFound),
        ],
        LastEvaluatedKey: { pk: 'x' },
        ScannedCount: 4,
      })
      .resolvesOnce({
        Items: [
          googleRow('Purchase', 'r3', 'delivered', 'pending'),
          googleRow('Lead', 'r4', 'delivered', 'partial', [{ reason: 'PROCESSING_ERROR_REASON_INVALID_EMAIL', count: 1 }, { reason: 'PROCESSING_ERROR_REASON_CLICK_NOT_FOUND', count: 1 }]),
          googleRow('Lead', 'r5', 'delivered', 'unconfirmed'),
          // A partial success without counts adds no reason.
          googleRow('Lead', 'r6', 'delivered', 'partial'),
          // A Google Ads API upload: no request ID, no verdict to tally.
          googleRow('Lead', undefined, 'delivered', undefined),
        ],
        ScannedCount: 5,
      });
    const report = await qualityReport(target, { destinations: ['google-ads'], since }, NOW);
    const [g] = report.destinations;
    expect(g.requests!.byEvent).toEqual([
      // As many requests each: by name.
      { eventName: 'Lead', requests: 3, events: 3, pending: 0, succeeded: 0, partial: 2, failed: 0, unconfirmed: 1 },
      { eventName: 'Purchase', requests: 3, events: 5, pending: 1, succeeded: 1, partial: 0, failed: 1, unconfirmed: 0 },
    ]);
    expect(g.requests!.total).toMatchObject({ requests: 6, events: 8, failed: 1, partial: 2 });
    // Counted once per request, not once per row: r2's two records plus r4's one.
    expect(g.requests!.failureReasons).toEqual([
      { reason: 'PROCESSING_ERROR_REASON_CLICK_NOT_FOUND', count: 3 },
      { reason: 'PROCESSING_ERROR_REASON_INVALID_EMAIL', count: 1 },
    ]);
    expect(g.delivered).toBe(7);
    expect(g.failed).toBe(2);
    // The scan asks for the verdict's attributes.
    expect(ddb.commandCalls(ScanCommand)[0].args[0].input.ProjectionExpression).toMatch(/requestId, platformStatus, platformReasons/);

    const html = renderQualityHtml(report);
    expect(html).toMatch(/Google’s verdict on its requests/);
    expect(html).toMatch(/6 requests carrying 8 events/);
    expect(html).toMatch(/PROCESSING_ERROR_REASON_CLICK_NOT_FOUND/);
  });

  it('reads delivered events from batch records, each conversion once: its newest row wins', async () => {
    const c = conversionFactory();
    const m = matchRecord('meta', c, meta.signals(c));
    const at = (min: number) => new Date(NOW.getTime() - 3600_000 + min * 60_000);
    const entry = (eventId: string, status: string) => ({ occurredAt: c.occurredAt, entry: { eventId, status, eventName: 'Purchase', attempts: 1, m } });
    // evt_a retried (its D# row) then went through in a batch; evt_b was delivered, then refused by the platform (a
    // newer D# row); evt_c and evt_d only in the batch record.
    const record = batchRecordItems('meta', [entry('evt_a', 'delivered'), entry('evt_b', 'delivered'), entry('evt_c', 'delivered'), entry('evt_d', 'dry_run')], at(10), 'b1', 0);
    ddb.on(ScanCommand).resolves({
      Items: [
        { pk: 'C#evt_a', sk: 'D#meta', status: 'retrying', eventName: 'Purchase', updatedAt: at(5).toISOString() },
        ...record,
        { pk: 'C#evt_b', sk: 'D#meta', status: 'dead_lettered', eventName: 'Purchase', updatedAt: at(20).toISOString() },
      ],
      ScannedCount: 3,
    });

    const [q] = (await qualityReport(target, { destinations: ['meta'], since }, NOW)).destinations;
    expect({ delivered: q.delivered, dryRun: q.dryRun, failed: q.failed }).toEqual({ delivered: 2, dryRun: 1, failed: 1 });
    expect(q.total.events).toBe(3);
    // The scan asks for the destination's batch partitions and the compressed records' attribute.
    const input = ddb.commandCalls(ScanCommand)[0].args[0].input;
    expect(input.FilterExpression).toContain('begins_with(pk, :b0)');
    expect(input.ExpressionAttributeValues).toMatchObject({ ':b0': 'B#meta#' });
    expect(input.ProjectionExpression).toContain('d');
  });

  it('has no request verdicts where the ledger holds none', () => {
    expect(tallyRequests([])).toBeUndefined();
  });

  it('scores Meta’s events again with the weights calibrated to Meta’s uplift figures for each event name', async () => {
    const full = conversionFactory();
    const emailIp = conversionFactory({ user: { email: 'e'.repeat(64), ip: '203.0.113.9', userAgent: 'UA/1' }, clicks: {}, visitorId: undefined });
    const rows = [full, emailIp].map((c) => ({ pk: pk(), sk: 'D#meta', status: 'delivered', eventName: 'Purchase', m: matchRecord('meta', c, meta.signals(c)) }));
    const lead = { pk: pk(), sk: 'D#meta', status: 'delivered', eventName: 'Lead', m: matchRecord('meta', emailIp, meta.signals(emailIp)) };
    ddb.on(ScanCommand).resolves({ Items: [...rows, lead], ScannedCount: 3 });
    const feedback = [
      { identifier: 'email', upliftPercent: 58.96 },
      { identifier: 'ip_address', upliftPercent: 58.96 },
      { identifier: 'phone', upliftPercent: 5.9 },
    ];
    const remote: Record<string, RemoteVerdict> = { meta: { platform: 'Meta Dataset Quality API', ok: true, events: [{ eventName: 'Purchase', compositeScore: 6.1, matchKeys: feedback, diagnostics: [], dedupe: [] }] } };

    const report = await qualityReport(target, { destinations: ['meta'], since, remote }, NOW);
    const [m] = report.destinations;
    const purchase = m.byEvent.find((r) => r.eventName === 'Purchase')!;
    const weights = calibrateMetaWeights(feedback);
    const expected = Math.round(((metaScore(rows[0].m, weights) + metaScore(rows[1].m, weights)) / 2) * 10) / 10;
    expect(purchase.calibratedScore).toBe(expected);
    expect(purchase.calibratedScore).not.toBe(purchase.score);
    // Meta said nothing about Lead: its calibrated score is ours.
    const leadRow = m.byEvent.find((r) => r.eventName === 'Lead')!;
    expect(leadRow.calibratedScore).toBe(leadRow.score);
    expect(m.total.calibratedScore).toBe(Math.round(((metaScore(rows[0].m, weights) + metaScore(rows[1].m, weights) + lead.m.s) / 3) * 10) / 10);
    expect(m.remote).toBe(remote.meta);

    const html = renderQualityHtml(report);
    expect(html).toMatch(/aria-label="Relay score, Meta-calibrated: [\d.]+ of 10"/);
    expect(html).toMatch(/<th>Meta-calibrated<\/th>/);

    // Without Meta's figures (offline, or an answer without e-mail's uplift) there is nothing to calibrate with.
    ddb.reset();
    ddb.on(ScanCommand).resolves({ Items: rows, ScannedCount: 2 });
    const offline = await qualityReport(target, { destinations: ['meta'], since }, NOW);
    expect(offline.destinations[0].byEvent[0].calibratedScore).toBeUndefined();
    const noFigures: Record<string, RemoteVerdict> = { meta: { platform: 'Meta Dataset Quality API', ok: true, events: [{ eventName: 'Purchase', compositeScore: 6.1, matchKeys: [{ identifier: 'email', coverage: 100 }], diagnostics: [], dedupe: [] }] } };
    const bare = await qualityReport(target, { destinations: ['meta'], since, remote: noFigures }, NOW);
    expect(bare.destinations[0].total.calibratedScore).toBeUndefined();
  });

  it('puts Pinterest’s Event Quality Score beside its section, and a refusal in words', async () => {
    ddb.on(ScanCommand).resolves({ Items: [], ScannedCount: 0 });
    const remote: Record<string, RemoteVerdict> = {
      pinterest: {
        platform: 'Pinterest Event Quality Score API',
        ok: true,
        scores: [{ overallStatus: 'NEEDS_IMPROVEMENT', sourcePlatform: 'WEB', ingestionSource: 'CONVERSIONS_API', lookbackPeriod: '14d', components: [{ parameter: 'hashed_email', eventType: 'checkout', coverage: 42.5, issues: [{ name: 'Invalid email hash format' }] }] }],
      },
      meta: { platform: 'Meta Dataset Quality API', ok: false, message: 'Meta answered HTTP 403, code 10: (#10) Application does not have permission' },
    };
    const report = await qualityReport(target, { destinations: ['pinterest', 'meta'], since, remote }, NOW);
    expect(report.destinations[0].remote).toBe(remote.pinterest);
    const html = renderQualityHtml(report);
    expect(html).toMatch(/Pinterest’s Event Quality Score: <span class="status needs_improvement">NEEDS_IMPROVEMENT<\/span>/);
    expect(html).toMatch(/<td>checkout<\/td><td>42.5%<\/td>/);
    expect(html).toMatch(/Invalid email hash format/);
    expect(html).toMatch(/class="warn">Meta answered HTTP 403, code 10/);
  });
});
