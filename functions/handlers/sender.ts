import middy from '@middy/core';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { ConversionSchema, type Conversion } from '#core/conversion.ts';
import { matchRecord, type MatchRecord } from '#core/match-quality.ts';
import { DESTINATION_METRICS, reasonCategory } from '#core/metric-names.ts';
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_BASE_SECONDS, MAX_ATTEMPTS_ENV, RETRY_BASE_ENV } from '#core/names.ts';
import { deliver, type DeliveryResult } from '#destinations/deliver.ts';
import { fetchTransport } from '#destinations/http.ts';
import type { Destination, Transport } from '#destinations/types.ts';
import { DynamoLedger } from '#store/ledger.ts';
import { delayRetries, sendLater, sendToDeadLetterQueue, type LaterMessage } from '#store/queues.ts';
import { loadSettings } from '#store/settings.ts';
import { isStatusCheck, runStatusChecks, scheduleStatusChecks } from './follow-up.ts';
import { count, logger, metrics } from './powertools.ts';
import { attemptOf, fallbackHoldSeconds, whileWaiting } from './waiting.ts';

const MAX_DELAY_SECONDS = 6 * 3600;
/** SQS refuses a visibility timeout beyond 12 h from the receive; keep a margin for this invocation's own time. */
const MAX_VISIBILITY_SECONDS = 12 * 3600 - 300;

/** Retry n waits base × 2^(n−1) seconds, capped: a platform outage is not hammered in a hot loop. */
export const retryDelaySeconds = (attempt: number, base: number) => Math.min(MAX_DELAY_SECONDS, Math.round(base * 2 ** Math.max(0, attempt - 1)));

/** The backoff, or longer when the platform said how long to wait (Google: "click too recent, retry in 6 h"). */
export const nextDelaySeconds = (attempt: number, base: number, retryAfterSeconds?: number) =>
  Math.min(MAX_VISIBILITY_SECONDS, Math.max(retryDelaySeconds(attempt, base), Math.ceil(retryAfterSeconds ?? 0)));

class RetryLater extends Error {}

/**
 * The Lambda entry point of one destination: a batch of queue messages becomes as few platform requests as the
 * platform allows. Each message ends delivered, skipped (with the reason), retried later (reported as a batch item
 * failure, its visibility stretched) or — permanently failed, or out of attempts — written to the DLQ by this
 * function with the reason as message attributes and removed from the queue.
 */
