import {
  BatchWriteItemCommand,
  GetItemCommand,
  PutItemCommand,
  type AttributeValue,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { Conversion } from '#core/conversion.ts';
import type { Commit, IngestPorts, Route, VisitorLink } from '#core/ingest.ts';
import { TABLE_ENV, requireEnv } from '#core/names.ts';
import { dynamoClient } from './clients.ts';
import { conversionItemAttributes, conversionOf, routesOf } from './conversion-item.ts';
import { ACCEPTED_STATUS, CONVERSION_SK, LEDGER_RETENTION_DAYS, conversionPk } from './ledger-items.ts';
import { findVisitor, fromItem } from './visitor-lookup.ts';
import { emailKey, phoneKey, ttlFrom } from './visitor-items.ts';

/**
 * The ingest hot path's storage, on the low-level DynamoDB client (no document-client marshalling): a transactional
 * outbox. A first-time conversion costs two calls — visitor lookup (BatchGetItem), then the commit: one conditional
 * PutItem of the accepted conversion item (its routes and the Conversion) — and a third only when there are new
 * visitor links. The fan-out (functions/handlers/fan-out.ts) reads each new conversion item from the ledger's stream
 * and puts it on its destinations' queues. A duplicate costs the same lookup and the failed put, which returns the
 * recorded item: its routes are the receipt.
 */
type Item = Record<string, AttributeValue>;
const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });
const ledgerTtl = (nowMs: number) => Math.floor(nowMs / 1000) + LEDGER_RETENTION_DAYS * 86400;
const conversionKey = (eventId: string): Item => ({ pk: S(conversionPk(eventId)), sk: S(CONVERSION_SK) });

/**
 * The accepted conversion item, `C#<eventId>` / `conversion`: what the commit writes, what the stream carries to the
 * fan-out (readConversionItem), what `status` and `replay` read. Built here only.
 */
export function conversionItem(conversion: Conversion, routes: Route[], invocationId: string, nowMs: number): Item {
  return {
    ...conversionKey(conversion.eventId),
    status: S(ACCEPTED_STATUS),
    inv: S(invocationId),
    // Routes, description and the Conversion (the queues' message body, and `conversion-relay replay`'s: hashes, IP
    // and UA only), in one write unit (conversion-item.ts).
    ...conversionItemAttributes(conversion, routes),
    updatedAt: S(new Date(nowMs).toISOString()),
    ttl: N(ledgerTtl(nowMs)),
  };
}

/** What the fan-out needs of a conversion item (a stream record's new image): the message body and where it goes. */
export interface QueuedConversion {
  eventId: string;
  eventName: string;
  /** The Conversion as JSON: the destination queues' message body. */
  body: string;
  /** The destinations it is queued for. */
  destinations: string[];
}

/** A binary attribute as the SDK gives it (bytes) or as a stream event carries it (base64, as DynamoDB JSON does). */
function bytesOf(v: AttributeValue | undefined): Uint8Array | undefined {
  const b = (v as { B?: Uint8Array | string } | undefined)?.B;
  return typeof b === 'string' ? Buffer.from(b, 'base64') : b;
}

/** The reverse of conversionItem for the fan-out; throws, naming what is missing, on an item it did not build. */
export function readConversionItem(item: Item): QueuedConversion {
  const pk = item.pk?.S ?? '';
  const eventName = item.eventName?.S;
  if (!pk.startsWith('C#') || item.sk?.S !== CONVERSION_SK) throw new Error(`not a conversion item: ${pk || '(no pk)'} / ${item.sk?.S ?? '(no sk)'}`);
  // Either form: the compact `c`/`r` of conversion-item.ts, or the JSON `conversion`/`routes` of older items.
  const fields = { c: bytesOf(item.c), r: bytesOf(item.r), conversion: item.conversion?.S, routes: item.routes?.S };
  const conversion = conversionOf(fields);
  if (!conversion || !eventName || (!fields.r && typeof fields.routes !== 'string')) throw new Error(`conversion item ${pk} lacks ${!conversion ? 'conversion' : !eventName ? 'eventName' : 'routes'}`);
  const destinations = routesOf(fields).flatMap((r) => (r.status === 'queued' ? [r.destination] : []));
  return { eventId: pk.slice(2), eventName, body: JSON.stringify(conversion), destinations };
}

/** The ports `ingest()` runs on in AWS and in the local runner: every entry point (HTTP handlers, backfill) builds them here. */
export function createIngestPorts(opts: { ledgerTable?: string; visitorsTable?: string } = {}): IngestPorts {
  const ledger = opts.ledgerTable ?? requireEnv(TABLE_ENV.ledger);
  const visitors = opts.visitorsTable ?? requireEnv(TABLE_ENV.visitors);

  async function commit(conversion: Conversion, routes: Route[], invocationId: string, links: VisitorLink[]): Promise<Commit> {
    const now = Date.now();
    let old: Item | undefined;
    try {
      await dynamoClient.send(
        new PutItemCommand({
          TableName: ledger,
          Item: conversionItem(conversion, routes, invocationId, now),
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (err) {
      if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
      // DynamoDB returns the item that failed the condition; an emulator that does not (dynalite) costs a read.
      old =
        (err as { Item?: Item }).Item ??
        (await dynamoClient.send(new GetItemCommand({ TableName: ledger, Key: conversionKey(conversion.eventId), ConsistentRead: true }))).Item;
      const item = fromItem(old ?? {});
      return { kind: 'duplicate', receipt: { eventId: conversion.eventId, routes: routesOf(item), invocationId: String(item.inv ?? '') } };
    }
    // After the commit, and only when there are any. A crash or a failure here loses no conversion (it is recorded
    // and on its way), only this hint for a later conversion that carries the e-mail or phone without the visitor ID.
    if (links.length) {
      await batchWrite({
        [visitors]: links.map((l) => ({
          PutRequest: { Item: { pk: S((l.kind === 'email' ? emailKey(l.hash) : phoneKey(l.hash)).pk), visitorId: S(l.visitorId), ttl: N(ttlFrom(now)) } },
        })),
      }).catch((err) => console.warn(JSON.stringify({ level: 'WARN', message: 'visitor links not written', eventId: conversion.eventId, error: (err as Error).message })));
    }
    return { kind: 'committed', receipt: { eventId: conversion.eventId, routes, invocationId } };
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

  return { visitors: { find: (keys) => findVisitor(visitors, keys) }, commit, recordSkip };
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
