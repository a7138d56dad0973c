import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAwsFake, type AwsFake } from '../../bench/aws-fake.ts';
import { bundle } from '../../bench/build.ts';
import { functionEnv, unresolvedEnv, type LocalResources } from '../../bench/env.ts';
import { apiGatewayEvent, collectRequest, freshConversion, functionUrlEvent, sqsEvent, streamEvent } from '../../bench/fixtures.ts';
import { platformFakes, type PlatformFake } from '../../bench/platforms.ts';
import { synthesizeDeployment, type DeployedFunction } from '../../bench/stack.ts';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { FAN_OUT_FAILURES_ENV, dlqUrlEnv, queueUrlEnv, TABLE_ENV, VISITOR_COOKIE } from '../../functions/core/names.ts';
import { SNIPPET_ENTRY, destinations, sourceEntry, sources } from '../../functions/registry.ts';
import { startLocalDynamo, type LocalDynamo } from '../../lib/local/dynamo.ts';
import { startSqsServer, type SqsServer } from '../../lib/local/sqs-server.ts';
import { BUNDLING } from '../../lib/constructs/relay-function.ts';
import { runBundle, writeRuntimeNodeModules } from '../support/lambda-runtime.ts';
import { createDestinationQueues } from '../support/local-aws.ts';
import { readableItem } from '../support/storage.ts';
import { driverEnv, sourceDrivers, startDriverFakes } from '../support/source-requests.ts';

/**
 * Every function's bundle, exactly as `cdk synth` stages it for upload, imported in a fresh Node process whose only
 * node_modules are what Lambda's Node.js runtime provides (test/support/lambda-runtime.ts), with the environment the
 * synthesized template gives it (tables, queues and secret pointed at local servers), serving one realistic event:
 * the HTTP API's for collect and the snippet, the function URL's for the ingest functions (both payload 2.0), an SQS
 * batch for the senders. A bundle that would fail on Lambda — a
 * "Dynamic require of … is not supported", a package left external that the runtime lacks, a part missing from the
 * asset — fails here, naming the function. The functions come from the registry and the template: a new source or
 * destination is covered without touching this file (a source needs its driver in test/support/source-requests.ts;
 * a destination is served by its fake from bench/platforms.ts, or in dry-run without one).
 */

const HTTP_FUNCTIONS = ['collect', 'snippet'];
const expectedFunctions = () => [...HTTP_FUNCTIONS, 'fan-out', ...sources.map((s) => `ingest-${s.name}`), ...destinations.map((d) => `send-${d.name}`)];

let deployment: DeployedFunction[];
let work: string;
let runtimePackages: string[];
let dynamo: LocalDynamo;
let sqsServer: SqsServer;
let sqs: SQSClient;
let secrets: AwsFake;
let resources: LocalResources;
let stopDriverFakes: () => Promise<void>;
const fakes: Record<string, PlatformFake> = {};

const fn = (name: string) => {
  const found = deployment.find((f) => f.name === name);
  if (!found) throw new Error(`${name}: not in the synthesized template`);
  return found;
};
const run = (f: DeployedFunction, event: unknown, name = f.name) =>
  runBundle({ name, assetDir: f.assetDir!, runtimeDir: work, event, env: functionEnv(f, resources), memoryMb: f.memoryMb });

async function queueDepths(): Promise<number> {
  let total = 0;
  for (const d of destinations) {
    const attrs = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: process.env[queueUrlEnv(d.name)]!, AttributeNames: ['ApproximateNumberOfMessages'] }))).Attributes;
    total += Number(attrs?.ApproximateNumberOfMessages ?? 0);
  }
  return total;
}

/** Every item of a local table that mentions `text` (its attributes as DynamoDB JSON). */
async function itemsMentioning(table: keyof typeof TABLE_ENV, text: string): Promise<string[]> {
  const items = (await dynamo.client.send(new ScanCommand({ TableName: resources.tables[table] }))).Items ?? [];
  // The ledger's batch records decoded: their rows are compressed.
  return items.map((i) => JSON.stringify(readableItem(unmarshall(i)))).filter((s) => s.includes(text));
}

