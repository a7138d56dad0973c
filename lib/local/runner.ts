import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MAPPING_SETTING, parseMapping } from '../../functions/core/mapping.ts';
import { DEFAULT_MAX_ATTEMPTS, FAN_OUT_FAILURES_ENV, MAX_ATTEMPTS_ENV, dlqUrlEnv, queueUrlEnv, redriveMaxReceiveCount } from '../../functions/core/names.ts';
import { COLLECT_ENTRY, SNIPPET_ENTRY, destinations, sourceEntry, sources } from '../../functions/registry.ts';
import { PROJECT_ROOT } from '../project-root.ts';
import { startDeliveryThread } from './delivery.ts';
import { RUNNER_DISCOVERY_FILE, type RunnerDiscovery } from './discovery.ts';
import { localDynamoEnvironment } from './dynamo.ts';
import { startEmulatorThread } from './emulators.ts';
import { httpEvent } from './http-event.ts';
import { LOCAL_REGION as REGION, lambdaContext } from './lambda-context.ts';
import { compactJournal } from './stream.ts';

/**
 * The relay on a laptop: the same Lambda handlers, unchanged, behind a local HTTP server, with dynalite for
 * DynamoDB, our small SQS-compatible server for the queues (both on disk under the data directory, each on its own
 * worker thread: lib/local/emulators.ts), the ledger's stream as a journal beside dynalite's files feeding the
 * fan-out (lib/local/stream.ts), and pollers that do what Lambda's event source mappings do — the fan-out's and the
 * senders', on a delivery thread (lib/local/delivery.ts), so the HTTP functions have the main thread. The AWS SDK
 * clients inside the handlers find these through AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SQS, so no handler
 * knows it runs locally.
 */
export interface RunnerOptions {
  port?: number;
  host?: string;
  dataDir: string;
  /** How long a sender's poller waits to fill a batch (Lambda's batching window; the stack's is 5 s). Default 150 ms. */
  batchingWindowMs?: number;
  /**
   * The ledger stream's batching window (the stack's is 1 s): commits arriving within it reach the fan-out as one
   * invocation, which sends each destination's messages ten per request. Default 100 ms.
   */
  streamBatchingWindowMs?: number;
  /** Queue visibility timeout: how long a message stays hidden after a crash mid-batch. */
  visibilityTimeoutSeconds?: number;
  /**
   * false: the ledger stream is not read (as when the stack's stream event source mapping is disabled): committed
   * conversions wait in the journal for a runner that reads it. Default true.
   */
  fanOut?: boolean;
  /** First retry delay of a failing stream batch, doubled each retry up to 5 s (default 200 ms; tests shorten it). */
  fanOutRetryBaseMs?: number;
  log?: (line: string) => void;
}

export interface Runner {
  url: string;
  port: number;
  /** Each destination's queue and DLQ URLs. */
  queues: Record<string, { url: string; dlqUrl: string }>;
  /** Where the embedded DynamoDB-compatible and SQS-compatible servers listen (for the CLI and tests). */
  endpoints: { dynamodb: string; sqs: string };
  close(): Promise<void>;
}

type HttpHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

const MAX_REQUEST_BYTES = 1024 * 1024;
const STREAM_BATCHING_WINDOW_MS = 100;

