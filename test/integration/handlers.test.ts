import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dlqUrlEnv, queueUrlEnv } from '../../functions/core/names.ts';
import { conversionOf } from '../../functions/store/conversion-item.ts';
import { destinationRows } from '../../functions/store/ledger-items.ts';
import { readConversions } from '../../functions/store/ledger-reader.ts';
import type { LocalDynamo } from '../../lib/local/dynamo.ts';
import { startSqsServer, type SqsServer } from '../../lib/local/sqs-server.ts';
import { httpEvent as buildHttpEvent } from '../../lib/local/http-event.ts';
import { metaError, startMetaFake, type MetaFake } from '../fakes/meta-server.ts';
import { createDestinationQueues, startLocalLedger, type LocalLedger } from '../support/local-aws.ts';

/**
 * The real Lambda handlers, called the way Lambda calls them (API Gateway v2 events, SQS events with partial batch
 * responses), against a real DynamoDB protocol server (dynalite) and the SQS-compatible queue server.
 */
type HttpHandler = (e: APIGatewayProxyEventV2, c: Context) => Promise<APIGatewayProxyStructuredResultV2>;
type SqsHandler = (e: SQSEvent, c: Context) => Promise<SQSBatchResponse>;

const SECRET = 'whsec_integration';
let dynamo: LocalDynamo;
let ledger: LocalLedger;
let sqsServer: SqsServer;
let meta: MetaFake;
let sqs: SQSClient;
let ddb: DynamoDBDocumentClient;
let queueUrl: string;
let dlqUrl: string;
let collect: HttpHandler;
let stripeIngest: HttpHandler;
let metaSender: SqsHandler;

const context = (): Context =>
  ({ awsRequestId: randomUUID(), functionName: 'test', getRemainingTimeInMillis: () => 30_000 }) as unknown as Context;

/** A POST as its front door delivers it: the webhooks by their function URL, /collect by the HTTP API. */
function httpEvent(path: string, body: string, headers: Record<string, string>, cookies?: string[]): APIGatewayProxyEventV2 {
  return buildHttpEvent({ method: 'POST', path, headers, cookies, body }, path.startsWith('/webhooks/') ? 'function-url' : 'http-api');
}

/** What Lambda's event source mapping hands the sender: the messages currently on the queue. */
async function receiveAsSqsEvent(): Promise<SQSEvent> {
  // The ledger's stream first: the fan-out puts what ingest committed on the queues.
  await ledger.fanOut();
  const res = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }),
  );
  return {
    Records: (res.Messages ?? []).map((m) => ({
      messageId: m.MessageId!,
      receiptHandle: m.ReceiptHandle!,
      body: m.Body!,
      attributes: {
        ApproximateReceiveCount: m.Attributes!.ApproximateReceiveCount!,
        SentTimestamp: m.Attributes!.SentTimestamp!,
        SenderId: 'x',
        ApproximateFirstReceiveTimestamp: m.Attributes!.ApproximateFirstReceiveTimestamp!,
      },
      messageAttributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, { dataType: v.DataType!, stringValue: v.StringValue }])),
      md5OfBody: m.MD5OfBody!,
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:meta',
      awsRegion: 'us-east-1',
    })),
  } as SQSEvent;
}

/** Invokes the sender and, like the event source mapping, deletes the records it did not report as failed. */
async function invokeSender(event: SQSEvent): Promise<SQSBatchResponse> {
  const out = await metaSender(event, context());
  const failed = new Set(out.batchItemFailures.map((f) => f.itemIdentifier));
  for (const r of event.Records) if (!failed.has(r.messageId)) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: r.receiptHandle }));
  return out;
}

function stripeCheckout(id: string, visitorId?: string) {
  const payload = JSON.stringify({
    id: `evt_${id}`,
    object: 'event',
    type: 'checkout.session.completed',
    created: Math.floor(Date.now() / 1000),
    livemode: true,
    data: {
      object: {
        id,
        object: 'checkout.session',
        mode: 'payment',
        payment_status: 'paid',
        amount_total: 120000,
        currency: 'jpy',
        client_reference_id: visitorId ?? null,
        metadata: {},
        customer: null,
        customer_email: null,
        customer_details: { email: 'Taro.Yamada@example.jp', phone: '+81 3-1234-5678', name: 'Taro Yamada', address: { country: 'JP', city: 'Tokyo', line1: null, line2: null, postal_code: '100-0001', state: null } },
      },
    },
  });
  return httpEvent('/webhooks/stripe', payload, { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET }) });
}

