import { DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalDynamo, type LocalDynamo } from '../../lib/local/dynamo.ts';

/**
 * The real collect handler against dynalite: CORS for the configured origins only, the visitor record (every click
 * with its time, IP and user agent; consent; withdrawal), identify links, and refusals that store nothing.
 */
type HttpHandler = (e: APIGatewayProxyEventV2, c: Context) => Promise<APIGatewayProxyStructuredResultV2>;
const SITE = 'https://shop.example.com';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

let dynamo: LocalDynamo;
let ddb: DynamoDBDocumentClient;
let collect: HttpHandler;

const context = (): Context => ({ awsRequestId: randomUUID(), functionName: 'test', getRemainingTimeInMillis: () => 30_000 }) as unknown as Context;

function event(body: unknown, opts: { origin?: string; cookies?: string[]; ip?: string; ua?: string; method?: string } = {}): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': opts.ua ?? 'UA-collect' };
  if (opts.origin) headers.origin = opts.origin;
  return {
    version: '2.0',
    routeKey: `${opts.method ?? 'POST'} /collect`,
    rawPath: '/collect',
    rawQueryString: '',
    headers,
    cookies: opts.cookies,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { http: { method: opts.method ?? 'POST', path: '/collect', protocol: 'HTTP/1.1', sourceIp: opts.ip ?? '203.0.113.7', userAgent: headers['user-agent'] }, requestId: randomUUID() },
  } as unknown as APIGatewayProxyEventV2;
}

const visitor = async (id: string) => (await ddb.send(new GetCommand({ TableName: 'visitors', Key: { pk: `V#${id}` } }))).Item!;
const itemCount = async () => (await ddb.send(new ScanCommand({ TableName: 'visitors', Select: 'COUNT' }))).Count ?? 0;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  Object.assign(process.env, {
    ...dynamo.environment,
    RELAY_ALLOWED_ORIGINS: `${SITE}, https://*.example.org`,
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
  ddb = DynamoDBDocumentClient.from(dynamo.client);
  collect = (await import('../../functions/handlers/collect.ts')).handler as unknown as HttpHandler;
});

afterAll(async () => {
  delete process.env.RELAY_ALLOWED_ORIGINS; // this file's setting must not reach another suite sharing the worker
  await dynamo?.close();
});

describe('collect: CORS', () => {
  it('answers a configured origin with its own origin and credentials allowed', async () => {
    const res = await collect(event({ url: `${SITE}/` }, { origin: SITE }), context());
    expect(res.statusCode).toBe(200);
    expect(res.headers).toMatchObject({ 'access-control-allow-origin': SITE, 'access-control-allow-credentials': 'true', vary: 'Origin' });
    const sub = await collect(event({ url: 'https://www.example.org/' }, { origin: 'https://www.example.org' }), context());
    expect(sub.headers?.['access-control-allow-origin']).toBe('https://www.example.org');
  });

  it('refuses another origin with 403 and stores nothing', async () => {
    const before = await itemCount();
    const res = await collect(event({ url: 'https://evil.test/?gclid=x' }, { origin: 'https://evil.test' }), context());
    expect(res.statusCode).toBe(403);
    expect(JSON.parse(res.body!).error).toBe('origin_not_allowed');
    expect(res.headers?.['access-control-allow-origin']).toBeUndefined();
    expect(res.cookies).toBeUndefined();
    expect(await itemCount()).toBe(before);
  });

  it('answers a preflight for an allowed origin', async () => {
    const res = await collect(event('', { origin: SITE, method: 'OPTIONS' }), context());
    expect(res.statusCode).toBe(204);
    expect(res.headers).toMatchObject({ 'access-control-allow-origin': SITE, 'access-control-allow-methods': 'POST' });
  });
});

describe('collect: validation', () => {
  it('refuses malformed and oversized beacons with 400 / 413 and stores nothing', async () => {
    const before = await itemCount();
    const bad = [
      'not json',
      JSON.stringify({ url: 'ftp://shop.example.com/' }),
      JSON.stringify({ url: `${SITE}/`, identify: { email: 'jane@example.com' } }),
      JSON.stringify({ url: `${SITE}/`, consent: { marketing: 'maybe' } }),
      JSON.stringify({ url: `${SITE}/`, cookies: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`c${i}`, 'v'])) }),
    ];
    for (const body of bad) {
      const res = await collect(event(body, { origin: SITE }), context());
      expect(res.statusCode, body).toBe(400);
    }
    const big = await collect(event({ url: `${SITE}/`, referrer: 'x'.repeat(20_000) }, { origin: SITE }), context());
    expect(big.statusCode).toBe(413);
    expect(await itemCount()).toBe(before);
  });
});

