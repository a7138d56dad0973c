import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An in-memory stand-in for the AWS endpoints the functions call (DynamoDB, SQS, Secrets Manager JSON protocols), on
 * loopback, answering at once. It lets the CPU and batching benches run the real handlers with the real AWS SDK
 * clients while I/O costs nothing, and it counts every call (operation, items, item sizes) for the cost model.
 */
export interface AwsCall {
  service: 'dynamodb' | 'sqs' | 'secretsmanager';
  operation: string;
  /** DynamoDB table(s) or SQS queue the call addressed. */
  target: string;
  /** DynamoDB: items written (with their approximate sizes in bytes) and keys read. */
  writes: number[];
  reads: number;
  /** SQS: messages sent and the request body size. */
  messages: number;
  bytes: number;
  /** The request as sent (the low-level API input: AttributeValue maps, message attributes, …). */
  input: Record<string, unknown>;
}

export interface AwsFake {
  url: string;
  calls: AwsCall[];
  reset(): void;
  close(): Promise<void>;
}

export interface AwsFakeOptions {
  /** JSON object returned as the SecretString of any GetSecretValue. */
  secret?: Record<string, string>;
  /** Marshalled item returned by BatchGetItem / GetItem for a `V#…` key (a known visitor with clicks). */
  visitorItem?: Record<string, unknown>;
}

const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

/** DynamoDB's item size rule, approximately: attribute names + values (UTF-8), numbers ~1 byte per 2 digits. */
export function dynamoItemBytes(item: Record<string, any>): number {
  let total = 0;
  for (const [name, value] of Object.entries(item ?? {})) total += Buffer.byteLength(name) + valueBytes(value);
  return total;
}
function valueBytes(v: Record<string, any>): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S);
  if (v.N !== undefined) return Math.ceil(String(v.N).replace(/[-.]/g, '').length / 2) + 1;
  if (v.B !== undefined) return Buffer.from(v.B, 'base64').length;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.M !== undefined) return 3 + Object.entries(v.M).reduce((n, [k, x]) => n + Buffer.byteLength(k) + valueBytes(x as any) + 1, 0);
  if (v.L !== undefined) return 3 + (v.L as any[]).reduce((n, x) => n + valueBytes(x) + 1, 0);
  if (v.SS !== undefined) return (v.SS as string[]).reduce((n, s) => n + Buffer.byteLength(s), 0);
  return 0;
}

export async function startAwsFake(opts: AwsFakeOptions = {}): Promise<AwsFake> {
  const calls: AwsCall[] = [];
  // E-mail / phone → visitor links (`E#…`, `P#…`) written by PutItem are kept and read back, as DynamoDB would:
  // the bench's customer buys again, and a stored link is not rewritten.
  const links = new Map<string, Record<string, unknown>>();
  // Ledger conversion items (`C#…` / `conversion`) by key: a commit's condition fails on one that exists, returning it.
  const ledgerItems = new Map<string, Record<string, any>>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const body = raw ? JSON.parse(raw) : {};
      const [prefix, operation] = String(req.headers['x-amz-target'] ?? '').split('.');
      const target = String(body.TableName ?? (body.RequestItems ? Object.keys(body.RequestItems).join('+') : '') ?? '') || String(body.QueueUrl ?? '').split('/').pop() || '';
      const call: AwsCall = { service: 'dynamodb', operation, target, writes: [], reads: 0, messages: 0, bytes: raw.length, input: body };
      let answer: unknown = {};
      if (prefix.startsWith('DynamoDB')) {
        call.service = 'dynamodb';
        const key = `${body.Item?.pk?.S}|${body.Item?.sk?.S}`;
        if (operation === 'PutItem' && body.ConditionExpression === 'attribute_not_exists(pk)' && ledgerItems.has(key)) {
          // A duplicate's commit: DynamoDB charges the failed write and returns the item that failed the condition.
          call.writes.push(dynamoItemBytes(ledgerItems.get(key)!));
          calls.push(call);
          const old = body.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' ? { Item: ledgerItems.get(key) } : {};
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException', message: 'The conditional request failed', ...old }));
          return;
        }
        answer = dynamo(operation, body, call, opts, links);
        for (const item of writtenItems(operation, body)) if (String(item.pk?.S).startsWith('C#') && item.sk?.S === 'conversion') ledgerItems.set(`${item.pk.S}|${item.sk.S}`, item);
      } else if (prefix === 'AmazonSQS') {
        call.service = 'sqs';
        answer = sqs(operation, body, call);
      } else if (prefix === 'secretsmanager') {
        call.service = 'secretsmanager';
        answer = { ARN: body.SecretId, Name: 'bench', VersionId: randomUUID(), SecretString: JSON.stringify(opts.secret ?? {}), CreatedDate: Date.now() / 1000 };
      } else {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify({ __type: 'UnknownOperationException', message: String(req.headers['x-amz-target']) }));
        return;
      }
      calls.push(call);
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID() }).end(JSON.stringify(answer));
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    reset: () => void (calls.length = 0),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function writtenItems(operation: string, body: any): any[] {
  if (operation === 'PutItem') return [body.Item];
  if (operation === 'BatchWriteItem') return (Object.values(body.RequestItems ?? {}) as any[]).flat().flatMap((r: any) => (r.PutRequest ? [r.PutRequest.Item] : []));
  return [];
}

