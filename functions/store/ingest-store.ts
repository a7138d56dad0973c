import {
  BatchWriteItemCommand,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { PublishCommand } from '@aws-sdk/client-sns';
import type { Conversion } from '#core/conversion.ts';
import type { Claim, EnqueueReceipt, IngestPorts, Route, VisitorLink } from '#core/ingest.ts';
import { CONVERSIONS_TOPIC_ENV, DESTINATIONS_ATTRIBUTE, TABLE_ENV, requireEnv } from '#core/names.ts';
import { dynamoClient, sns } from './clients.ts';
import { conversionItemAttributes } from './conversion-item.ts';
import { CONVERSION_SK, LEDGER_RETENTION_DAYS, conversionPk, routesOf } from './ledger-items.ts';
import { findVisitor, fromItem } from './visitor-lookup.ts';
import { emailKey, phoneKey, ttlFrom } from './visitor-items.ts';

/**
 * The ingest hot path's storage, on the low-level DynamoDB client (no document-client marshalling) and one SNS
 * topic. A first-time conversion costs four calls — claim (PutItem), visitor lookup (BatchGetItem), fan-out (one SNS
 * Publish for every destination), completion (one BatchWriteItem: the conversion item and any new visitor links) —
 * and a duplicate one: the failed claim returns the finished item, whose routes are the receipt.
 */
type Item = Record<string, AttributeValue>;
const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });
const ledgerTtl = (nowMs: number) => Math.floor(nowMs / 1000) + LEDGER_RETENTION_DAYS * 86400;

/** The ports `ingest()` runs on in AWS and in the local runner: every entry point (HTTP handlers, backfill) builds them here. */
export function createIngestPorts(opts: { ledgerTable?: string; visitorsTable?: string; topicArn?: string } = {}): IngestPorts {
  const ledger = opts.ledgerTable ?? requireEnv(TABLE_ENV.ledger);
  const visitors = opts.visitorsTable ?? requireEnv(TABLE_ENV.visitors);
  const topicArn = opts.topicArn ?? requireEnv(CONVERSIONS_TOPIC_ENV);
  const key = (eventId: string): Item => ({ pk: S(conversionPk(eventId)), sk: S(CONVERSION_SK) });

  async function claim(eventId: string, invocationId: string, leaseUntilMs: number): Promise<Claim> {
    const now = Date.now();
    let old: Item | undefined;
    try {
      await dynamoClient.send(
        new PutItemCommand({
          TableName: ledger,
          Item: { ...key(eventId), status: S('claimed'), inv: S(invocationId), leaseUntil: N(leaseUntilMs), updatedAt: S(new Date(now).toISOString()), ttl: N(ledgerTtl(now)) },
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { kind: 'claimed' };
    } catch (err) {
      if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
      // DynamoDB returns the item that failed the condition; an emulator that does not (dynalite) costs a read.
      old = (err as { Item?: Item }).Item ?? (await dynamoClient.send(new GetItemCommand({ TableName: ledger, Key: key(eventId), ConsistentRead: true }))).Item;
    }
    if (!old) return claim(eventId, invocationId, leaseUntilMs); // released in between: claim again
    const item = fromItem(old);
    if (item.status !== 'claimed') return { kind: 'duplicate', receipt: { eventId, routes: routesOf(item), invocationId: String(item.inv ?? '') } };
    if (Number(item.leaseUntil) > now) return { kind: 'in_progress' };
    // The claiming invocation died between claim and completion: take its claim over, unless another retry just did.
    try {
      await dynamoClient.send(
        new UpdateItemCommand({
          TableName: ledger,
          Key: key(eventId),
          UpdateExpression: 'SET inv = :inv, leaseUntil = :lease, updatedAt = :now',
          ConditionExpression: '#status = :claimed AND leaseUntil = :old',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':inv': S(invocationId), ':lease': N(leaseUntilMs), ':now': S(new Date(now).toISOString()), ':claimed': S('claimed'), ':old': old.leaseUntil ?? N(0) },
        }),
      );
      return { kind: 'claimed' };
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') return { kind: 'in_progress' };
      throw err;
    }
  }

  async function enqueue(conversion: Conversion, routes: Route[], invocationId: string, links: VisitorLink[]): Promise<EnqueueReceipt> {
    const queued = routes.filter((r) => r.status === 'queued').map((r) => r.destination);
    // Published before the conversion is recorded as done: a crash in between leaves the claim, whose retry publishes
    // again (the platforms de-duplicate on the event ID); the other order could lose the conversion.
    if (queued.length) {
      await sns.send(
        new PublishCommand({
          TopicArn: topicArn,
          Message: JSON.stringify(conversion),
          MessageAttributes: {
            [DESTINATIONS_ATTRIBUTE]: { DataType: 'String.Array', StringValue: JSON.stringify(queued) },
            conversionId: { DataType: 'String', StringValue: conversion.eventId },
            eventName: { DataType: 'String', StringValue: conversion.eventName },
          },
        }),
      );
    }
    const now = Date.now();
    const at = S(new Date(now).toISOString());
    const item: Item = {
      ...key(conversion.eventId),
      status: S('accepted'),
      inv: S(invocationId),
      // Routes, description and the Conversion (for `conversion-relay replay`): one write unit (conversion-item.ts).
      ...conversionItemAttributes(conversion, routes),
      updatedAt: at,
      ttl: N(ledgerTtl(now)),
    };
    const requests: Record<string, WriteRequest[]> = { [ledger]: [{ PutRequest: { Item: item } }] };
    if (links.length) {
      requests[visitors] = links.map((l) => ({
        PutRequest: { Item: { pk: S((l.kind === 'email' ? emailKey(l.hash) : phoneKey(l.hash)).pk), visitorId: S(l.visitorId), ttl: N(ttlFrom(now)) } },
      }));
    }
    await batchWrite(requests);
    return { eventId: conversion.eventId, routes, invocationId };
  }

  async function release(eventId: string, invocationId: string): Promise<void> {
    await dynamoClient
      .send(
        new DeleteItemCommand({
          TableName: ledger,
          Key: key(eventId),
          ConditionExpression: '#status = :claimed AND inv = :inv',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':claimed': S('claimed'), ':inv': S(invocationId) },
        }),
      )
      .catch((err) => {
        if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
      });
  }

  async function recordSkip(source: string, sourceEventId: string, eventType: string, reason: string): Promise<void> {
    const now = Date.now();
    await dynamoClient.send(
      new PutItemCommand({
        TableName: ledger,
        Item: { pk: S(`S#${source}#${sourceEventId}`), sk: S('source'), status: S('skipped'), reason: S(reason), source: S(source), eventType: S(eventType), updatedAt: S(new Date(now).toISOString()), ttl: N(ledgerTtl(now)) },
      }),
    );
  }

  return { visitors: { find: (keys) => findVisitor(visitors, keys) }, claim, enqueue, release, recordSkip };
}

/** BatchWriteItem, retrying what DynamoDB leaves unprocessed (throttling) with a short backoff. */
async function batchWrite(requests: Record<string, WriteRequest[]>): Promise<void> {
  for (let attempt = 0; Object.keys(requests).length > 0; attempt++) {
    if (attempt === 5) throw new Error(`ledger: ${Object.values(requests).flat().length} writes left unprocessed after 5 attempts`);
    if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    const res = await dynamoClient.send(new BatchWriteItemCommand({ RequestItems: requests }));
    requests = Object.fromEntries(Object.entries(res.UnprocessedItems ?? {}).filter(([, r]) => r.length > 0));
  }
}
