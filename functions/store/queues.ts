import {
  ChangeMessageVisibilityBatchCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type MessageAttributeValue,
} from '@aws-sdk/client-sqs';
import type { Conversion } from '#core/conversion.ts';
import { dlqUrlEnv, queueUrlEnv, requireEnv } from '#core/names.ts';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { sqs } from './clients.ts';

const str = (StringValue: string): MessageAttributeValue => ({ DataType: 'String', StringValue });

/**
 * The message attributes of a conversion on a destination's queue (the body is the Conversion itself, hashes only):
 * what the fan-out and the operator CLI's replay both send.
 */
export const conversionMessageAttributes = (destination: string, conversionId: string, eventName: string): Record<string, MessageAttributeValue> => ({
  destination: str(destination),
  conversionId: str(conversionId),
  eventName: str(eventName),
});

/** Puts a conversion on one destination's queue, as the fan-out does: the operator CLI's replay. */
export async function publishTo(client: SQSClient, queueUrl: string, destination: string, conversion: Conversion): Promise<void> {
  await client.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify(conversion),
      MessageAttributes: conversionMessageAttributes(destination, conversion.eventId, conversion.eventName),
    }),
  );
}

/** A conversion for one destination's queue: its JSON body as the ledger holds it. */
export interface ConversionMessage {
  conversionId: string;
  eventName: string;
  body: string;
}

/** What became of a batch of messages for one queue: by index, the ones to retry and the ones SQS refused for good. */
export interface SendOutcome {
  /** Not queued for a reason that may pass (a failed request, an entry SQS failed on its side): retry these. */
  retry: Set<number>;
  /** Refused as sent (SQS's `SenderFault`: too large, invalid characters, …): the same message would be refused again. */
  refused: Map<number, string>;
}

/**
 * Puts conversions on one destination's queue, ten per SendMessageBatch (SQS's most), and says which were not queued:
 * the caller retries the ones that may pass and reports the refused ones with SQS's reason.
 */
export async function sendConversions(destination: string, messages: ConversionMessage[], client: SQSClient = sqs): Promise<SendOutcome> {
  const url = requireEnv(queueUrlEnv(destination));
  const outcome: SendOutcome = { retry: new Set(), refused: new Map() };
  await Promise.all(
    Array.from({ length: Math.ceil(messages.length / 10) }, async (_, b) => {
      const i = b * 10;
      const chunk = messages.slice(i, i + 10);
      try {
        const res = await client.send(
          new SendMessageBatchCommand({
            QueueUrl: url,
            Entries: chunk.map((m, k) => ({ Id: String(k), MessageBody: m.body, MessageAttributes: conversionMessageAttributes(destination, m.conversionId, m.eventName) })),
          }),
        );
        for (const f of res.Failed ?? []) {
          if (f.SenderFault) outcome.refused.set(i + Number(f.Id), `${f.Code ?? 'refused'}: ${f.Message ?? 'SQS refused the message'}`);
          else outcome.retry.add(i + Number(f.Id));
        }
      } catch {
        chunk.forEach((_, k) => outcome.retry.add(i + k));
      }
    }),
  );
  return outcome;
}

export interface DeadLetter {
  /** Caller's key for the entry (the SQS message ID of the original). */
  id: string;
  body: string;
  errorCode: string;
  errorMessage: string;
  attempts: number;
  conversionId?: string;
  firstFailureAt?: string;
}

/**
 * Writes failures to the destination's DLQ with the reason as message attributes (an SQS redrive carries none),
 * so the console shows why each message is there. Returns the IDs that could not be written: those must not be
 * deleted from the source queue.
 */