beforeAll(async () => {
  // One esbuild run per function, as `cdk synth` does it.
  deployment = synthesizeDeployment({ bundle: true }).functions;
  work = mkdtempSync(path.join(tmpdir(), 'relay-bundles-'));
  runtimePackages = writeRuntimeNodeModules(work);
  dynamo = await startLocalDynamo();
  sqsServer = await startSqsServer();
  sqs = await createDestinationQueues(sqsServer.url);
  process.env[FAN_OUT_FAILURES_ENV] = (await sqs.send(new CreateQueueCommand({ QueueName: 'fan-out-failures' }))).QueueUrl!;
  stopDriverFakes = await startDriverFakes();
  for (const d of destinations) if (platformFakes[d.name]) fakes[d.name] = await platformFakes[d.name]();
  // What each function's own secret would hold: the sources' signing secrets, the platforms' credentials.
  const settings: Record<string, string> = { ...driverEnv(), ...Object.assign({}, ...Object.values(fakes).map((f) => f.settings)) };
  secrets = await startAwsFake({ secret: settings });
  resources = {
    tables: { visitors: 'visitors', ledger: 'ledger' },
    queueUrls: Object.fromEntries([...destinations.flatMap((d) => [queueUrlEnv(d.name), dlqUrlEnv(d.name)]), FAN_OUT_FAILURES_ENV].map((v) => [v, process.env[v]!])),
    secretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:relay-bundles',
    endpoints: { dynamodb: dynamo.url, sqs: sqsServer.url, secretsmanager: secrets.url },
  };
}, 300_000);

afterAll(async () => {
  await Promise.all(Object.values(fakes).map((f) => f.close()));
  await stopDriverFakes?.();
  await secrets?.close();
  sqs?.destroy();
  await sqsServer?.close();
  await dynamo?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the Lambda runtime stand-in', () => {
  it('holds the AWS SDK v3 and its dependencies, and none of the packages the bundles must carry themselves', () => {
    expect(runtimePackages).toEqual(expect.arrayContaining(['@aws-sdk/client-dynamodb', '@aws-sdk/client-sqs', '@aws-sdk/client-secrets-manager']));
    expect(runtimePackages.some((p) => p.startsWith('@smithy/'))).toBe(true);
    for (const bundled of ['zod', 'stripe', '@middy/core', '@aws-lambda-powertools/logger', 'libphonenumber-js']) expect(runtimePackages).not.toContain(bundled);
  });

  it('is given every function of the template, each with its staged asset and every environment reference placed', () => {
    expect(deployment.map((f) => f.name).sort()).toEqual(expectedFunctions().sort());
    for (const f of deployment) {
      expect(f.assetDir, f.name).toBeDefined();
      functionEnv(f, resources);
    }
    expect([...unresolvedEnv], 'teach bench/env.ts functionEnv where these live locally').toEqual([]);
  });
});

describe('each bundle, imported as Lambda imports it, serves a realistic first event', () => {
  it('collect: POST /collect answers 200 with the visitor ID, sets its cookie and stores the visit', async () => {
    const { result } = await run(fn('collect'), apiGatewayEvent(collectRequest()));
    expect(result.statusCode, result.body).toBe(200);
    const { visitorId } = JSON.parse(result.body);
    expect(visitorId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.cookies).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^${VISITOR_COOKIE}=${visitorId};`))]));
    expect(await itemsMentioning('visitors', visitorId)).not.toEqual([]);
  });

  it('snippet: GET /t.js and GET /t.js?part=extra both answer 200 with their script', async () => {
    const snippet = fn('snippet');
    const get = (p: string) => apiGatewayEvent({ method: 'GET', path: p, headers: { 'user-agent': 'Mozilla/5.0' }, body: '' });
    const main = (await run(snippet, get('/t.js'))).result;
    const extra = (await run(snippet, get('/t.js?part=extra'))).result;
    for (const r of [main, extra]) {
      expect(r.statusCode, r.body).toBe(200);
      expect(r.headers['content-type']).toMatch(/^text\/javascript/);
      expect(r.body.length).toBeGreaterThan(200);
    }
    expect(extra.body).not.toBe(main.body);
  });

  it.each(sources.map((s) => s.name))('ingest-%s: a correctly signed purchase, by its function URL, answers 200 accepted and is committed to the ledger', async (source) => {
    const driver = sourceDrivers[source];
    expect(driver, `add a driver for ${source} to test/support/source-requests.ts`).toBeDefined();
    const req = driver.purchase({ id: `bundle_${source}_${randomUUID().slice(0, 8)}`, customer: { email: `buyer.${source}@example.com`, phone: '+1 415 555 0100' } });
    const { result } = await run(fn(`ingest-${source}`), functionUrlEvent({ ...req, body: String(req.body) }));
    expect(result.statusCode, result.body).toBe(200);
    expect(result.body).toMatch(/"accepted"/);
    const eventId: string = JSON.parse(result.body).conversions[0].eventId;
    expect((await itemsMentioning('ledger', `C#${eventId}`)).join('\n')).toMatch(/"accepted"/);
  });

  it('fan-out: a stream batch of two conversion items puts each on the queue of every destination it is queued for', async () => {
    const conversions = [freshConversion(), freshConversion()];
    const before = await queueDepths();
    const { result } = await run(fn('fan-out'), streamEvent(conversions, ['meta', 'tiktok']));
    expect(result?.batchItemFailures ?? 'no DynamoDBBatchResponse').toEqual([]);
    expect(await queueDepths()).toBe(before + 4);
  });

  it('ingest-stripe: its function URL answers 404 on any other path, committing nothing (the route check the HTTP API made)', async () => {
    const id = `bundle_path_${randomUUID().slice(0, 8)}`;
    const req = sourceDrivers.stripe.purchase({ id });
    const { result } = await run(fn('ingest-stripe'), functionUrlEvent({ ...req, path: '/webhooks/other', body: String(req.body) }));
    expect(result.statusCode, result.body).toBe(404);
    expect(JSON.parse(result.body).error).toBe('not_found');
    expect(await itemsMentioning('ledger', id)).toEqual([]);
  });

  it.each(destinations.map((d) => d.name))('send-%s: an SQS batch of one conversion leaves no batch item failure and its ledger entry', async (destination) => {
    const conversion = freshConversion();
    const fake = fakes[destination];
    fake?.reset();
    const { result } = await run(fn(`send-${destination}`), sqsEvent(destination, [conversion]));
    expect(result?.batchItemFailures ?? 'no SQSBatchResponse').toEqual([]);
    // Against its fake the platform received it; without one the destination ran in dry-run and recorded the payload.
    if (fake) expect(fake.arrivals().map((a) => a.eventId)).toContain(conversion.eventId);
    expect((await itemsMentioning('ledger', conversion.eventId)).join('\n')).toMatch(fake ? /"delivered"/ : /"dry_run"/);
  });
});

