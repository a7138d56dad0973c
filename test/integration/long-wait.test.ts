import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SetQueueAttributesCommand, SQSClient, type QueueAttributeName } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { dlqUrlEnv, queueUrlEnv, redriveMaxReceiveCount } from '../../functions/core/names.ts';
import { destinationRows } from '../../functions/store/ledger-items.ts';
import { readConversions } from '../../functions/store/ledger-reader.ts';
import { enqueueLater } from '../../functions/store/queues.ts';
import type { LocalDynamo } from '../../lib/local/dynamo.ts';
import { startSqsServer, type SqsServer } from '../../lib/local/sqs-server.ts';
import { startGoogleAdsFake, type GoogleAdsFake } from '../fakes/google-ads-server.ts';
import { createDestinationQueues, startLocalLedger, type LocalLedger } from '../support/local-aws.ts';
import { writeConversionItem } from '../support/storage.ts';

/**
 * A wait longer than SQS can hide a message (12 h): Google Ads answers an adjustment of a conversion younger than
 * 24 h with TOO_RECENT_CONVERSION. The real Google Ads sender against dynalite, the local SQS server and the Google
 * Ads fake (which refuses adjustments of conversions under 24 h old, as Google does). Time passes by moving the
 * process clock (Date only), which the handler, the queue server and the fake all read. The queue has the stack's
 * redrive policy (maxReceiveCount = RELAY_MAX_ATTEMPTS + 1), so a wait that piled receives on one message would be
 * moved to the DLQ by SQS itself.
 */
type SqsHandler = (e: SQSEvent, c: Context) => Promise<SQSBatchResponse>;
const HOUR_MS = 3600_000;
const CUSTOMER_ID = '1234567890';
const OAUTH = { clientId: 'int-client.apps.googleusercontent.com', clientSecret: 'GOCSPX-int-secret', refreshToken: '1//int-refresh' };

let dynamo: LocalDynamo;
let ledger: LocalLedger;
let sqsServer: SqsServer;
let google: GoogleAdsFake;
let sqs: SQSClient;
let ddb: DynamoDBDocumentClient;
let queueUrl: string;
let dlqUrl: string;
let sender: SqsHandler;

const context = (): Context => ({ awsRequestId: randomUUID(), functionName: 'test', getRemainingTimeInMillis: () => 30_000 }) as unknown as Context;

/** What Lambda's event source mapping hands the sender: the messages currently visible on the queue. */
async function receiveAsSqsEvent(url = queueUrl): Promise<SQSEvent> {
  // The ledger's stream first: the fan-out puts what ingest committed on the queues.
  await ledger.fanOut();
  const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 30, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }));
  return {
    Records: (res.Messages ?? []).map((m) => ({
      messageId: m.MessageId!,
      receiptHandle: m.ReceiptHandle!,
      body: m.Body!,
      attributes: { ApproximateReceiveCount: m.Attributes!.ApproximateReceiveCount!, SentTimestamp: m.Attributes!.SentTimestamp!, SenderId: 'x', ApproximateFirstReceiveTimestamp: m.Attributes!.ApproximateFirstReceiveTimestamp! },
      messageAttributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, { dataType: v.DataType!, stringValue: v.StringValue }])),
      md5OfBody: m.MD5OfBody!,
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:google-ads',
      awsRegion: 'us-east-1',
    })),
  } as SQSEvent;
}

/** Invokes the sender and, like the event source mapping, deletes the records it did not report as failed. */
async function invokeSender(event: SQSEvent): Promise<SQSBatchResponse> {
  const out = await sender(event, context());
  const failed = new Set(out.batchItemFailures.map((f) => f.itemIdentifier));
  for (const r of event.Records) if (!failed.has(r.messageId)) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: r.receiptHandle }));
  return out;
}

/** The conversion item ingest writes: the ledger's readers find the senders' records from it. */
const accepted = (conversion: Record<string, unknown>) => writeConversionItem(ddb, conversion, ['google-ads']);

/** A conversion as ingest leaves it: its conversion item in the ledger, its message queued. */
async function enqueue(conversion: Record<string, unknown>) {
  await accepted(conversion);
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify(conversion),
      MessageAttributes: { destination: { DataType: 'String', StringValue: 'google-ads' }, conversionId: { DataType: 'String', StringValue: String(conversion.eventId) } },
    }),
  );
}