export function createSenderHandler<C>(dest: Destination<C>) {
  const ledger = new DynamoLedger();
  // How long to wait for the platform before counting the attempt as a transient failure (default 10 s).
  const http = fetchTransport(Number(process.env.RELAY_PLATFORM_TIMEOUT_MS) || undefined);
  // Every platform request is timed: the dashboard shows the platform's latency next to its failures.
  const transport: Transport = async (request) => {
    const started = performance.now();
    try {
      return await http(request);
    } finally {
      metrics.addMetric(DESTINATION_METRICS.platformLatency, MetricUnit.Milliseconds, Math.round(performance.now() - started));
      metrics.addMetric(DESTINATION_METRICS.platformRequests, MetricUnit.Count, 1);
    }
  };
  const processor = new BatchProcessor(EventType.SQS);
  const maxAttempts = Number(process.env[MAX_ATTEMPTS_ENV] ?? DEFAULT_MAX_ATTEMPTS);
  const retryBase = Number(process.env[RETRY_BASE_ENV] ?? DEFAULT_RETRY_BASE_SECONDS);

  return middy(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    metrics.addDimension('destination', dest.name);
    const now = new Date();
    const { config, missing } = dest.configure(await loadSettings());
    // Messages not due yet (status checks of requests the platform processes later, conversions told to wait) are
    // held back (visibility) or replaced by a fresh copy (waiting.ts), neither counting as an attempt.
    const held = new Map<string, number>();
    const copies: { record: SQSRecord; copy: LaterMessage }[] = [];
    const checks: SQSRecord[] = [];
    for (const r of event.Records) {
      const wait = whileWaiting(r, now);
      if (wait && 'hold' in wait) held.set(r.messageId, wait.hold);
      else if (wait) copies.push({ record: r, copy: wait.copy });
      else if (isStatusCheck(r)) checks.push(r);
    }
    // The copy is queued before the original is acknowledged (deleted as a success); one that could not be queued
    // keeps its original, held.
    const moved = new Set<string>();
    if (copies.length) {
      const unsent = await sendLater(dest.name, copies.map((c) => c.copy), now);
      copies.forEach(({ record }, k) => (unsent.has(k) ? held.set(record.messageId, fallbackHoldSeconds(record, now)) : moved.add(record.messageId)));
      if (unsent.size) logger.warn('could not re-send waiting messages; held in place instead', { count: unsent.size });
    }
    if (checks.length && dest.followUp && config !== undefined) {
      try {
        const ready = dest.prepare ? await dest.prepare(config, transport, now) : config;
        await runStatusChecks(dest, ready, checks, transport, ledger, now, (m, d) => logger.info(m, { destination: dest.name, ...d }));
      } catch (err) {
        logger.warn('status checks failed; retried', { error: err as Error });
        for (const r of checks) held.set(r.messageId, retryDelaySeconds(1, retryBase));
      }
    }
    const records = event.Records.filter((r) => !held.has(r.messageId) && !moved.has(r.messageId) && !isStatusCheck(r));
    // Counted across copies (a long wait re-sends the message), never counting holds.
    const attempts = records.map(attemptOf);

    // A message that is not a Conversion can never be delivered: straight to the DLQ.
    const parsed = records.map((r) => parseConversion(r));
    const valid = parsed.flatMap((p, i) => (p.ok ? [i] : []));
    const delivered = await deliver(
      dest,
      config,
      valid.map((i) => (parsed[i] as { ok: true; conversion: Conversion }).conversion),
      transport,
      now,
      { requests: 0 },
      dest.dependsOn ? { priorDeliveries: (name, ids) => ledger.findDeliveries(name, ids) } : {},
    );
    const results: DeliveryResult[] = parsed.map((p) => (p.ok ? (undefined as never) : { status: 'failed', error: { code: 'malformed_message', message: p.error } }));
    valid.forEach((i, k) => (results[i] = delivered[k]));

    // Out of attempts: dead-letter it ourselves, with the last error, rather than let SQS redrive it silently.
    results.forEach((r, i) => {
      if (r.status === 'retry' && attempts[i] >= maxAttempts) {
        results[i] = { status: 'failed', error: { code: r.error.code, message: `gave up after ${attempts[i]} attempts; last error: ${r.error.message}` } };
      }
    });

    const unwritten = await sendToDeadLetterQueue(
      dest.name,
      records.flatMap((record, i) => {
        const r = results[i];
        if (r.status !== 'failed') return [];
        const conversion = parsed[i].ok ? (parsed[i] as { conversion: Conversion }).conversion : undefined;
        return [{ id: record.messageId, body: record.body, errorCode: r.error.code, errorMessage: r.error.message, attempts: attempts[i], conversionId: conversion?.eventId, firstFailureAt: firstFailure(record) }];
      }),
    );
    // A failure we could not write to the DLQ stays on the queue (retried), so nothing is lost.
    records.forEach((record, i) => {
      const r = results[i];
      if (r.status === 'failed' && unwritten.has(record.messageId)) results[i] = { status: 'retry', error: r.error };
    });

    // A platform that asks for a longer wait than SQS can hide a message (Google: "adjust a conversion at least 24 h
    // old", TOO_RECENT_CONVERSION) gets a fresh copy that is due then, carrying the attempts made so far; the original
    // is deleted. Waiting for the copy to be due (above) does not count as an attempt nor toward the redrive limit.
    const parked = new Set<string>();
    const longWaits = records.flatMap((record, i) => {
      const r = results[i];
      return r.status === 'retry' && (r.retryAfterSeconds ?? 0) > MAX_VISIBILITY_SECONDS ? [{ record, seconds: r.retryAfterSeconds!, attempts: attempts[i] }] : [];
    });
    if (longWaits.length) {
      const unsent = await sendLater(
        dest.name,
        longWaits.map(({ record, seconds, attempts }) => ({
          kind: 'conversion',
          body: record.body,
          notBefore: new Date(now.getTime() + seconds * 1000),
          conversionId: record.messageAttributes?.conversionId?.stringValue,
          priorAttempts: attempts,
          firstFailureAt: firstFailure(record),
        })),
        now,
      );
      // Per message: a copy that went out replaces its original; one that did not leaves it retried at the visibility limit.
      longWaits.forEach(({ record }, k) => !unsent.has(k) && parked.add(record.messageId));
      if (unsent.size) logger.warn('could not re-enqueue for a long wait; retried at the visibility limit instead', { count: unsent.size });
    }

    await delayRetries(dest.name, [
      ...records.flatMap((record, i) => {
        const r = results[i];
        return r.status === 'retry' && !parked.has(record.messageId) ? [{ receiptHandle: record.receiptHandle, delaySeconds: nextDelaySeconds(attempts[i], retryBase, r.retryAfterSeconds) }] : [];
      }),
      ...event.Records.filter((r) => held.has(r.messageId)).map((r) => ({ receiptHandle: r.receiptHandle, delaySeconds: held.get(r.messageId)! })),
    ]).catch((err) => logger.warn('could not delay retries; they come back after the queue visibility timeout', { error: err as Error }));

    const ledgerRows = records.flatMap((_, i) => {
      if (!parsed[i].ok) return [];
      const conversion = (parsed[i] as { conversion: Conversion }).conversion;
      const r = results[i];
      const match = r.status === 'delivered' || r.status === 'dry_run' ? matchRecord(dest.name, conversion, r.signals) : undefined;
      return [{ conversion, result: r, attempts: attempts[i], match }];
    });
    await scheduleStatusChecks(dest, config, ledgerRows, now).catch((err) => logger.warn('could not schedule status checks; rows stay delivered without the platform’s verdict', { error: err as Error }));
    await ledger.recordDeliveries(dest.name, ledgerRows).catch((err) => logger.error('ledger write failed', { error: err as Error }));

    report(dest.name, records, results, attempts, missing);
    reportMatch(ledgerRows.flatMap((row) => (row.match ? [row.match] : [])));
    return processPartialResponse(
      event,
      async (record: SQSRecord) => {
        if (held.has(record.messageId)) throw new RetryLater('not due yet');
        const k = records.indexOf(record);
        if (k < 0) return;
        const r = results[k];
        if (r.status === 'retry' && !parked.has(record.messageId)) throw new RetryLater(`${r.error.code}: ${r.error.message}`);
      },
      processor,
      { context, throwOnFullBatchFailure: false },
    );
  })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics));
}

