import type { SQSRecord } from 'aws-lambda';
import type { Conversion } from '#core/conversion.ts';
import { matchRecord } from '#core/match-quality.ts';
import type { DeliveryResult } from '#destinations/deliver.ts';
import { DEFAULT_MAX_ATTEMPTS, MAX_ATTEMPTS_ENV } from '#core/names.ts';
import type { Destination, FollowUpVerdict, PlatformError, PlatformStatus, PlatformVerdict, Transport } from '#destinations/types.ts';
import type { DynamoLedger } from '#store/ledger.ts';
import { enqueueLater, sendToDeadLetterQueue } from '#store/queues.ts';

/**
 * Status checks of asynchronously processed requests (`Destination.followUp`): small messages on the destination's
 * own queue (`kind` = status-check) naming a platform request ID and the conversions it carried. The ledger keeps
 * those conversions (`awaitingStatus`) until the platform's verdict is final; then the rows say what it reported, and
 * a refusal puts the conversions in the DLQ with the platform's reason, like any other permanent failure — except
 * conversions refused only for now (Google: the click is too recent), which are queued again, due when the platform
 * will take them (`followUp.retryAt`), with their attempts carried over.
 */
export const STATUS_CHECK_KIND = 'status-check';
const MAX_WAIT_SECONDS = 12 * 3600;

interface StatusCheck {
  requestId: string;
  eventIds: string[];
  check: number;
  /** When the request was sent (ISO): tells which events a "too recent" verdict can concern. */
  sentAt?: string;
}

export const isStatusCheck = (record: SQSRecord) => record.messageAttributes?.kind?.stringValue === STATUS_CHECK_KIND;

/**
 * Schedules the first check of every request ID among these deliveries and marks them `awaitingStatus` (so the
 * ledger keeps their Conversion). A check that cannot be queued leaves the rows plainly delivered.
 */
export async function scheduleStatusChecks<C>(dest: Destination<C>, config: C | undefined, outcomes: { conversion: Conversion; result: DeliveryResult }[], now: Date): Promise<void> {
  if (!dest.followUp || config === undefined) return;
  const byRequest = new Map<string, { conversion: Conversion; result: DeliveryResult & { status: 'delivered' } }[]>();
  for (const o of outcomes) {
    if (o.result.status !== 'delivered' || !o.result.requestId) continue;
    byRequest.set(o.result.requestId, [...(byRequest.get(o.result.requestId) ?? []), o as never]);
  }
  if (byRequest.size === 0) return;
  const notBefore = new Date(now.getTime() + dest.followUp.firstCheckSeconds(config) * 1000);
  await enqueueLater(
    dest.name,
    [...byRequest].map(([requestId, list]) => ({ kind: STATUS_CHECK_KIND, notBefore, body: JSON.stringify({ requestId, eventIds: list.map((o) => o.conversion.eventId), check: 1, sentAt: now.toISOString() } satisfies StatusCheck) })),
    now,
  );
  for (const list of byRequest.values()) for (const o of list) o.result.awaitingStatus = true;
}

/**
 * The verdict as the ledger row keeps it for the quality report. A check still pending here is the last one: no final
 * status came, so the request stays `unconfirmed`.
 */
export function platformVerdict(verdict: FollowUpVerdict, requestId: string): PlatformVerdict {
  const status: PlatformStatus =
    verdict.kind === 'refused' ? 'failed' : verdict.kind === 'partly' ? 'partial' : verdict.kind === 'accepted' && !verdict.unconfirmed ? 'succeeded' : 'unconfirmed';
  const reasons = verdict.kind === 'refused' || verdict.kind === 'partly' ? verdict.reasons : undefined;
  return { requestId, status, ...(reasons?.length && { reasons }) };
}

