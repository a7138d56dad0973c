import middy from '@middy/core';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { FAN_OUT_FAILURES_ENV, requireEnv } from '#core/names.ts';
import { sqs } from '#store/clients.ts';
import { readConversionItem } from '#store/ingest-store.ts';
import { sendConversions, type ConversionMessage, type SendOutcome } from '#store/queues.ts';
import { logger } from './powertools.ts';

/** A stream record the fan-out cannot turn into messages: why, and which item (for `conversion-relay replay`). */
export interface UnreadableRecord {
  reason: string;
  /** The destination whose queue refused the message (the others were queued): the one `replay` queues it for. */
  destination?: string;
  pk?: string;
  sk?: string;
  sequenceNumber?: string;
}

export interface FanOutPorts {
  /** Puts messages on one destination's queue; answers, by index, the ones to retry and the ones refused for good. */
  send(destination: string, messages: ConversionMessage[]): Promise<SendOutcome>;
  /** Puts unreadable records on the failure queue, with the reason; throws when it could not. */
  reportUnreadable(records: UnreadableRecord[]): Promise<void>;
}

/**
 * The outbox's relay: each accepted conversion item the ledger's stream carries (its event filter passes only
 * INSERTs of accepted conversion items) goes to the queue of every destination it is queued for — the same body and
 * attributes as before, SendMessageBatch by ten per destination across the whole batch. A record whose messages
 * were not all queued is reported as a batch item failure: Lambda retries from the first such record (later ones
 * are sent again; the senders' platforms de-duplicate on the event ID), bisects a failing batch, and after its last
 * attempt puts the batch's description on the failure queue. A record that can never become messages goes to the
 * failure queue at once, with the reason.
 */
export function fanOut(ports: FanOutPorts) {
  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const perDestination = new Map<string, { record: number; message: ConversionMessage }[]>();
    const unreadable: UnreadableRecord[] = [];
    event.Records.forEach((r, record) => {
      try {
        const q = readConversionItem((r.dynamodb?.NewImage ?? {}) as Record<string, AttributeValue>);
        for (const d of q.destinations) {
          const list = perDestination.get(d) ?? perDestination.set(d, []).get(d)!;
          list.push({ record, message: { conversionId: q.eventId, eventName: q.eventName, body: q.body } });
        }
      } catch (err) {
        unreadable.push({ reason: (err as Error).message, pk: r.dynamodb?.Keys?.pk?.S, sk: r.dynamodb?.Keys?.sk?.S, sequenceNumber: r.dynamodb?.SequenceNumber });
      }
    });
    const failed = new Set<number>();
    await Promise.all(
      [...perDestination].map(async ([destination, entries]) => {
        try {
          const outcome = await ports.send(destination, entries.map((e) => e.message));
          for (const k of outcome.retry) failed.add(entries[k].record);
          // Refused as sent: retrying the same message cannot help; it goes to the failure queue with SQS's reason
          // (`replay --conversion` queues it again once the cause is fixed).
          for (const [k, why] of outcome.refused) {
            const r = event.Records[entries[k].record];
            unreadable.push({ reason: `the ${destination} queue refused the message: ${why}`, destination, pk: r.dynamodb?.Keys?.pk?.S, sk: r.dynamodb?.Keys?.sk?.S, sequenceNumber: r.dynamodb?.SequenceNumber });
          }
        } catch (err) {
          // No queue for it (a destination gone from this deployment): retried, then the failure queue.
          logger.error('fan-out could not send to a destination', { destination, error: err as Error });
          for (const e of entries) failed.add(e.record);
        }
      }),
    );
    if (unreadable.length) {
      logger.error('stream records that cannot be queued (not accepted conversion items, or refused by a queue)', { count: unreadable.length, records: unreadable });
      try {
        await ports.reportUnreadable(unreadable);
      } catch (err) {
        // Not reported: retried like a send that failed, so the record ends on the failure queue either way.
        logger.error('could not report unreadable records', { error: err as Error });
        event.Records.forEach((r, i) => unreadable.some((u) => u.sequenceNumber === r.dynamodb?.SequenceNumber) && failed.add(i));
      }
    }
    if (failed.size) logger.warn('conversions not fanned out; retried from the first', { records: failed.size, of: event.Records.length });
    return { batchItemFailures: [...failed].sort((a, b) => a - b).map((i) => ({ itemIdentifier: sequenceNumber(event.Records[i]) })) };
  };
}

const sequenceNumber = (r: DynamoDBRecord) => r.dynamodb?.SequenceNumber ?? '';

/** The failure queue's message for an unreadable record: its reason and key as attributes and body. */
async function reportUnreadable(records: UnreadableRecord[]): Promise<void> {
  const url = requireEnv(FAN_OUT_FAILURES_ENV);
  for (let i = 0; i < records.length; i += 10) {
    const res = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: records.slice(i, i + 10).map((r, k) => ({
          Id: String(k),
          MessageBody: JSON.stringify({ kind: 'unreadable_stream_record', ...r }),
          MessageAttributes: { errorCode: { DataType: 'String', StringValue: 'unreadable_stream_record' }, errorMessage: { DataType: 'String', StringValue: r.reason.slice(0, 1024) } },
        })),
      }),
    );
    if (res.Failed?.length) throw new Error(`${res.Failed.length} unreadable record(s) not put on the failure queue`);
  }
}

/** The Lambda entry point (DynamoDB stream of the ledger table). */
export function createFanOutHandler(ports: FanOutPorts = { send: (d, m) => sendConversions(d, m), reportUnreadable }) {
  return middy(fanOut(ports)).use(injectLambdaContext(logger, { resetKeys: true }));
}

export const handler = createFanOutHandler();