export async function sendToDeadLetterQueue(destination: string, letters: DeadLetter[]): Promise<Set<string>> {
  const failed = new Set<string>();
  const url = requireEnv(dlqUrlEnv(destination));
  for (let i = 0; i < letters.length; i += 10) {
    const chunk = letters.slice(i, i + 10);
    try {
      const res = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: url,
          Entries: chunk.map((l, k) => ({
            Id: String(k),
            MessageBody: l.body,
            MessageAttributes: {
              destination: str(destination),
              errorCode: str(l.errorCode.slice(0, 256)),
              errorMessage: str(l.errorMessage.slice(0, 1024) || '(no message)'),
              attempts: { DataType: 'Number', StringValue: String(l.attempts) },
              ...(l.conversionId ? { conversionId: str(l.conversionId) } : {}),
              ...(l.firstFailureAt ? { firstFailureAt: str(l.firstFailureAt) } : {}),
            },
          })),
        }),
      );
      for (const f of res.Failed ?? []) failed.add(chunk[Number(f.Id)].id);
    } catch {
      for (const l of chunk) failed.add(l.id);
    }
  }
  return failed;
}

/** Delays the next attempt of transiently failed messages (growing visibility timeouts). Best effort. */
export async function delayRetries(destination: string, retries: { receiptHandle: string; delaySeconds: number }[]): Promise<void> {
  const url = requireEnv(queueUrlEnv(destination));
  for (let i = 0; i < retries.length; i += 10) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: url,
        Entries: retries.slice(i, i + 10).map((r, k) => ({ Id: String(k), ReceiptHandle: r.receiptHandle, VisibilityTimeout: r.delaySeconds })),
      }),
    );
  }
}

/** Delivery attempts a message's earlier copies had (a copy re-sent for a long wait starts SQS's receive count at 0). */
export const PRIOR_ATTEMPTS_ATTRIBUTE = 'priorAttempts';

/** A message to put back on a destination's queue, due at `notBefore`. */
export interface LaterMessage {
  body: string;
  notBefore: Date;
  /** `status-check`, `conversion`, … (what the sender does with it once due). */
  kind?: string;
  conversionId?: string;
  /** Attempts already made by earlier copies of this conversion: the sender counts on from there. */
  priorAttempts?: number;
  firstFailureAt?: string;
}

/** SQS delays a new message at most 15 minutes. */
export const MAX_SEND_DELAY_SECONDS = 900;

/**
 * Puts messages back on a destination's queue for later (a status check of an asynchronously processed request, a
 * conversion the platform said to send again in 24 h): SQS delays a message at most 15 minutes; a later `notBefore`
 * is kept as an attribute and the sender holds or re-sends the message until then, so waiting never counts as a
 * delivery attempt. Returns the indexes of the messages that could not be queued.
 */
export async function sendLater(destination: string, messages: LaterMessage[], now = new Date()): Promise<Set<number>> {
  const url = requireEnv(queueUrlEnv(destination));
  const failed = new Set<number>();
  for (let i = 0; i < messages.length; i += 10) {
    const chunk = messages.slice(i, i + 10);
    try {
      const res = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: url,
          Entries: chunk.map((m, k) => ({
            Id: String(k),
            MessageBody: m.body,
            DelaySeconds: Math.max(0, Math.min(MAX_SEND_DELAY_SECONDS, Math.ceil((m.notBefore.getTime() - now.getTime()) / 1000))),
            MessageAttributes: {
              destination: str(destination),
              notBefore: str(m.notBefore.toISOString()),
              ...(m.kind ? { kind: str(m.kind) } : {}),
              ...(m.conversionId ? { conversionId: str(m.conversionId) } : {}),
              ...(m.priorAttempts ? { [PRIOR_ATTEMPTS_ATTRIBUTE]: { DataType: 'Number', StringValue: String(m.priorAttempts) } } : {}),
              ...(m.firstFailureAt ? { firstFailureAt: str(m.firstFailureAt) } : {}),
            },
          })),
        }),
      );
      for (const f of res.Failed ?? []) failed.add(i + Number(f.Id));
    } catch {
      chunk.forEach((_, k) => failed.add(i + k));
    }
  }
  return failed;
}

/** `sendLater`, all or nothing: throws when any message could not be queued. */
export async function enqueueLater(destination: string, messages: LaterMessage[], now = new Date()): Promise<void> {
  const failed = await sendLater(destination, messages, now);
  if (failed.size) throw new Error(`${failed.size} message(s) could not be put back on the ${destination} queue`);
}