/** Runs the due status checks of a batch. Every check ends done (its outcome recorded, or the next check queued). */
export async function runStatusChecks<C>(
  dest: Destination<C>,
  config: C,
  records: SQSRecord[],
  transport: Transport,
  ledger: DynamoLedger,
  now: Date,
  log: (message: string, detail: Record<string, unknown>) => void,
): Promise<void> {
  const followUp = dest.followUp!;
  const maxAttempts = Number(process.env[MAX_ATTEMPTS_ENV] ?? DEFAULT_MAX_ATTEMPTS);
  for (const record of records) {
    let check: StatusCheck;
    try {
      check = JSON.parse(record.body) as StatusCheck;
      if (typeof check.requestId !== 'string' || !Array.isArray(check.eventIds)) throw new Error('not a status check');
    } catch {
      log('unreadable status check dropped', { messageId: record.messageId });
      continue;
    }
    let verdict: FollowUpVerdict;
    try {
      verdict = followUp.classify(await transport(followUp.buildRequest(check.requestId, config)), check.requestId);
    } catch (err) {
      verdict = { kind: 'pending', note: `status check failed: ${(err as Error).message}` };
    }
    let rows = (await ledger.findDeliveries(dest.name, check.eventIds)).flatMap((row) => (row?.conversion ? [{ conversion: row.conversion, attempts: row.attempts ?? 1 }] : []));
    if (verdict.kind === 'pending' && check.check < followUp.maxChecks) {
      const wait = Math.min(MAX_WAIT_SECONDS, followUp.firstCheckSeconds(config) * 2 ** check.check);
      await enqueueLater(dest.name, [{ kind: STATUS_CHECK_KIND, notBefore: new Date(now.getTime() + wait * 1000), body: JSON.stringify({ ...check, check: check.check + 1 }) }], now);
      log('platform still processing; checking again later', { requestId: check.requestId, check: check.check, nextInSeconds: wait, note: verdict.note });
      continue;
    }
    if ((verdict.kind === 'refused' || verdict.kind === 'partly') && verdict.later) {
      // Refused only for now (a click too recent): those conversions go again once due, as fresh queue messages that
      // carry their attempts; the rest of the request keeps the platform's verdict.
      const later = verdict.later;
      const certain = later.count >= rows.length;
      const sentAt = check.sentAt ? new Date(check.sentAt) : undefined;
      const again = rows.flatMap((r) => {
        const at = followUp.retryAt?.(r.conversion, config, sentAt, now, certain);
        return at ? [{ ...r, at }] : [];
      });
      const resend = again.filter((r) => r.attempts < maxAttempts);
      const exhausted = again.filter((r) => r.attempts >= maxAttempts);
      if (resend.length) {
        await enqueueLater(dest.name, resend.map((r) => ({ kind: 'conversion', body: JSON.stringify(r.conversion), notBefore: r.at, conversionId: r.conversion.eventId, priorAttempts: r.attempts })), now);
        await ledger.recordDeliveries(dest.name, resend.map((r) => ({ conversion: r.conversion, attempts: r.attempts, result: { status: 'retry', error: { code: later.error.code, message: `${later.error.message} (due ${r.at.toISOString()})` } } })), now);
        log('platform refused conversions for now; sent again once due', { requestId: check.requestId, errorCode: later.error.code, conversions: resend.length });
      }
      if (exhausted.length) {
        const error = { code: later.error.code, message: `gave up after ${exhausted[0].attempts} attempts; last error: ${later.error.message}` };
        await deadLetter(dest.name, check.requestId, exhausted, error, ledger, now);
      }
      rows = rows.filter((r) => !again.some((a) => a.conversion.eventId === r.conversion.eventId));
      if (rows.length === 0) continue;
    }
    if (verdict.kind === 'refused') {
      await deadLetter(dest.name, check.requestId, rows, verdict.error, ledger, now, platformVerdict(verdict, check.requestId));
      log('platform refused the request after processing it: dead-lettered', { requestId: check.requestId, errorCode: verdict.error.code, conversions: rows.length });
      continue;
    }
    const note = verdict.kind === 'pending' ? `no final status from the platform after ${check.check} checks (${verdict.note})` : verdict.note;
    const platform = platformVerdict(verdict, check.requestId);
    await ledger.recordDeliveries(
      dest.name,
      rows.map((r) => {
        const own = dest.deliveryNote?.(r.conversion, config);
        const signals = dest.signals(r.conversion, config);
        // The row is rewritten whole: its match record goes with it, or the quality report loses these events.
        return { conversion: r.conversion, attempts: r.attempts, result: { status: 'delivered' as const, signals, requestId: check.requestId, note: own ? `${note}; ${own}` : note }, match: matchRecord(dest.name, r.conversion, signals), platform };
      }),
      now,
    );
  }
}

/** Refused conversions to the DLQ with the platform's reason, then the ledger. */
async function deadLetter(destination: string, requestId: string, rows: { conversion: Conversion; attempts: number }[], error: PlatformError, ledger: DynamoLedger, now: Date, platform?: PlatformVerdict): Promise<void> {
  const unwritten = await sendToDeadLetterQueue(
    destination,
    rows.map((r) => ({ id: r.conversion.eventId, body: JSON.stringify(r.conversion), errorCode: error.code, errorMessage: error.message, attempts: r.attempts, conversionId: r.conversion.eventId })),
  );
  // A refusal not yet written to the DLQ stays awaiting (the check is asked again), so nothing is lost.
  if (unwritten.size) throw new Error(`could not dead-letter ${unwritten.size} conversion(s) the platform refused in request ${requestId}`);
  await ledger.recordDeliveries(destination, rows.map((r) => ({ conversion: r.conversion, attempts: r.attempts, result: { status: 'failed', error }, platform })), now);
}