async function queueCounts(url = queueUrl) {
  const q = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }));
  const n = (k: QueueAttributeName) => Number(q.Attributes![k]);
  return { visible: n('ApproximateNumberOfMessages'), inFlight: n('ApproximateNumberOfMessagesNotVisible'), delayed: n('ApproximateNumberOfMessagesDelayed') };
}

/** The google-ads state of a conversion as the ledger's readers see it (its newest row: own or in a batch record). */
const ledgerRow = async (eventId: string) =>
  destinationRows((await readConversions(ddb, 'ledger', [eventId], { destinations: ['google-ads'], consistent: true })).get(eventId) ?? []).find((r) => r.sk === 'D#google-ads');

/** The attempt count the ledger row records (what RELAY_MAX_ATTEMPTS is compared with). */
const attemptsOf = async (eventId: string) => Number((await ledgerRow(eventId))?.attempts);

const adjustmentCalls = () => google.requests.filter((r) => r.path.endsWith(':uploadConversionAdjustments'));

beforeAll(async () => {
  ledger = await startLocalLedger();
  dynamo = ledger.dynamo;
  sqsServer = await startSqsServer();
  google = await startGoogleAdsFake({ customerId: CUSTOMER_ID, ...OAUTH, conversionActions: ['111'], adjustmentMinConversionAgeMs: 24 * HOUR_MS });
  Object.assign(process.env, {
    ...dynamo.environment,
    AWS_ENDPOINT_URL_SQS: sqsServer.url,
    GOOGLE_ADS_UPLOAD_API: 'google-ads-api',
    GOOGLE_ADS_CUSTOMER_ID: CUSTOMER_ID,
    GOOGLE_ADS_CLIENT_ID: OAUTH.clientId,
    GOOGLE_ADS_CLIENT_SECRET: OAUTH.clientSecret,
    GOOGLE_ADS_REFRESH_TOKEN: OAUTH.refreshToken,
    GOOGLE_ADS_CONVERSION_ACTIONS: 'Purchase=111',
    GOOGLE_ADS_API_BASE_URL: google.baseUrl,
    GOOGLE_OAUTH_TOKEN_URL: google.tokenUrl,
    RELAY_MAX_ATTEMPTS: '3',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
  delete process.env.GOOGLE_ADS_TOO_RECENT_RETRY_SECONDS; // Google's own 24 h wait, not a test shortcut
  ddb = DynamoDBDocumentClient.from(dynamo.client);
  sqs = await createDestinationQueues(sqsServer.url);
  queueUrl = process.env[queueUrlEnv('google-ads')]!;
  dlqUrl = process.env[dlqUrlEnv('google-ads')]!;
  await sqs.send(
    new SetQueueAttributesCommand({
      QueueUrl: queueUrl,
      Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:google-ads-dlq', maxReceiveCount: redriveMaxReceiveCount(3) }) },
    }),
  );
  sender = (await import('../../functions/destinations/google-ads/lambda.ts')).handler as unknown as SqsHandler;
});

afterAll(async () => {
  vi.useRealTimers();
  await google?.close();
  await sqsServer?.close();
  await ledger?.close();
});

describe('google-ads sender: a refund Google says is too recent (TOO_RECENT_CONVERSION, 24 h)', () => {
  it('parks a re-enqueued copy due in 24 h, holds it without an attempt until then, then delivers it', async () => {
    const orderId = `cs_longwait_${Date.now()}`;
    await enqueue({
      eventId: orderId,
      eventName: 'Purchase',
      occurredAt: new Date().toISOString(),
      value: 49.99,
      currency: 'USD',
      orderId,
      actionSource: 'website',
      user: {},
      clicks: { gclid: { value: 'Cj0-longwait-click', capturedAt: Date.now() - 60_000 } },
      consent: { marketing: true, adUserData: true, adPersonalization: false, analytics: true },
      source: { name: 'stripe', eventId: `evt_${orderId}`, eventType: 'checkout.session.completed' },
    });
    expect((await invokeSender(await receiveAsSqsEvent())).batchItemFailures).toEqual([]);
    expect((await ledgerRow(orderId))?.status).toBe('delivered');

    const refundId = `re_${orderId}`;
    await enqueue({
      eventId: refundId,
      eventName: 'Refund',
      occurredAt: new Date().toISOString(),
      value: 49.99,
      currency: 'USD',
      orderId,
      actionSource: 'system_generated',
      user: {},
      clicks: {},
      consent: { marketing: true, adUserData: true, adPersonalization: false, analytics: true },
      adjustment: { kind: 'refund', originalOrderId: orderId, originalEventId: orderId, full: true },
      source: { name: 'stripe', eventId: `evt_${refundId}`, eventType: 'charge.refunded' },
    });

    // First attempt: Google refuses the retraction, the conversion is under 24 h old.
    const first = await receiveAsSqsEvent();
    expect(first.Records).toHaveLength(1);
    const originalId = first.Records[0].messageId;
    const firstAt = Date.now();
    const out = await sender(first, context());
    expect(adjustmentCalls()).toHaveLength(1);
    expect(adjustmentCalls()[0].response.partialFailureError.details[0].errors[0].errorCode).toEqual({ conversionAdjustmentUploadError: 'TOO_RECENT_CONVERSION' });
    // No batch item failure: SQS does not count the wait toward the DLQ; the event source mapping deletes the original.
    expect(out.batchItemFailures).toEqual([]);
    for (const r of first.Records) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: r.receiptHandle }));

    // The original is gone; exactly one copy waits (SQS delays it at most 15 min), due 24 h after the attempt.
    expect(await queueCounts()).toEqual({ visible: 0, inFlight: 0, delayed: 1 });
    vi.useFakeTimers({ toFake: ['Date'], now: firstAt + 901_000 });
    const held = await receiveAsSqsEvent();
    expect(held.Records).toHaveLength(1);
    const copy = held.Records[0];
    expect(copy.messageId).not.toBe(originalId);
    expect(JSON.parse(copy.body)).toMatchObject({ eventId: refundId, adjustment: { kind: 'refund', originalOrderId: orderId } });
    expect(copy.messageAttributes.conversionId?.stringValue).toBe(refundId);
    const notBefore = Date.parse(copy.messageAttributes.notBefore?.stringValue ?? '');
    expect(Math.abs(notBefore - (firstAt + 24 * HOUR_MS))).toBeLessThan(5_000);
    expect((await ledgerRow(refundId))?.status).toBe('retrying');

    // Received before it is due: not sent, kept (a batch item failure), hidden until due, nothing dead-lettered.
    const heldOut = await invokeSender(held);
    expect(heldOut.batchItemFailures).toEqual([{ itemIdentifier: copy.messageId }]);
    expect(adjustmentCalls()).toHaveLength(1);
    expect(await queueCounts()).toMatchObject({ visible: 0, inFlight: 1 });
    vi.setSystemTime(firstAt + 11 * HOUR_MS);
    expect((await receiveAsSqsEvent()).Records).toHaveLength(0);
    expect(await queueCounts(dlqUrl)).toMatchObject({ visible: 0 });

    // Past its visibility (capped below 12 h) the copy comes back still early: rather than hold it again (one more
    // receive on its count), a fresh copy is queued carrying the one attempt made so far, and this one acknowledged.
    vi.setSystemTime(firstAt + 13 * HOUR_MS);
    const again = await receiveAsSqsEvent();
    expect(again.Records.map((r) => r.messageId)).toEqual([copy.messageId]);
    expect(again.Records[0].attributes.ApproximateReceiveCount).toBe('2');
    expect((await invokeSender(again)).batchItemFailures).toEqual([]);
    expect(adjustmentCalls()).toHaveLength(1);
    expect(await queueCounts()).toEqual({ visible: 0, inFlight: 0, delayed: 1 });

    // The fresh copy: same conversion, same due time, the real attempt count; held once more on its first receive.
    vi.setSystemTime(firstAt + 13 * HOUR_MS + 901_000);
    const second = await receiveAsSqsEvent();
    expect(second.Records).toHaveLength(1);
    const copy2 = second.Records[0];
    expect(copy2.messageId).not.toBe(copy.messageId);
    expect(copy2.attributes.ApproximateReceiveCount).toBe('1');
    expect(copy2.messageAttributes).toMatchObject({ conversionId: { stringValue: refundId }, priorAttempts: { stringValue: '1' }, notBefore: { stringValue: copy.messageAttributes.notBefore?.stringValue } });
    expect(JSON.parse(copy2.body)).toMatchObject({ eventId: refundId });
    expect((await invokeSender(second)).batchItemFailures).toEqual([{ itemIdentifier: copy2.messageId }]);

    // Due (the conversion is now 24 h old for Google too): sent once and delivered, removed from the queue.
    vi.setSystemTime(firstAt + 24 * HOUR_MS + 10_000);
    const due = await receiveAsSqsEvent();
    expect(due.Records.map((r) => r.messageId)).toEqual([copy2.messageId]);
    expect((await invokeSender(due)).batchItemFailures).toEqual([]);
    expect(adjustmentCalls()).toHaveLength(2);
    expect(google.adjustments().filter((a) => a.orderId === orderId)).toMatchObject([{ adjustmentType: 'RETRACTION', orderId }]);
    // Two attempts: the one Google answered TOO_RECENT_CONVERSION and this one — none of the four early receives
    // (holding the message for SQS's 12 h visibility limit used to count 3 here, of RELAY_MAX_ATTEMPTS = 3).
    expect(await attemptsOf(refundId)).toBe(2);
    expect((await ledgerRow(refundId))?.status).toBe('delivered');
    expect(await queueCounts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(await queueCounts(dlqUrl)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('waits four days without hitting the redrive limit or wasting attempts, re-sending a copy only every ~12 h', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 30 * 24 * HOUR_MS });
    const start = Date.now();
    const eventId = `cs_fourdays_${start}`;
    const conversion = {
      eventId,
      eventName: 'Purchase',
      occurredAt: new Date(start).toISOString(),
      value: 12,
      currency: 'USD',
      orderId: eventId,
      actionSource: 'website',
      user: {},
      clicks: { gclid: { value: 'Cj0-fourdays-click', capturedAt: start - 60_000 } },
      consent: { marketing: true, adUserData: true, adPersonalization: false, analytics: true },
      source: { name: 'stripe', eventId: `evt_${eventId}`, eventType: 'checkout.session.completed' },
    };
    // What the sender queues when a platform asks for a wait beyond SQS's limits: a copy due later with the attempts
    // made so far (here 2 of RELAY_MAX_ATTEMPTS = 3; redrive after 4 receives of one message).
    await accepted(conversion);
    await enqueueLater('google-ads', [{ kind: 'conversion', body: JSON.stringify(conversion), notBefore: new Date(start + 96 * HOUR_MS), conversionId: eventId, priorAttempts: 2 }], new Date(start));
    const uploadsBefore = google.requests.filter((r) => r.path.endsWith(':uploadClickConversions')).length;

    // Lambda's event source mapping polls all the time: every 15 min of the four days, what is visible is handed over.
    const copies = new Map<string, number>();
    for (let t = start; t <= start + 97 * HOUR_MS; t += 15 * 60_000) {
      vi.setSystemTime(t);
      const event = await receiveAsSqsEvent();
      if (event.Records.length === 0) continue;
      for (const r of event.Records) copies.set(r.messageId, Number(r.attributes.ApproximateReceiveCount));
      await invokeSender(event);
      if ((await ledgerRow(eventId))?.status === 'delivered') break;
    }

    expect((await ledgerRow(eventId))?.status).toBe('delivered');
    expect(google.requests.filter((r) => r.path.endsWith(':uploadClickConversions')).length - uploadsBefore).toBe(1);
    // Third attempt, not the ~9th receive of one message: neither the sender's limit nor SQS's redrive was reached.
    expect(await attemptsOf(eventId)).toBe(3);
    expect(Math.max(...copies.values())).toBeLessThanOrEqual(2);
    expect(await queueCounts(dlqUrl)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(await queueCounts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    // SQS cost: one copy per ~12 h 15 min of waiting (each received at most twice), not one per 15 min.
    expect(copies.size).toBeLessThanOrEqual(Math.ceil(96 / 12) + 1);
  });
});
