import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Conversion } from '../../functions/core/conversion.ts';
import { DESTINATION_METRICS, METRICS_NAMESPACE, SOURCE_METRICS } from '../../functions/core/metric-names.ts';
import type { LocalDynamo } from '../../lib/local/dynamo.ts';
import { startSqsServer, type SqsServer } from '../../lib/local/sqs-server.ts';
import { httpEvent } from '../../lib/local/http-event.ts';
import { metaError, startMetaFake, type MetaFake } from '../fakes/meta-server.ts';
import { conversionFactory } from '../support/factories.ts';
import { createDestinationQueues, startLocalLedger, type LocalLedger } from '../support/local-aws.ts';

/**
 * The CloudWatch metrics (Powertools EMF lines on stdout) that the dashboard and alarms read: per source accepted /
 * rejected by reason, per destination delivered / failed transient / failed permanent / skipped by reason / batch
 * size / platform latency. The real handlers, with metrics on, against dynalite, the local SQS server and the fake
 * Meta API.
 */
type HttpHandler = (e: APIGatewayProxyEventV2, c: Context) => Promise<APIGatewayProxyStructuredResultV2>;
type SqsHandler = (e: SQSEvent, c: Context) => Promise<SQSBatchResponse>;
const SECRET = 'whsec_metrics';

let dynamo: LocalDynamo;
let ledger: LocalLedger;
let sqsServer: SqsServer;
let meta: MetaFake;
let stripeIngest: HttpHandler;
let metaSender: SqsHandler;
const context = (): Context => ({ awsRequestId: randomUUID(), functionName: 'metrics-test', getRemainingTimeInMillis: () => 30_000 }) as unknown as Context;

interface Emf {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  [k: string]: unknown;
}

/** Runs `fn` and returns the EMF documents it printed. */
async function emitted(fn: () => Promise<unknown>): Promise<Emf[]> {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: any) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  });
  try {
    await fn();
  } finally {
    spy.mockRestore();
  }
  return lines.flatMap((l) => {
    try {
      const doc = JSON.parse(l);
      return doc?._aws?.CloudWatchMetrics ? [doc as Emf] : [];
    } catch {
      return [];
    }
  });
}

/** Every (metric, dimensions, value) in the documents, values summed per metric and dimension set. */
function values(docs: Emf[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of docs) {
    for (const def of d._aws.CloudWatchMetrics) {
      expect(def.Namespace).toBe(METRICS_NAMESPACE);
      const dims = def.Dimensions[0].filter((k) => k !== 'service').map((k) => `${k}=${d[k]}`).join(',');
      for (const m of def.Metrics) {
        const v = d[m.Name];
        const sum = Array.isArray(v) ? v.reduce((a: number, b: number) => a + b, 0) : Number(v);
        out.set(`${m.Name}{${dims}}`, (out.get(`${m.Name}{${dims}}`) ?? 0) + sum);
      }
    }
  }
  return out;
}

function sqsEvent(conversions: Conversion[]): SQSEvent {
  return {
    Records: conversions.map((c) => ({
      messageId: randomUUID(),
      receiptHandle: 'unused',
      body: JSON.stringify(c),
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'x', ApproximateFirstReceiveTimestamp: String(Date.now()) },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:meta',
      awsRegion: 'us-east-1',
    })),
  } as SQSEvent;
}

function stripeRequest(id: string, secret = SECRET, type = 'checkout.session.completed'): APIGatewayProxyEventV2 {
  const payload = JSON.stringify({ id: `evt_${id}`, object: 'event', type, created: Math.floor(Date.now() / 1000), livemode: true, data: { object: { id, object: 'checkout.session', mode: 'payment', payment_status: 'paid', amount_total: 1000, currency: 'usd', metadata: {}, customer_details: { email: 'm@example.com' } } } });
  const headers = { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret }) };
  return httpEvent({ method: 'POST', path: '/webhooks/stripe', headers, body: payload }, 'function-url');
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
    POWERTOOLS_METRICS_DISABLED: 'false',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  await createDestinationQueues(sqsServer.url);
  stripeIngest = (await import('../../functions/sources/stripe/lambda.ts')).handler as unknown as HttpHandler;
  metaSender = (await import('../../functions/destinations/meta/lambda.ts')).handler as unknown as SqsHandler;
});

