import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { destinationRows } from '../../functions/store/ledger-items.ts';
import { readConversions } from '../../functions/store/ledger-reader.ts';
import { readableItem, writeConversionItem } from './storage.ts';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The relay as a user runs it: `npm start`'s entry point (bin/local.ts) in its own process, on an ephemeral port,
 * with its data in a directory the test owns. Every line it writes is kept (logs are checked for PII and secrets).
 */
export interface RelayProcess {
  url: string;
  dynamodbUrl: string;
  sqsUrl: string;
  output: string[];
  child: ChildProcess;
  /** Graceful stop (SIGTERM). */
  stop(): Promise<void>;
  /** Crash: SIGKILL, nothing flushed. */
  kill(): Promise<void>;
  /** Every ledger item (one Scan page), batch records decoded (storage.ts readableItem). */
  ledger(): Promise<Record<string, any>[]>;
  /** The conversion's row per destination (ledger-items.ts destinationRows); with `destination`, only that one. */
  ledgerFor(eventId: string, destination?: string): Promise<Record<string, any>[]>;
  /** Writes the conversion item ingest would (storage.ts writeConversionItem), for a test that queues the message itself. */
  accepted(conversion: Record<string, unknown>, destinations: string[]): Promise<void>;
  queueDepth(destination: string): Promise<number>;
  dlqMessages(destination: string): Promise<{ body: any; attributes: Record<string, string> }[]>;
  waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs?: number, what?: string): Promise<T>;
}

/** `nodeArgs`: Node options before the entry point (the bench's `--cpu-prof`, which NODE_OPTIONS does not take). */
export async function startRelay(env: Record<string, string | undefined>, dataDir: string, nodeArgs: string[] = []): Promise<RelayProcess> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'bin/local.ts'], {
    cwd: PROJECT_ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: '0',
      RELAY_DATA_DIR: dataDir,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let pending = '';
  const onData = (buf: Buffer) => {
    pending += buf.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop()!;
    output.push(...lines);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const started = Date.now();
  while (!output.some((l) => l.startsWith('storage:'))) {
    if (child.exitCode !== null) throw new Error(`relay exited during start:\n${output.join('\n')}`);
    // 60 s: on a loaded machine (load average 20 on 2 cores) a start alone takes 13–19 s, more during a fault scenario.
    if (Date.now() - started > 60_000) throw new Error(`relay did not start in 60 s:\n${output.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = /listening on (\S+)/.exec(output.join('\n'))![1];
  const [, dynamodbUrl, sqsUrl] = /storage: dynamodb (\S+)\s+sqs (\S+)/.exec(output.join('\n'))!;
  const clientOpts = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ ...clientOpts, endpoint: dynamodbUrl }));
  const sqs = new SQSClient({ ...clientOpts, endpoint: sqsUrl });
  const queueUrl = (name: string) => `${sqsUrl}/000000000000/${name}`;

  const relay: RelayProcess = {
    url,
    dynamodbUrl,
    sqsUrl,
    output,
    child,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    async ledger() {
      return ((await ddb.send(new ScanCommand({ TableName: 'ledger' }))).Items ?? []).map(readableItem);
    },
    async ledgerFor(eventId, destination) {
      // Each destination's state as every ledger reader sees it (ledger-reader.ts): its newest row — the sender's own,
      // or its entry in a batch record — else its route on the conversion item.
      const items = (await readConversions(ddb, 'ledger', [eventId], { consistent: true })).get(eventId) ?? [];
      return destinationRows(items).filter((r) => destination === undefined || r.sk === `D#${destination}`);
    },
    async accepted(conversion, destinations) {
      await writeConversionItem(ddb, conversion, destinations);
    },
    async queueDepth(destination) {
      const res = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl(destination), AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      return Number(res.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(res.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
    },
    async dlqMessages(destination) {
      // Peek: a zero visibility timeout leaves them in the DLQ for the next look.
      const res = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl(`${destination}-dlq`), MaxNumberOfMessages: 10, VisibilityTimeout: 0, MessageAttributeNames: ['All'] }),
      );
      return (res.Messages ?? []).map((m) => ({
        body: JSON.parse(m.Body ?? 'null'),
        attributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? ''])),
      }));
    },
    async waitFor(probe, timeoutMs = 15_000, what = 'condition') {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const v = await probe();
        if (v) return v as never;
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}\nrelay output:\n${output.slice(-40).join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
  return relay;
}