describe('collect: the visitor record', () => {
  it('issues a visitor ID in an HttpOnly, Secure, SameSite=Lax cookie and in the JSON answer', async () => {
    const res = await collect(event({ url: `${SITE}/` }, { origin: SITE }), context());
    const { visitorId } = JSON.parse(res.body!);
    expect(visitorId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(res.cookies?.[0]).toBe(`cr_vid=${visitorId}; Max-Age=34560000; Path=/; HttpOnly; Secure; SameSite=Lax`);
    const item = await visitor(visitorId);
    expect(item.ttl * 1000 - Date.now()).toBeGreaterThan(89 * 86400_000);
    expect(item.ttl * 1000 - Date.now()).toBeLessThanOrEqual(90 * 86400_000);
  });

  it('keeps every click with its capture time, IP and user agent, the newest per platform, the _ga client ID and consent', async () => {
    const first = await collect(
      event({ url: `${SITE}/?gclid=G-first&fbclid=FB1`, cookies: { _ga: 'GA1.1.1234.5678' } }, { origin: SITE, ip: '203.0.113.1', ua: 'UA-phone' }),
      context(),
    );
    const { visitorId } = JSON.parse(first.body!);
    const cookies = [`cr_vid=${visitorId}`];
    await collect(event({ url: `${SITE}/?gclid=G-second&ttclid=TT1`, consent: { marketing: true, analytics: 'granted' } }, { origin: SITE, cookies, ip: '198.51.100.2', ua: 'UA-laptop' }), context());

    const item = await visitor(visitorId);
    expect(item.click_gclid.value).toBe('G-second');
    expect(item.click_ttclid.value).toBe('TT1');
    expect(item.click_fbc.value).toMatch(/^fb\.1\.\d{13}\.FB1$/);
    expect(item.click_gaClientId.value).toBe('1234.5678');
    expect(item.consent).toEqual({ marketing: true, analytics: true });
    expect(item.clickHistory.map((c: any) => [c.key, c.value, c.ip, c.userAgent])).toEqual([
      ['fbc', item.click_fbc.value, '203.0.113.1', 'UA-phone'],
      ['gclid', 'G-first', '203.0.113.1', 'UA-phone'],
      ['gclid', 'G-second', '198.51.100.2', 'UA-laptop'],
      ['ttclid', 'TT1', '198.51.100.2', 'UA-laptop'],
    ]);
    for (const c of item.clickHistory) expect(c.capturedAt).toBeGreaterThan(Date.now() - 60_000);
  });

  it('never loses a click when page views of one visitor arrive at once', async () => {
    const { visitorId } = JSON.parse((await collect(event({ url: `${SITE}/` }, { origin: SITE }), context())).body!);
    const cookies = [`cr_vid=${visitorId}`];
    const results = await Promise.all(
      ['A', 'B', 'C', 'D'].map((x) => collect(event({ url: `${SITE}/?gclid=G-${x}` }, { origin: SITE, cookies }), context())),
    );
    expect(results.map((r) => r.statusCode)).toEqual([200, 200, 200, 200]);
    expect((await visitor(visitorId)).clickHistory.map((c: any) => c.value).sort()).toEqual(['G-A', 'G-B', 'G-C', 'G-D']);
  });

  it('stores a refusal without new ad identifiers or ad cookies, and keeps what an earlier grant captured', async () => {
    const { visitorId } = JSON.parse((await collect(event({ url: `${SITE}/?gclid=G1` }, { origin: SITE }), context())).body!);
    const res = await collect(
      event({ url: `${SITE}/?fbclid=F2&gclid=G2`, event: 'consent', consent: { marketing: false, analytics: false } }, { origin: SITE, cookies: [`cr_vid=${visitorId}`] }),
      context(),
    );
    expect(res.cookies).toHaveLength(1); // only the visitor cookie: no _fbc / _fbp
    const item = await visitor(visitorId);
    expect(item.click_gclid.value).toBe('G1');
    expect(item.click_fbc).toBeUndefined();
    expect(item.clickHistory.map((c: any) => c.value)).toEqual(['G1']);
    expect(item.consent).toEqual({ marketing: false, analytics: false });
    expect(item.landingUrl).toBe(`${SITE}/`);
  });
});

describe('collect: identify', () => {
  it('links the hashed e-mail and phone to the visitor', async () => {
    const { visitorId } = JSON.parse((await collect(event({ url: `${SITE}/?gclid=G1` }, { origin: SITE }), context())).body!);
    const email = sha256('jane@example.com');
    const phone = sha256('14155550100');
    const res = await collect(event({ url: `${SITE}/`, event: 'identify', identify: { email, phone } }, { origin: SITE, cookies: [`cr_vid=${visitorId}`] }), context());
    expect(res.statusCode).toBe(200);
    expect((await ddb.send(new GetCommand({ TableName: 'visitors', Key: { pk: `E#${email}` } }))).Item).toMatchObject({ visitorId });
    expect((await ddb.send(new GetCommand({ TableName: 'visitors', Key: { pk: `P#${phone}` } }))).Item).toMatchObject({ visitorId });

    const { DynamoVisitorStore } = await import('../../functions/store/visitors.ts');
    const store = new DynamoVisitorStore('visitors');
    expect((await store.find({ emailHash: email }))?.clicks.gclid?.value).toBe('G1');
    expect((await store.find({ phoneHash: phone }))?.visitorId).toBe(visitorId);
  });

  it('links nothing when marketing consent is denied', async () => {
    const email = sha256('denied@example.com');
    await collect(event({ url: `${SITE}/`, consent: { marketing: false }, identify: { email } }, { origin: SITE }), context());
    expect((await ddb.send(new GetCommand({ TableName: 'visitors', Key: { pk: `E#${email}` } }))).Item).toBeUndefined();
  });
});
