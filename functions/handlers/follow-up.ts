import type { SQSRecord } from 'aws-lambda';
import { ConversionSchema, type Conversion } from '#core/conversion.ts';
import { matchRecord } from '#core/match-quality.ts';
import type { DeliveryResult } from '#destinations/deliver.ts';
import type { Destination, FollowUpVerdict, PlatformStatus, PlatformVerdict, Transport } from '#destinations/types.ts';
import type { DynamoLedger } from '#store/ledger.ts';
import { enqueueLater, sendToDeadLetterQueue } from '#store/queues.ts';

/**
 * Status checks of asynchronously processed requests (`Destination.followUp`): small messages on the destination's
 * own queue (`kind` = status-check) naming a platform request ID and the conversions it carried. The ledger keeps
 * those conversions (`awaitingStatus`) until the platform's verdict is final; then the rows say what it reported, and
 * a refusal puts the conversions in the DLQ with the platform's reason, like any other permanent failure.
 */
export const STATUS_CHECK_KIND = 'status-check';
const MAX_WAIT_SECONDS = 12 * 3600;

interface StatusCheck {
  requestId: string;
  eventIds: string[];
  check: number;
}

export const isStatusCheck = (record: SQSRecord) => record.messageAttributes?.kind?.stringValue === STATUS_CHECK_KIND;

/** A message not due yet (its `notBefore` attribute): how many seconds more to keep it hidden, else undefined. */
export function secondsUntilDue(record: SQSRecord, now: Date): number | undefined {
  const at = Date.parse(record.messageAttributes?.notBefore?.stringValue ?? '');
  const wait = Math.ceil((at - now.getTime()) / 1000);
  return Number.isFinite(wait) && wait > 0 ? Math.min(wait, MAX_WAIT_SECONDS - 300) : undefined;
}

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
    [...byRequest].map(([requestId, list]) => ({ kind: STATUS_CHECK_KIND, notBefore, body: JSON.stringify({ requestId, eventIds: list.map((o) => o.conversion.eventId), check: 1 } satisfies StatusCheck) })),
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
    const rows = (await ledger.findDeliveries(dest.name, check.eventIds)).flatMap((row) => {
      const parsed = row?.conversion ? ConversionSchema.safeParse(JSON.parse(row.conversion)) : undefined;
      return parsed?.success ? [{ conversion: parsed.data, attempts: row!.attempts ?? 1 }] : [];
    });
    if (verdict.kind === 'pending' && check.check < followUp.maxChecks) {
      const wait = Math.min(MAX_WAIT_SECONDS, followUp.firstCheckSeconds(config) * 2 ** check.check);
      await enqueueLater(dest.name, [{ kind: STATUS_CHECK_KIND, notBefore: new Date(now.getTime() + wait * 1000), body: JSON.stringify({ ...check, check: check.check + 1 }) }], now);
      log('platform still processing; checking again later', { requestId: check.requestId, check: check.check, nextInSeconds: wait, note: verdict.note });
      continue;
    }
    if (verdict.kind === 'refused') {
      const unwritten = await sendToDeadLetterQueue(
        dest.name,
        rows.map((r) => ({ id: r.conversion.eventId, body: JSON.stringify(r.conversion), errorCode: verdict.error.code, errorMessage: verdict.error.message, attempts: r.attempts, conversionId: r.conversion.eventId })),
      );
      // A refusal not yet written to the DLQ stays awaiting (the check is asked again), so nothing is lost.
      if (unwritten.size) throw new Error(`could not dead-letter ${unwritten.size} conversion(s) Google refused in request ${check.requestId}`);
      const platform = platformVerdict(verdict, check.requestId);
      await ledger.recordDeliveries(dest.name, rows.map((r) => ({ conversion: r.conversion, attempts: r.attempts, result: { status: 'failed', error: verdict.error }, platform })), now);
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
