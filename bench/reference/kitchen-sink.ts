/**
 * The reference ingest handler the bench compares cold starts against: what the same job looks like built the
 * "kitchen-sink" way — the `stripe` SDK verifies, Meta's official `facebook-nodejs-business-sdk` builds the Meta
 * payload, AWS SDK clients + Powertools (logger, parameters, idempotency, batch) + middy do the I/O. It does the same
 * I/O as our ingest (settings secret, click lookup, idempotent enqueue) so that only the libraries differ.
 * Bench only: never deployed.
 */
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { BatchProcessor, EventType } from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import bizSdk from 'facebook-nodejs-business-sdk';
import Stripe from 'stripe';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';

const { ServerEvent, UserData, CustomData, EventRequest } = bizSdk;
const logger = new Logger({ serviceName: 'kitchen-sink-reference' });
const stripe = new Stripe('sk_test_reference_unused');
const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const sqs = new SQSClient({});
// Loaded as a kitchen-sink handler would (a shared handlers module); unused by this route.
export const batchProcessor = new BatchProcessor(EventType.SQS);
const idempotencyConfig = new IdempotencyConfig({ eventKeyJmesPath: 'eventId', expiresAfterSeconds: 7 * 86400 });

/** Meta's SDK serializes the request body through an HttpService; this one returns it instead of sending it. */
const serializeOnly = { executeRequest: (_url: string, _method: string, _headers: unknown, params: unknown) => Promise.resolve(JSON.stringify(params)) };

async function settings(): Promise<Record<string, string | undefined>> {
  const arn = process.env.RELAY_SECRET_ARN;
  if (!arn) return process.env;
  return { ...process.env, ...((await getSecret<Record<string, string>>(arn, { transform: 'json', maxAge: 300 })) ?? {}) };
}

const enqueue = makeIdempotent(
  async (message: { eventId: string; payload: string }) => {
    await sqs.send(new SendMessageCommand({ QueueUrl: process.env.REFERENCE_QUEUE_URL, MessageBody: message.payload }));
    return { eventId: message.eventId };
  },
  {
    persistenceStore: new DynamoDBPersistenceLayer({ tableName: process.env.IDEMPOTENCY_TABLE!, expiryAttr: 'ttl', awsSdkV3Client: new DynamoDBClient({}) }),
    config: idempotencyConfig,
  },
);

export const handler = middy(async (event: APIGatewayProxyEventV2, context: Context) => {
  idempotencyConfig.registerLambdaContext(context);
  const config = await settings();
  const body = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : (event.body ?? '');
  const stripeEvent = stripe.webhooks.constructEvent(body, event.headers['stripe-signature'] ?? '', config.STRIPE_WEBHOOK_SECRET!.split(',').pop()!);
  if (stripeEvent.type !== 'checkout.session.completed') return { statusCode: 200, body: '{"status":"skipped"}' };
  const session = stripeEvent.data.object as Stripe.Checkout.Session;
  const details = session.customer_details;
  const visitorId = session.client_reference_id ?? undefined;
  const visitors = process.env.VISITORS_TABLE!;
  const found = visitorId ? await dynamo.send(new BatchGetCommand({ RequestItems: { [visitors]: { Keys: [{ pk: `V#${visitorId}` }] } } })) : undefined;
  const visitor = found?.Responses?.[visitors]?.[0];
  const [firstName, ...rest] = (details?.name ?? '').split(' ');
  const userData = new UserData()
    .setEmail(details?.email ?? undefined)
    .setPhone(details?.phone?.replace(/\D/g, '') ?? undefined)
    .setFirstName(firstName || undefined)
    .setLastName(rest.join(' ') || undefined)
    .setCity(details?.address?.city ?? undefined)
    .setState(details?.address?.state ?? undefined)
    .setZip(details?.address?.postal_code?.slice(0, 5) ?? undefined)
    .setCountry(details?.address?.country?.toLowerCase() ?? undefined)
    .setExternalId(typeof session.customer === 'string' ? session.customer : undefined)
    .setClientIpAddress(visitor?.ip)
    .setClientUserAgent(visitor?.userAgent)
    .setFbc(visitor?.click_fbc?.value)
    .setFbp(visitor?.click_fbp?.value);
  const customData = new CustomData().setValue((session.amount_total ?? 0) / 100).setCurrency(session.currency ?? 'usd').setOrderId(session.id);
  const serverEvent = new ServerEvent()
    .setEventName('Purchase')
    .setEventTime(stripeEvent.created)
    .setEventId(session.id)
    .setUserData(userData)
    .setCustomData(customData)
    .setActionSource('website')
    .setEventSourceUrl(visitor?.landingUrl ?? 'https://shop.example.com/');
  const request = new EventRequest(config.META_ACCESS_TOKEN ?? 'token', config.META_PIXEL_ID ?? '1', [serverEvent], null, null, null, null, null, null, false, serializeOnly);
  const payload: string = await request.execute();
  const receipt = await enqueue({ eventId: session.id, payload });
  logger.info('conversion enqueued', { eventId: receipt.eventId });
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'accepted', conversions: [receipt] }) };
}).use(injectLambdaContext(logger, { resetKeys: true }));
