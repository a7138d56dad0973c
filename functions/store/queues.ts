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
 * Puts a conversion on one destination's queue, as the conversions topic delivers it there (the body is the
 * Conversion itself, hashes only): the operator CLI's replay.
 */
export async function publishTo(client: SQSClient, queueUrl: string, destination: string, conversion: Conversion): Promise<void> {
  await client.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify(conversion),
      MessageAttributes: {
        destination: str(destination),
        conversionId: str(conversion.eventId),
        eventName: str(conversion.eventName),
      },
    }),
  );
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

/**
 * Puts messages back on a destination's queue for later (a status check of an asynchronously processed request):
 * SQS delays a message at most 15 minutes; a later `notBefore` is kept as an attribute and the sender holds the
 * message (visibility) until then, so waiting never counts as a delivery attempt.
 */
export async function enqueueLater(destination: string, messages: { body: string; notBefore: Date; kind: string; conversionId?: string }[], now = new Date()): Promise<void> {
  const url = requireEnv(queueUrlEnv(destination));
  for (let i = 0; i < messages.length; i += 10) {
    const res = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: messages.slice(i, i + 10).map((m, k) => ({
          Id: String(k),
          MessageBody: m.body,
          DelaySeconds: Math.max(0, Math.min(900, Math.ceil((m.notBefore.getTime() - now.getTime()) / 1000))),
          MessageAttributes: {
            destination: str(destination),
            kind: str(m.kind),
            notBefore: str(m.notBefore.toISOString()),
            ...(m.conversionId ? { conversionId: str(m.conversionId) } : {}),
          },
        })),
      }),
    );
    if (res.Failed?.length) throw new Error(`${res.Failed.length} message(s) could not be put back on the ${destination} queue: ${res.Failed[0].Message ?? res.Failed[0].Code}`);
  }
}