function parseConversion(record: SQSRecord): { ok: true; conversion: Conversion } | { ok: false; error: string } {
  try {
    const res = ConversionSchema.safeParse(JSON.parse(record.body));
    return res.success ? { ok: true, conversion: res.data } : { ok: false, error: `not a Conversion: ${res.error.issues[0]?.path.join('.')}: ${res.error.issues[0]?.message}` };
  } catch {
    return { ok: false, error: 'body is not JSON' };
  }
}

/** When this conversion first failed: kept across redrives (the attribute travels with the message), else its first receive. */
function firstFailure(record: SQSRecord): string | undefined {
  const earlier = record.messageAttributes?.firstFailureAt?.stringValue;
  if (earlier) return earlier;
  const ms = Number(record.attributes.ApproximateFirstReceiveTimestamp);
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : undefined;
}

/** One log line per message (IDs, status, reason; never the payload's identifiers) and one set of metrics per batch. */
function report(destination: string, records: SQSRecord[], results: DeliveryResult[], attempts: number[], missing: string[]) {
  const counts: Record<string, number> = {};
  records.forEach((record, i) => {
    const r = results[i];
    counts[r.status] = (counts[r.status] ?? 0) + 1;
    const conversionId = record.messageAttributes?.conversionId?.stringValue;
    const detail =
      r.status === 'skipped' || r.status === 'dry_run'
        ? { reason: r.reason }
        : 'error' in r
          ? { errorCode: r.error.code, error: r.error.message }
          : { signals: r.signals };
    const line = { destination, conversionId, messageId: record.messageId, attempt: attempts[i], status: r.status, ...detail };
    if (r.status === 'failed') logger.error('conversion dead-lettered', line);
    else if (r.status === 'retry') logger.warn('conversion will be retried', line);
    else if (r.status === 'dry_run') logger.info('dry run: not sent', { ...line, missingSettings: missing.length ? missing : undefined, request: r.request });
    else logger.info(`conversion ${r.status}`, line);
  });
  const metricOf: Record<Exclude<DeliveryResult['status'], 'skipped'>, string> = {
    delivered: DESTINATION_METRICS.delivered,
    retry: DESTINATION_METRICS.failedTransient,
    failed: DESTINATION_METRICS.failedPermanent,
    dry_run: DESTINATION_METRICS.dryRun,
  };
  for (const [status, n] of Object.entries(counts)) if (status !== 'skipped') metrics.addMetric(metricOf[status as keyof typeof metricOf], MetricUnit.Count, n);
  const skippedBy: Record<string, number> = {};
  for (const r of results) if (r.status === 'skipped') skippedBy[reasonCategory(r.reason)] = (skippedBy[reasonCategory(r.reason)] ?? 0) + 1;
  for (const [reason, n] of Object.entries(skippedBy)) count(DESTINATION_METRICS.skipped, { destination, reason }, n);
  metrics.addMetric(DESTINATION_METRICS.batchSize, MetricUnit.Count, records.length);
}

/**
 * Match quality per batch: the average score (Average over a period = the period's mean) and the share of events
 * with a click ID attached, as percent samples (one per event), so the alarm's floor compares like with like.
 */
function reportMatch(matches: MatchRecord[]) {
  for (const m of matches) {
    metrics.addMetric(DESTINATION_METRICS.matchScore, MetricUnit.NoUnit, m.s);
    metrics.addMetric(DESTINATION_METRICS.clickAttached, MetricUnit.Percent, m.c ? 100 : 0);
  }
}