beforeAll(async () => {
  ledger = await startLocalLedger();
  dynamo = ledger.dynamo;
  sqsServer = await startSqsServer();
  meta = await startMetaFake({ pixelId: '42', accessToken: 'token-42' });
  Object.assign(process.env, {
    ...dynamo.environment,
    AWS_ENDPOINT_URL_SQS: sqsServer.url,
    STRIPE_WEBHOOK_SECRET: SECRET,
    META_PIXEL_ID: '42',
    META_ACCESS_TOKEN: 'token-42',
    META_API_BASE_URL: meta.baseUrl,
    RELAY_MAX_ATTEMPTS: '3',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
  ddb = DynamoDBDocumentClient.from(dynamo.client);
  sqs = await createDestinationQueues(sqsServer.url);
  queueUrl = process.env[queueUrlEnv('meta')]!;
  dlqUrl = process.env[dlqUrlEnv('meta')]!;
  // Handlers create their clients at import: import them once the environment is complete.
  collect = (await import('../../functions/handlers/collect.ts')).handler as unknown as HttpHandler;
  stripeIngest = (await import('../../functions/sources/stripe/lambda.ts')).handler as unknown as HttpHandler;
  metaSender = (await import('../../functions/destinations/meta/lambda.ts')).handler as unknown as SqsHandler;
});

afterAll(async () => {
  await meta?.close();
  await sqsServer?.close();
  await ledger?.close();
});

describe('collect handler', () => {
  it('stores the click under a new visitor ID and answers with the cookie', async () => {
    const res = await collect(
      httpEvent('/collect', JSON.stringify({ url: 'https://shop.example.jp/?gclid=Cj0KCQ-abc&fbclid=fb-1' }), { 'content-type': 'application/json', 'user-agent': 'UA-int' }),
      context(),
    );
    expect(res.statusCode).toBe(200);
    const { visitorId } = JSON.parse(res.body!);
    expect(res.cookies?.[0]).toMatch(new RegExp(`^cr_vid=${visitorId}; .*HttpOnly; Secure; SameSite=Lax`));
    const item = (await ddb.send(new GetCommand({ TableName: 'visitors', Key: { pk: `V#${visitorId}` } }))).Item!;
    expect(item.click_gclid.value).toBe('Cj0KCQ-abc');
    expect(item.click_fbc.value).toMatch(/^fb\.1\.\d{13}\.fb-1$/);
    expect(item).toMatchObject({ ip: '203.0.113.7', userAgent: 'UA-int' });
  });

  it('keeps the visitor ID a request already carries', async () => {
    const vid = randomUUID();
    const res = await collect(httpEvent('/collect', JSON.stringify({ url: 'https://shop.example.jp/' }), { 'content-type': 'text/plain' }, [`cr_vid=${vid}`]), context());
    expect(JSON.parse(res.body!).visitorId).toBe(vid);
  });

  it('refuses malformed beacons with 400 and stores nothing', async () => {
    for (const body of ['not json', JSON.stringify({ url: 'javascript:alert(1)' }), JSON.stringify({ referrer: 'x' })]) {
      const res = await collect(httpEvent('/collect', body, { 'content-type': 'application/json' }), context());
      expect(res.statusCode).toBe(400);
      expect(JSON.parse(res.body!).error).toMatch(/malformed_body|invalid_body/);
    }
  });
});

describe('stripe ingest → meta sender', () => {
  it('enqueues one message per conversion, and the sender delivers a JPY purchase with the click', async () => {
    const landing = await collect(
      httpEvent('/collect', JSON.stringify({ url: 'https://shop.example.jp/?fbclid=IwAR-int' }), { 'content-type': 'application/json', 'user-agent': 'UA-int' }),
      context(),
    );
    const { visitorId } = JSON.parse(landing.body!);
    const res = await stripeIngest(stripeCheckout('cs_int_1', visitorId), context());
    expect(res.statusCode).toBe(200);
    const event = await receiveAsSqsEvent();
    expect(event.Records).toHaveLength(1);

    const out = await invokeSender(event);
    expect(out.batchItemFailures).toEqual([]);
    const [sent] = meta.events();
    expect(sent).toMatchObject({ event_id: 'cs_int_1', custom_data: { value: 120000, currency: 'JPY' }, user_data: { client_ip_address: '203.0.113.7' } });
    expect(sent.user_data.fbc).toMatch(/^fb\.1\.\d{13}\.IwAR-int$/);
    // As `status` reads it: the conversion item, then the meta batch record of the hour it occurred.
    const rows = destinationRows((await readConversions(ddb, 'ledger', ['cs_int_1'])).get('cs_int_1')!);
    expect(rows.filter((r) => r.sk === 'D#meta')).toMatchObject([{ sk: 'D#meta', status: 'delivered', attempts: 1 }]);
  });

  it('commits concurrent deliveries of one event once: one accepted, the others duplicates with its routes, one message', async () => {
    const answers = await Promise.all([1, 2, 3].map(() => stripeIngest(stripeCheckout('cs_int_concurrent'), context())));
    const bodies = answers.map((a) => JSON.parse(a.body!));
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200]);
    expect(bodies.map((b) => b.status).sort()).toEqual(['accepted', 'duplicate', 'duplicate']);
    expect(new Set(bodies.map((b) => JSON.stringify(b.conversions[0].routes))).size).toBe(1);
    const item = (await ddb.send(new GetCommand({ TableName: 'ledger', Key: { pk: 'C#cs_int_concurrent', sk: 'conversion' } }))).Item!;
    expect(item).toMatchObject({ status: 'accepted', orderId: 'cs_int_concurrent' });
    expect(conversionOf(item)?.eventId).toBe('cs_int_concurrent');
    // Exactly one message for meta came of the three deliveries (the stream carried one INSERT); drained so the
    // next test starts empty.
    const event = await receiveAsSqsEvent();
    expect(event.Records.map((r) => JSON.parse(r.body).eventId)).toEqual(['cs_int_concurrent']);
    for (const r of event.Records) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: r.receiptHandle }));
  });

  it('reports a transient failure as a batch item failure, stretching its visibility', async () => {
    meta.reset();
    await stripeIngest(stripeCheckout('cs_int_transient'), context());
    const event = await receiveAsSqsEvent();
    expect(event.Records).toHaveLength(1);
    meta.failNext(1, { status: 503 });

    const out = await invokeSender(event);
    expect(out.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0].messageId }]);
    // Still on the queue, but hidden for the backoff delay: a poll now returns nothing.
    expect((await receiveAsSqsEvent()).Records).toHaveLength(0);
    const q = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessagesNotVisible'] }));
    expect(Number(q.Attributes!.ApproximateNumberOfMessagesNotVisible)).toBe(1);
  });

  it('writes a permanent failure to the DLQ with the reason, and reports it as done', async () => {
    meta.reset();
    await stripeIngest(stripeCheckout('cs_int_bad'), context());
    const event = await receiveAsSqsEvent();
    expect(event.Records).toHaveLength(1);
    meta.failWhen((e) => e.event_id === 'cs_int_bad', { status: 400, body: metaError(100, 'Invalid parameter', { subcode: 2804019 }) });

    const out = await invokeSender(event);
    expect(out.batchItemFailures).toEqual([]);
    const dlq = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MessageAttributeNames: ['All'], MaxNumberOfMessages: 10 }));
    expect(dlq.Messages).toHaveLength(1);
    const attrs = dlq.Messages![0].MessageAttributes!;
    expect(attrs.errorCode.StringValue).toBe('100/2804019');
    expect(attrs.conversionId.StringValue).toBe('cs_int_bad');
    expect(attrs.attempts.StringValue).toBe('1');
  });

  it('dead-letters a message that is not a Conversion instead of retrying it forever', async () => {
    const event = await receiveAsSqsEvent();
    const bogus: SQSEvent = {
      Records: [{ ...(event.Records[0] ?? {}), messageId: 'm-bogus', receiptHandle: 'r-bogus', body: '{"hello":"world"}', attributes: { ApproximateReceiveCount: '1' } } as never],
    };
    const out = await metaSender(bogus, context());
    expect(out.batchItemFailures).toEqual([]);
    const dlq = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MessageAttributeNames: ['All'], MaxNumberOfMessages: 10 }));
    expect(dlq.Messages?.map((m) => m.MessageAttributes!.errorCode.StringValue)).toContain('malformed_message');
  });
});