function dynamo(operation: string, body: any, call: AwsCall, opts: AwsFakeOptions, links: Map<string, Record<string, unknown>>): unknown {
  const isLink = (pk: unknown) => /^[EP]#/.test(String(pk ?? ''));
  switch (operation) {
    case 'PutItem':
      call.writes.push(dynamoItemBytes(body.Item));
      if (isLink(body.Item?.pk?.S)) links.set(body.Item.pk.S, body.Item);
      return {};
    case 'DeleteItem':
      call.writes.push(dynamoItemBytes(body.Key));
      return {};
    case 'UpdateItem':
      // The written item's size is unknown here; key + new values is its lower bound.
      call.writes.push(dynamoItemBytes(body.Key) + dynamoItemBytes(body.ExpressionAttributeValues ?? {}));
      return {};
    case 'BatchWriteItem':
      for (const requests of Object.values(body.RequestItems ?? {}) as any[]) {
        for (const r of requests) {
          call.writes.push(dynamoItemBytes(r.PutRequest?.Item ?? r.DeleteRequest?.Key));
          if (isLink(r.PutRequest?.Item?.pk?.S)) links.set(r.PutRequest.Item.pk.S, r.PutRequest.Item);
        }
      }
      return { UnprocessedItems: {} };
    case 'GetItem':
      call.reads = 1;
      return String(body.Key?.pk?.S ?? '').startsWith('V#') && opts.visitorItem ? { Item: { ...opts.visitorItem, pk: body.Key.pk } } : {};
    case 'BatchGetItem': {
      const responses: Record<string, unknown[]> = {};
      for (const [table, spec] of Object.entries(body.RequestItems ?? {}) as [string, any][]) {
        call.reads += spec.Keys.length;
        responses[table] = [
          ...(opts.visitorItem ? spec.Keys.filter((k: any) => String(k.pk?.S).startsWith('V#')).map((k: any) => ({ ...opts.visitorItem, pk: k.pk })) : []),
          ...spec.Keys.flatMap((k: any) => (isLink(k.pk?.S) && links.has(k.pk.S) ? [links.get(k.pk.S)] : [])),
        ];
      }
      return { Responses: responses, UnprocessedKeys: {} };
    }
    default:
      return {};
  }
}

function sqs(operation: string, body: any, call: AwsCall): unknown {
  switch (operation) {
    case 'SendMessage':
      call.messages = 1;
      return { MessageId: randomUUID(), MD5OfMessageBody: md5(body.MessageBody) };
    case 'SendMessageBatch':
      call.messages = body.Entries.length;
      return { Successful: body.Entries.map((e: any) => ({ Id: e.Id, MessageId: randomUUID(), MD5OfMessageBody: md5(e.MessageBody) })), Failed: [] };
    case 'ChangeMessageVisibilityBatch':
    case 'DeleteMessageBatch':
      return { Successful: body.Entries.map((e: any) => ({ Id: e.Id })), Failed: [] };
    default:
      return {};
  }
}
