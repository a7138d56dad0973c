import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { batchEntries, isBatchRecord } from '../../functions/store/batch-records.ts';
import { conversionOf, routesOf } from '../../functions/store/conversion-item.ts';
import type { LedgerItem } from '../../functions/store/ledger-items.ts';
import type { RelayProcess } from './relay-process.ts';

/**
 * The conversion item ingest writes for an accepted conversion (store/ingest-store.ts), for a test that puts the
 * conversion's message on a queue itself: the ledger's readers find the senders' records from its `occurredAt`.
 */
export async function writeConversionItem(ddb: DynamoDBDocumentClient, conversion: Record<string, unknown>, destinations: string[]): Promise<void> {
  const at = new Date().toISOString();
  await ddb.send(
    new PutCommand({
      TableName: 'ledger',
      Item: {
        pk: `C#${conversion.eventId}`,
        sk: 'conversion',
        status: 'accepted',
        routes: JSON.stringify(destinations.map((destination) => ({ destination, status: 'queued' }))),
        eventName: conversion.eventName,
        occurredAt: conversion.occurredAt,
        conversion: JSON.stringify(conversion),
        createdAt: at,
        updatedAt: at,
      },
    }),
  );
}

/**
 * An item as an auditor reads it: a ledger batch record's compressed rows (`d`, batch-records.ts) and a conversion
 * item's binary Conversion and routes (`c`, `r`, conversion-item.ts) decoded in place, so a search of the stored text
 * sees everything they hold.
 */
export function readableItem(item: Record<string, any>): Record<string, any> {
  if (typeof item.pk === 'string' && isBatchRecord(item as LedgerItem)) return { ...item, d: batchEntries(item as LedgerItem) };
  return { ...item, ...(item.c !== undefined ? { c: conversionOf(item) } : {}), ...(item.r !== undefined ? { r: routesOf(item) } : {}) };
}

/** Everything a running relay holds, read straight from its embedded DynamoDB and SQS: what the audits look at. */
const clientOpts = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };

export async function scanAllTables(relay: Pick<RelayProcess, 'dynamodbUrl'>): Promise<Record<string, Record<string, any>[]>> {
  const raw = new DynamoDBClient({ ...clientOpts, endpoint: relay.dynamodbUrl });
  const ddb = DynamoDBDocumentClient.from(raw);
  const out: Record<string, Record<string, any>[]> = {};
  for (const table of (await raw.send(new ListTablesCommand({}))).TableNames ?? []) {
    const items: Record<string, any>[] = [];
    let start: Record<string, any> | undefined;
    do {
      const res = await ddb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
      items.push(...(res.Items ?? []));
      start = res.LastEvaluatedKey;
    } while (start);
    out[table] = items;
  }
  return out;
}

export interface QueueSnapshot {
  name: string;
  /** Visible + in flight + delayed. */
  depth: number;
  messages: Message[];
}

/** Every queue (DLQs included) with every message in it, read without consuming: each is made visible again. */
export async function readAllQueues(relay: Pick<RelayProcess, 'sqsUrl'>, { withMessages = true } = {}): Promise<QueueSnapshot[]> {
  const sqs = new SQSClient({ ...clientOpts, endpoint: relay.sqsUrl });
  const urls = (await sqs.send(new ListQueuesCommand({}))).QueueUrls ?? [];
  const out: QueueSnapshot[] = [];
  for (const url of urls) {
    const attrs = (
      await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
        }),
      )
    ).Attributes ?? {};
    const depth = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'].reduce((n, k) => n + Number(attrs[k as keyof typeof attrs] ?? 0), 0);
    const messages = new Map<string, Message>();
    if (withMessages) {
      for (;;) {
        const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 30, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }));
        if (!res.Messages?.length) break;
        for (const m of res.Messages) messages.set(m.MessageId!, m);
      }
      const list = [...messages.values()];
      for (let i = 0; i < list.length; i += 10) {
        await sqs.send(
          new ChangeMessageVisibilityBatchCommand({ QueueUrl: url, Entries: list.slice(i, i + 10).map((m, k) => ({ Id: String(k), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 })) }),
        );
      }
    }
    out.push({ name: url.split('/').pop()!, depth, messages: [...messages.values()] });
  }
  return out;
}
