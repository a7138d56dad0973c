import type { APIGatewayProxyEventV2, Context, DynamoDBStreamEvent, SQSEvent } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import type { Conversion } from '../functions/core/conversion.ts';
import type { Route } from '../functions/core/ingest.ts';
import { conversionItem } from '../functions/store/ingest-store.ts';
import { streamRecord } from '../lib/local/stream.ts';
import type { Visitor } from '../functions/core/visitor.ts';
import { conversionFactory } from '../test/support/factories.ts';
import { httpEvent, localFunctionUrlHost } from '../lib/local/http-event.ts';
import { lambdaContext as localLambdaContext } from '../lib/local/lambda-context.ts';

/** Request and event builders shared by the bench sections: every webhook and conversion is unique (no duplicates). */

export interface HttpRequestSpec {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body: string;
}

export const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) conversion-relay-bench';

let counter = 0;
const unique = () => `${Date.now().toString(36)}${(++counter).toString(36)}${randomUUID().slice(0, 8)}`;

/** The visitor every bench purchase comes from: a Meta ad click an hour before (what `/collect` would have stored). */
export const BENCH_VISITOR_ID = 'vis_bench_0123456789';
export function benchVisitor(clickMs = Date.now() - 3600_000): Visitor {
  return {
    visitorId: BENCH_VISITOR_ID,
    clicks: { fbc: { value: `fb.1.${clickMs}.IwAR-bench-click`, capturedAt: clickMs }, fbp: { value: `fb.1.${clickMs}.1234567890`, capturedAt: clickMs } },
    ip: '203.0.113.7',
    userAgent: BROWSER_UA,
    landingUrl: 'https://shop.example.com/landing?fbclid=IwAR-bench-click',
    firstSeenAt: clickMs,
    lastSeenAt: clickMs,
  };
}

/** A landing's POST /collect, as the browser snippet sends it. */
export function collectRequest(): HttpRequestSpec {
  const fbclid = `IwAR-bench-${unique()}`;
  return {
    method: 'POST',
    path: '/collect',
    headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': BROWSER_UA },
    body: JSON.stringify({ url: `https://shop.example.com/landing?fbclid=${fbclid}&utm_source=facebook`, referrer: 'https://www.facebook.com/' }),
  };
}

/** The HTTP API (payload v2) event API Gateway builds for a request (`path` may carry a query), as lib/local/runner.ts builds it. */
export function apiGatewayEvent(req: HttpRequestSpec, sourceIp = '203.0.113.7'): APIGatewayProxyEventV2 {
  return httpEvent({ ...req, headers: { ...req.headers, host: 'relay.example.com' }, sourceIp }, 'http-api');
}

/** The event a source's function URL builds for its webhook (route key `$default`), as lib/local/runner.ts builds it. */
export function functionUrlEvent(req: HttpRequestSpec, sourceIp = '203.0.113.7'): APIGatewayProxyEventV2 {
  return httpEvent({ ...req, headers: { ...req.headers, host: localFunctionUrlHost() }, sourceIp }, 'function-url');
}

/** A fresh, deliverable conversion (occurred a minute ago), distinct event and order ID. */
export function freshConversion(): Conversion {
  const id = `cs_test_bench_${unique()}`;
  const base = conversionFactory();
  const at = Date.now() - 3600_000;
  // Each platform's own click/browser IDs too (GA4 needs a client ID; TikTok reads ttclid/_ttp; Google Ads a gclid).
  const clicks = { ...base.clicks, gclid: { value: `Cj0KCQiA-bench-${id}`, capturedAt: at }, gaClientId: { value: '1234567890.1700000000', capturedAt: at }, ttclid: { value: 'E.C.P.bench', capturedAt: at }, ttp: { value: 'bench-ttp', capturedAt: at } };
  return conversionFactory({ eventId: id, orderId: id, occurredAt: new Date(Date.now() - 60_000).toISOString(), clicks });
}

/** What Lambda's SQS event source hands a sender: one record per queued conversion. */
export function sqsEvent(destination: string, conversions: Conversion[]): SQSEvent {
  const now = String(Date.now());
  return {
    Records: conversions.map((c) => ({
      messageId: randomUUID(),
      receiptHandle: `bench-${randomUUID()}`,
      body: JSON.stringify(c),
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: now, SenderId: 'bench', ApproximateFirstReceiveTimestamp: now },
      messageAttributes: {
        destination: { dataType: 'String', stringValue: destination, stringListValues: [], binaryListValues: [] },
        conversionId: { dataType: 'String', stringValue: c.eventId, stringListValues: [], binaryListValues: [] },
      },
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:us-east-1:000000000000:${destination}`,
      awsRegion: 'us-east-1',
    })),
  };
}

/** What the ledger stream hands the fan-out: the INSERT of each conversion's item, queued for `destinations`. */
export function streamEvent(conversions: Conversion[], destinations: readonly string[], firstSeq = 1): DynamoDBStreamEvent {
  const routes: Route[] = destinations.map((destination) => ({ destination, status: 'queued' }));
  return {
    Records: conversions.map((c, i) => {
      const image = conversionItem(c, routes, 'bench', Date.now());
      return streamRecord({ seq: firstSeq + i, at: Math.floor(Date.now() / 1000), keys: { pk: image.pk, sk: image.sk }, image });
    }),
  };
}

/**
 * A Lambda context (the local runner's, lib/local/lambda-context.ts, with the function's memory); the bench reuses one
 * across invocations, so every invocation sees the full timeout ahead.
 */
export function lambdaContext(functionName: string, memoryMb = 256, timeoutMs = 60_000): Context {
  return { ...localLambdaContext(functionName, timeoutMs), memoryLimitInMB: String(memoryMb), logStreamName: 'bench', getRemainingTimeInMillis: () => timeoutMs };
}