describe('the check fails a bundle that would fail on Lambda, naming the function', () => {
  it('a package the runtime does not provide, left external', async () => {
    const built = await bundle('bundles-test-zod-external', sourceEntry('stripe'), { external: [...BUNDLING.externalModules, 'zod'] });
    const stripe = fn('ingest-stripe');
    const event = functionUrlEvent(sourceDrivers.stripe.purchase({ id: `bundle_neg_${randomUUID().slice(0, 8)}` }) as any);
    await expect(runBundle({ name: 'ingest-stripe', assetDir: path.dirname(built.file), runtimeDir: work, event, env: functionEnv(stripe, resources) })).rejects.toThrow(
      /^ingest-stripe: the bundle did not load[\s\S]*Cannot find package 'zod'/,
    );
  });

  it('a CommonJS require bundled into ESM without the require shim ("Dynamic require of … is not supported")', async () => {
    // No function needs the shim today (their dependencies ship ESM); this handler uses a CommonJS module that
    // requires a Node built-in, as such a dependency would, bundled with BUNDLING but without its banner.
    writeFileSync(path.join(work, 'cjs-dependency.cjs'), "module.exports = () => require('node:os').platform();\n");
    const entry = path.join(work, 'cjs-handler.mjs');
    writeFileSync(entry, "import platform from './cjs-dependency.cjs';\nexport const handler = async () => ({ statusCode: 200, body: platform() });\n");
    const built = await bundle('bundles-test-no-require-shim', entry, { entryPoints: [entry], banner: {} });
    const event = apiGatewayEvent(collectRequest());
    await expect(runBundle({ name: 'cjs-fixture', assetDir: path.dirname(built.file), runtimeDir: work, event, env: functionEnv(fn('collect'), resources) })).rejects.toThrow(
      /^cjs-fixture: [\s\S]*Dynamic require of "node:os" is not supported/,
    );
  });

  it('a snippet bundle built without its compiled-in parts', async () => {
    const built = await bundle('bundles-test-snippet-without-parts', SNIPPET_ENTRY);
    const event = apiGatewayEvent({ method: 'GET', path: '/t.js', headers: {}, body: '' });
    await expect(runBundle({ name: 'snippet', assetDir: path.dirname(built.file), runtimeDir: work, event, env: functionEnv(fn('snippet'), resources) })).rejects.toThrow(
      /^snippet: the handler threw:[\s\S]*(Cannot find module|ERR_MODULE_NOT_FOUND)/,
    );
  });
});