afterAll(async () => {
  await meta?.close();
  await sqsServer?.close();
  await ledger?.close();
});

describe('CloudWatch metrics (EMF)', () => {
  it('counts accepted conversions, duplicates, skipped events and rejections by reason, per source, in one document per webhook', async () => {
    const stderr: string[] = [];
    const stderrSpy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: any) => (stderr.push(String(chunk)), true));
    const docs = await emitted(async () => {
      await stripeIngest(stripeRequest('cs_metrics_1'), context());
      await stripeIngest(stripeRequest('cs_metrics_1'), context());
      await stripeIngest(stripeRequest('cs_metrics_2', 'whsec_wrong'), context());
      await stripeIngest(stripeRequest('cs_metrics_3', SECRET, 'checkout.session.expired'), context());
    }).finally(() => stderrSpy.mockRestore());
    const v = values(docs);
    expect(v.get(`${SOURCE_METRICS.accepted}{source=stripe}`)).toBe(1);
    expect(v.get(`${SOURCE_METRICS.duplicates}{source=stripe}`)).toBe(1);
    expect(v.get(`${SOURCE_METRICS.rejected}{source=stripe,reason=invalid_signature}`)).toBe(1);
    expect(v.get(`${SOURCE_METRICS.skipped}{source=stripe,reason=event type checkout.session.expired is not a conversion}`)).toBe(1);
    // One document per webhook, each outcome counted on the invocation's own metrics: none is left empty (Powertools
    // warns of an empty one on stderr).
    expect(docs).toHaveLength(4);
    expect(stderr.join('')).not.toContain('No application metrics');
  });

  it('counts delivered, failed permanent, failed transient and skipped-by-reason per destination, with batch size and platform latency', async () => {
    const fresh = (id: string) => conversionFactory({ eventId: id, orderId: id, occurredAt: new Date(Date.now() - 60_000).toISOString() });
    meta.failWhen((e) => e.event_id === 'm_bad', { status: 400, body: metaError(100, 'Invalid parameter', { subcode: 2804019 }) });
    const first = await emitted(() => metaSender(sqsEvent([fresh('m_ok_1'), fresh('m_ok_2'), fresh('m_bad'), conversionFactory({ eventId: 'm_old', orderId: 'm_old' })]), context()));
    const v = values(first);
    expect(v.get(`${DESTINATION_METRICS.delivered}{destination=meta}`)).toBe(2);
    expect(v.get(`${DESTINATION_METRICS.failedPermanent}{destination=meta}`)).toBe(1);
    expect(v.get(`${DESTINATION_METRICS.skipped}{destination=meta,reason=too old for meta}`)).toBe(1);
    expect(v.get(`${DESTINATION_METRICS.batchSize}{destination=meta}`)).toBe(4);
    // One request for the batch, then the split that isolated the bad event: each timed.
    expect(v.get(`${DESTINATION_METRICS.platformRequests}{destination=meta}`)).toBeGreaterThanOrEqual(2);
    expect(v.get(`${DESTINATION_METRICS.platformLatency}{destination=meta}`)).toBeGreaterThanOrEqual(0);
    const latency = first.find((d) => d._aws.CloudWatchMetrics[0].Metrics.some((m) => m.Name === DESTINATION_METRICS.platformLatency));
    expect(latency?._aws.CloudWatchMetrics[0].Metrics.find((m) => m.Name === DESTINATION_METRICS.platformLatency)?.Unit).toBe('Milliseconds');

    // Match quality of the two delivered (the factory's full website purchase: score 10, an fbc attached):
    // one sample each, summed here; the dashboard averages them.
    expect(v.get(`${DESTINATION_METRICS.matchScore}{destination=meta}`)).toBe(20);
    expect(v.get(`${DESTINATION_METRICS.clickAttached}{destination=meta}`)).toBe(200);

    meta.reset();
    meta.failNext(1, { status: 503 });
    const second = values(await emitted(() => metaSender(sqsEvent([fresh('m_retry')]), context())));
    expect(second.get(`${DESTINATION_METRICS.failedTransient}{destination=meta}`)).toBe(1);
  });
});
