import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalDynamo, type LocalDynamo } from '../../lib/local/dynamo.ts';

/** The collect handler of an EU site (CONSENT_DEFAULT=denied): a page view without a signal keeps no ad identifier. */
type HttpHandler = (e: APIGatewayProxyEventV2, c: Context) => Promise<APIGatewayProxyStructuredResultV2>;
let dynamo: LocalDynamo;
let ddb: DynamoDBDocumentClient;
let collect: HttpHandler;

const post = (body: unknown, cookies?: string[]) =>
  collect(
    {
      version: '2.0',
      rawPath: '/collect',
      headers: { 'content-type': 'text/plain', 'user-agent': 'UA-eu' },
      cookies,
      body: JSON.stringify(body),
      isBase64Encoded: false,
      requestContext: { http: { method: 'POST', path: '/collect', sourceIp: '203.0.113.9' }, requestId: randomUUID() },
    } as unknown as APIGatewayProxyEventV2,
    { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 30_000 } as unknown as Context,
  );
const item = async (pk: string) => (await ddb.send(new GetCommand({ TableName: 'visitors', Key: { pk } }))).Item;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  Object.assign(process.env, { ...dynamo.environment, CONSENT_DEFAULT: 'denied', POWERTOOLS_LOG_LEVEL: 'ERROR' });
  delete process.env.RELAY_ALLOWED_ORIGINS;
  ddb = DynamoDBDocumentClient.from(dynamo.client);
  collect = (await import('../../functions/handlers/collect.ts')).handler as unknown as HttpHandler;
});
afterAll(async () => {
  delete process.env.CONSENT_DEFAULT; // this file's setting must not reach another suite sharing the worker
  await dynamo?.close();
});

describe('collect with CONSENT_DEFAULT=denied', () => {
  it('keeps no click, sets no ad cookie and links no identify without a signal; a grant captures the clicks', async () => {
    const email = createHash('sha256').update('eu@example.com').digest('hex');
    const res = await post({ url: 'https://shop.example.eu/?gclid=G-eu&fbclid=F-eu', identify: { email } });
    expect(res.statusCode).toBe(200);
    expect(res.cookies).toHaveLength(1);
    const { visitorId } = JSON.parse(res.body!);
    expect((await item(`V#${visitorId}`))!.click_gclid).toBeUndefined();
    expect(await item(`E#${email}`)).toBeUndefined();

    await post({ url: 'https://shop.example.eu/?gclid=G-eu', consent: { marketing: true } }, [`cr_vid=${visitorId}`]);
    expect((await item(`V#${visitorId}`))!.click_gclid.value).toBe('G-eu');
  });
});