export async function startRunner(opts: RunnerOptions): Promise<Runner> {
  const log = opts.log ?? ((line: string) => console.log(line));
  // A bad mapping fails here, naming the key, rather than on the first webhook.
  parseMapping(process.env[MAPPING_SETTING], { sources: sources.map((s) => s.name), destinations: destinations.map((d) => d.name) });
  mkdirSync(opts.dataDir, { recursive: true });

  // The ledger's stream: journaled by the DynamoDB emulator as it commits, read by the fan-out's poller below.
  const streamJournal = path.join(opts.dataDir, 'ledger-stream.jsonl');
  const streamCheckpoint = path.join(opts.dataDir, 'ledger-stream.checkpoint');
  compactJournal(streamJournal, streamCheckpoint);
  // The DynamoDB thread says when it journaled a commit: the fan-out's poller reads at once instead of polling.
  let streamAppended = () => {};
  const [dynamoServer, sqsServer] = await Promise.all([
    startEmulatorThread({ kind: 'dynamodb', dir: path.join(opts.dataDir, 'dynamodb'), region: REGION, streamJournal }, { onStreamAppend: () => streamAppended() }),
    startEmulatorThread({ kind: 'sqs', options: { dataFile: path.join(opts.dataDir, 'sqs.journal'), region: REGION } }),
  ]);

  // Environment the handlers read; real AWS credentials are never needed nor used.
  Object.assign(process.env, {
    AWS_REGION: process.env.AWS_REGION ?? REGION,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_SQS: sqsServer.url,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
    ...localDynamoEnvironment(dynamoServer.url),
  });
  delete process.env.RELAY_SECRET_ARN;
  const maxAttempts = Number(process.env[MAX_ATTEMPTS_ENV] ?? DEFAULT_MAX_ATTEMPTS);
  process.env[MAX_ATTEMPTS_ENV] = String(maxAttempts);

  const sqs = new SQSClient({ endpoint: sqsServer.url, region: REGION });
  const visibility = opts.visibilityTimeoutSeconds ?? 60;
  const queues: Runner['queues'] = {};
  for (const d of destinations) {
    const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${d.name}-dlq` }))).QueueUrl!;
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    const url = (
      await sqs.send(
        new CreateQueueCommand({
          QueueName: d.name,
          Attributes: {
            VisibilityTimeout: String(visibility),
            RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: redriveMaxReceiveCount(maxAttempts) }),
          },
        }),
      )
    ).QueueUrl!;
    queues[d.name] = { url, dlqUrl };
    process.env[queueUrlEnv(d.name)] = url;
    process.env[dlqUrlEnv(d.name)] = dlqUrl;
  }

  const fanOutFailuresUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'fan-out-failures' }))).QueueUrl!;
  process.env[FAN_OUT_FAILURES_ENV] = fanOutFailuresUrl;

  // Only now, with the environment complete, load the handlers (they create their clients at import).
  const load = async <T>(entry: string): Promise<T> => (await import(pathToFileURL(path.join(PROJECT_ROOT, entry)).href)).handler as T;
  // The browser's endpoints sit behind the HTTP API (route keys); each source's webhooks reach its function URL,
  // which takes every method and path (the handler checks its routes), as in the stack.
  const routes: Routes = { api: new Map(), functionUrls: new Map() };
  const collect = await load<HttpHandler>(COLLECT_ENTRY);
  routes.api.set('POST /collect', collect);
  routes.api.set('OPTIONS /collect', collect);
  routes.api.set('GET /t.js', await load<HttpHandler>(SNIPPET_ENTRY));
  for (const s of sources) {
    const h = await load<HttpHandler>(sourceEntry(s.name));
    for (const r of s.routes) routes.functionUrls.set(r.path, h);
  }

  const server = createServer((req, res) => {
    serve(routes, req, res).catch((err) => {
      log(`local runner: ${req.method} ${req.url} failed: ${(err as Error).message}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'internal_error' }));
    });
  });
  // Idle keep-alive sockets are closed by the client first (fetch/undici: 4 s), never by us while a client reuses one
  // (Node's default 5 s races with that under load and fails a request with "other side closed").
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve) => server.listen(opts.port ?? 3000, opts.host ?? '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  // The fan-out and the senders, on their own thread (lib/local/delivery.ts), with the environment as complete as
  // the HTTP functions saw it.
  const delivery = await startDeliveryThread(
    {
      queues: Object.fromEntries(Object.entries(queues).map(([name, q]) => [name, q.url])),
      fanOutFailuresUrl,
      streamJournal,
      streamCheckpoint,
      fanOut: opts.fanOut !== false,
      batchingWindowMs: opts.batchingWindowMs ?? 150,
      streamBatchingWindowMs: opts.streamBatchingWindowMs ?? STREAM_BATCHING_WINDOW_MS,
      visibilitySeconds: visibility,
      ...(opts.fanOutRetryBaseMs !== undefined ? { fanOutRetryBaseMs: opts.fanOutRetryBaseMs } : {}),
    },
    sqsServer.consumerPort(),
    log,
  );
  streamAppended = () => delivery.notifyStream();

  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  const endpoints = { dynamodb: dynamoServer.url, sqs: sqsServer.url };
  // How the operator CLI (bin/cli.ts) finds this runner: ports are ephemeral, the data directory is not.
  const discoveryFile = path.join(opts.dataDir, RUNNER_DISCOVERY_FILE);
  const discovery: RunnerDiscovery = { pid: process.pid, url, endpoints, queues, tables: { visitors: 'visitors', ledger: 'ledger' }, fanOutFailures: fanOutFailuresUrl };
  writeFileSync(discoveryFile, JSON.stringify(discovery, null, 2));
  return {
    url,
    port,
    queues,
    endpoints,
    async close() {
      rmSync(discoveryFile, { force: true });
      await delivery.close();
      await closeServer(server);
      await sqsServer.close();
      await dynamoServer.close();
    },
  };
}

/** The HTTP functions' timeout in the stack (lib/constructs/ingest-endpoint.ts). */
const HTTP_FUNCTION_TIMEOUT_MS = 15_000;

interface Routes {
  /** HTTP API route keys (`POST /collect`) and their functions. */
  api: Map<string, HttpHandler>;
  /** Webhook paths and the function whose URL serves them (`/webhooks/stripe`). */
  functionUrls: Map<string, HttpHandler>;
}

/** An HTTP request → the payload-2.0 event its front door builds (function URL or HTTP API), and the result back. */
async function serve(routes: Routes, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://local');
  const routeKey = `${req.method} ${url.pathname}`;
  if (req.method === 'GET' && url.pathname === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    return;
  }
  const apiHandler = routes.api.get(routeKey);
  const handler = apiHandler ?? routes.functionUrls.get(url.pathname);
  if (!handler) {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not_found', message: `no route for ${routeKey}` }));
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    // API Gateway and function URLs refuse large payloads before any function runs; so do we.
    if (size > MAX_REQUEST_BYTES) {
      res.writeHead(413, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify({ error: 'body_too_large' }));
      req.destroy();
      return;
    }
    chunks.push(chunk as Buffer);
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && k !== 'cookie') headers[k] = Array.isArray(v) ? v.join(',') : v;
  const event = httpEvent(
    {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers,
      cookies: req.headers.cookie ? req.headers.cookie.split(/;\s*/).filter(Boolean) : undefined,
      body: Buffer.concat(chunks),
      sourceIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
      protocol: `HTTP/${req.httpVersion}`,
    },
    apiHandler ? 'http-api' : 'function-url',
  );
  const result = await handler(event, lambdaContext(routeKey.replace(/\W+/g, '-'), HTTP_FUNCTION_TIMEOUT_MS));
  const outHeaders: Record<string, string | string[]> = { ...(result.headers as Record<string, string>) };
  if (result.cookies?.length) outHeaders['set-cookie'] = result.cookies;
  res.writeHead(result.statusCode ?? 200, outHeaders).end(result.isBase64Encoded ? Buffer.from(result.body ?? '', 'base64') : (result.body ?? ''));
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}
