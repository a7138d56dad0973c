import type { SQSRecord } from 'aws-lambda';
import { PRIOR_ATTEMPTS_ATTRIBUTE, type LaterMessage } from '#store/queues.ts';

/**
 * Messages that must wait longer than SQS can delay one (15 min) carry a `notBefore` attribute (a status check, a
 * conversion the platform said to send again in 24 h). Every receive counts toward SQS's ApproximateReceiveCount,
 * which is both the sender's attempt count and the redrive policy's maxReceiveCount, so waiting must not pile up
 * receives on one message. The cheapest schedule that keeps the count honest:
 * - the first receive of a copy that is early holds it (visibility, up to ~12 h): 1 receive + 1 ChangeMessageVisibility;
 * - a later early receive re-sends a fresh copy (receive count 0, delayed the full 15 min or until due) carrying the
 *   real attempt count, and the original is acknowledged only after the copy is queued: 1 send + 1 delete.
 * A 24 h wait thus costs two copies and about 8 SQS requests (re-sending every 15 min would cost ~300), and no copy is
 * ever received more than twice while it waits.
 */
const MAX_HOLD_SECONDS = 12 * 3600 - 300;

const notBeforeOf = (record: SQSRecord) => Date.parse(record.messageAttributes?.notBefore?.stringValue ?? '');
const receivesOf = (record: SQSRecord) => Number(record.attributes.ApproximateReceiveCount ?? '1') || 1;

/**
 * Whether SQS first handed out this copy before it was due (SQS's own first-receive time, the same on every receive
 * of the copy): then that receive was a hold, not an attempt. The hold decision below uses the same test, so the
 * attempt count agrees with what the sender did.
 */
function firstReceiveWasEarly(record: SQSRecord, now?: Date): boolean {
  const due = notBeforeOf(record);
  const first = Number(record.attributes.ApproximateFirstReceiveTimestamp) || (receivesOf(record) === 1 ? now?.getTime() : undefined);
  return Number.isFinite(due) && first !== undefined && first < due;
}

/** This receive's delivery attempt number: the earlier copies' attempts plus this copy's receives that were not holds. */
export function attemptOf(record: SQSRecord): number {
  const prior = Number(record.messageAttributes?.[PRIOR_ATTEMPTS_ATTRIBUTE]?.stringValue);
  const own = receivesOf(record) - (firstReceiveWasEarly(record) ? 1 : 0);
  return (Number.isFinite(prior) && prior > 0 ? prior : 0) + Math.max(1, own);
}

/**
 * What to do with a message received before it is due: `hold` it out of sight for that many seconds (first receive
 * of this copy), or queue the `copy` instead (a later receive). Undefined when it is due.
 */
export function whileWaiting(record: SQSRecord, now: Date): { hold: number } | { copy: LaterMessage } | undefined {
  const due = notBeforeOf(record);
  if (!Number.isFinite(due)) return undefined;
  const holdSeconds = Math.min(MAX_HOLD_SECONDS, Math.max(1, Math.ceil((due - now.getTime()) / 1000)));
  if (receivesOf(record) === 1) return firstReceiveWasEarly(record, now) ? { hold: holdSeconds } : undefined;
  if (due <= now.getTime()) return undefined;
  const attr = (k: string) => record.messageAttributes?.[k]?.stringValue || undefined;
  // Every receive of this copy so far was a hold (it was early each time): the earlier copies' count carries over.
  const prior = Number(attr(PRIOR_ATTEMPTS_ATTRIBUTE));
  return {
    copy: {
      body: record.body,
      notBefore: new Date(due),
      kind: attr('kind'),
      conversionId: attr('conversionId'),
      priorAttempts: Number.isFinite(prior) && prior > 0 ? prior : undefined,
      firstFailureAt: attr('firstFailureAt'),
    },
  };
}

/** The hold for a message whose copy could not be queued: it stays where it is (nothing lost), one receive dearer. */
export const fallbackHoldSeconds = (record: SQSRecord, now: Date) => Math.min(MAX_HOLD_SECONDS, Math.max(1, Math.ceil((notBeforeOf(record) - now.getTime()) / 1000)));
