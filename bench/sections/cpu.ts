/**
 * CPU per webhook, on one core (one thread does everything, the AWS stand-in included):
 * - handler: each source's real Lambda handler (its bundle, as deployed) with the real AWS SDK clients against an
 *   in-memory AWS endpoint on loopback, next to the floor — signature check + JSON parse (+ decryption) + SHA-256 of
 *   the same identifiers with bare node:crypto + the same AWS SDK calls, made with bare clients;
 * - domain: the source's `read` + the ingest pipeline with in-memory ports, next to the floor without AWS calls.
 * Rounds alternate ours and the floor; each ratio is taken within a round, the median reported.
 * Writes JSON to the path in argv[2].
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { BatchGetItemCommand, BatchWriteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ingest, type IngestPorts } from '../../functions/core/ingest.ts';
import { parseConsentDefault } from '../../functions/core/consent.ts';
import { sha256Hex } from '../../functions/core/normalize.ts';
import { destinations, sources } from '../../functions/registry.ts';
import type { Source } from '../../functions/sources/types.ts';
import { PROJECT_ROOT } from '../../lib/constructs/relay-function.ts';
import { hotPathClient } from '../../functions/store/clients.ts';
import { startAwsFake, type AwsCall } from '../aws-fake.ts';
import { bundle } from '../build.ts';
import { functionEnv } from '../env.ts';
import { apiGatewayEvent, BENCH_VISITOR_ID, benchVisitor, lambdaContext, type HttpRequestSpec } from '../fixtures.ts';
import { EXPECTED_SOURCES, sourceBenches } from '../sources.ts';
import { startProfiler } from '../profiler.mjs';
import { median } from '../stats.ts';
import { synthesizeDeployment } from '../stack.ts';

const ROUNDS = Number(process.env.BENCH_CPU_ROUNDS ?? 5);
/** Requests per variant and round: ~300 handler requests in all per round, split across the sources measured (time budget). */
const measurable = sources.filter((s) => sourceBenches[s.name]).length || 1;
const PER_ROUND = Number(process.env.BENCH_CPU_REQUESTS ?? Math.max(100, Math.round(300 / measurable)));
/**
 * Requests per variant in the untimed first round: the figures are an execution environment's steady state, once V8
 * has compiled the hot code of ours and of the floor (over the first ~1000 webhooks their CPU per webhook halves, ours
 * from ~4.6 ms). That warm-up is reported beside them (`warmup`), not hidden: an environment pays it once.
 */
const WARMUP = Number(process.env.BENCH_CPU_WARMUP ?? 1000);
/** BENCH_CPU_SOURCES=stripe,crm: measure these sources only (the others are reported as not measured). */
const ONLY_SOURCES = process.env.BENCH_CPU_SOURCES ? new Set(process.env.BENCH_CPU_SOURCES.split(',')) : undefined;
/**
 * BENCH_CPU_PROFILE=<dir>: V8 CPU profiles of each source's handler runs and of its floor's, one per round
 * (`<source>.handler.<round>.cpuprofile`, `<source>.handlerFloor.<round>.cpuprofile`), through node:inspector — loaded
 * only then, so a run without it pays nothing.
 */
const PROFILE_DIR = process.env.BENCH_CPU_PROFILE;
const VISITOR_ID = BENCH_VISITOR_ID;
const CLICK_MS = Date.now() - 3600_000;

const out = process.argv[2];
// Handler logs would go to this process's stdout; they are part of the cost (Lambda writes them too), so keep them.
const deployment = synthesizeDeployment();
const registered = new Set(sources.map((s) => s.name));
const results: unknown[] = [];

const visitor = benchVisitor(CLICK_MS);
const visitorItem = {
  click_fbc: { M: { value: { S: visitor.clicks.fbc!.value }, capturedAt: { N: String(CLICK_MS) } } },
  click_fbp: { M: { value: { S: visitor.clicks.fbp!.value }, capturedAt: { N: String(CLICK_MS) } } },
  ip: { S: visitor.ip },
  userAgent: { S: visitor.userAgent },
  landingUrl: { S: visitor.landingUrl },
  firstSeenAt: { N: String(CLICK_MS) },
  lastSeenAt: { N: String(CLICK_MS) },
  ttl: { N: String(Math.floor(Date.now() / 1000) + 86400) },
};

for (const name of [...new Set([...EXPECTED_SOURCES, ...registered])]) {
  const fn = deployment.functions.find((f) => f.kind === 'ingest' && f.subject === name);
  const bench = sourceBenches[name];
  if (!registered.has(name) || !fn) {
    results.push({ source: name, status: 'not yet available', reason: `no source "${name}" in functions/registry.ts` });
    continue;
  }
  if (ONLY_SOURCES && !ONLY_SOURCES.has(name)) {
    results.push({ source: name, status: 'not measured', reason: 'left out by BENCH_CPU_SOURCES' });
    continue;
  }
  if (!bench) {
    results.push({ source: name, status: 'no bench request', reason: `add a floor for "${name}" to bench/sources.ts (its requests come from test/support/source-requests.ts)` });
    continue;
  }
  let stop: (() => Promise<void>) | undefined;
  try {
    stop = await bench.start?.();
    results.push(await measureSource(name, fn, bench));
  } catch (err) {
    results.push({ source: name, status: 'failed', reason: (err as Error).message.split('\n')[0] });
  } finally {
    await stop?.();
  }
}
writeFileSync(out, JSON.stringify({ rounds: ROUNDS, perRound: PER_ROUND, warmup: WARMUP, sources: results }, null, 2));
process.exit(0);

async function measureSource(name: string, fn: (typeof deployment.functions)[number], bench: (typeof sourceBenches)[string]) {
  const aws = await startAwsFake({ secret: bench.settings, visitorItem });
  const queueUrls = Object.fromEntries(
    Object.entries(fn.environment).filter(([k]) => k.startsWith('RELAY_QUEUE_URL_') || k.startsWith('RELAY_DLQ_URL_')).map(([k]) => [k, `${aws.url}/000000000000/${k.toLowerCase()}`]),
  );
  const env = functionEnv(fn, {
    tables: { visitors: 'visitors', ledger: 'ledger' },
    queueUrls,
    secretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:relay-bench',
    endpoints: { dynamodb: aws.url, sqs: aws.url, secretsmanager: aws.url },
  });
  Object.assign(process.env, env);
  const built = await bundle(fn.name, fn.entry);
  const { handler } = await import(`${pathToFileURL(built.file).href}?cpu`);
  const context = lambdaContext(fn.name, fn.memoryMb);

  // One real request first: which AWS calls does an accepted webhook make, and how many identifiers are hashed?
  const probe = bench.request({ visitorId: VISITOR_ID });
  aws.reset();
  const first = await handler(apiGatewayEvent(probe), context);
  if (first.statusCode !== 200 || !/"accepted"/.test(first.body)) throw new Error(`${name}: the probe webhook was not accepted: ${first.statusCode} ${first.body}`);
  aws.reset();
  const second = await handler(apiGatewayEvent(bench.request({ visitorId: VISITOR_ID })), context);
  if (second.statusCode !== 200) throw new Error(`${name}: second webhook: ${second.statusCode} ${second.body}`);
  const callsPerWebhook: AwsCall[] = aws.calls.slice();
  // The same webhook again, as a source's retry: what a duplicate costs.
  const again = bench.request({ visitorId: VISITOR_ID });
  await handler(apiGatewayEvent(again), context);
  aws.reset();
  // Another invocation (its own request ID), as a source's retry is.
  const duplicate = await handler(apiGatewayEvent(again), lambdaContext(fn.name, fn.memoryMb));
  if (duplicate.statusCode !== 200 || !/"duplicate"/.test(duplicate.body)) throw new Error(`${name}: the repeated webhook was not a duplicate: ${duplicate.statusCode} ${duplicate.body}`);
  const callsPerDuplicate = aws.calls.map(({ input: _input, ...c }) => c);
  aws.reset();

  const sourceModule = await import(pathToFileURL(path.join(PROJECT_ROOT, `functions/sources/${name}/index.ts`)).href);
  const source = Object.values(sourceModule).find((v): v is Source => typeof v === 'object' && v !== null && (v as Source).name === name && typeof (v as Source).read === 'function');
  if (!source) throw new Error(`${name}: functions/sources/${name}/index.ts exports no Source named "${name}"`);
  const identifiers = await hashedIdentifiers(source, bench.request({ visitorId: VISITOR_ID }), bench.settings);

  // The floor's AWS calls: the very requests our handler made (same operations, order and data), replayed with bare
  // low-level clients — what remains is the minimum any implementation pays for the same I/O.
  const creds = { region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } };
  const bare = { ddb: new DynamoDBClient({ ...creds, endpoint: aws.url }), sqs: new SQSClient({ ...creds, endpoint: aws.url }) };
  // The same calls on clients configured as the relay's are (functions/store/clients.ts: middleware stack cached, no SDK
  // logger middleware): a diagnostic, so the ratio's gain from those settings, which the bare floor lacks, is visible.
  const tuned = { ddb: hotPathClient(DynamoDBClient, { ...creds, endpoint: aws.url }), sqs: hotPathClient(SQSClient, { ...creds, endpoint: aws.url }) };
  const secrets = new SecretsManagerClient({ ...creds, endpoint: aws.url });
  let floorCommits = 0;
  const floorCall = (c: AwsCall, { ddb, sqs } = bare): Promise<unknown> => {
    const input = c.input as any;
    switch (c.operation) {
      case 'BatchGetItem': return ddb.send(new BatchGetItemCommand(input));
      case 'GetItem': return ddb.send(new GetItemCommand(input));
      // A commit replayed on its own key would meet the item it wrote: each replay commits a fresh key of the same size.
      case 'PutItem': return ddb.send(new PutItemCommand(input.ConditionExpression ? { ...input, Item: { ...input.Item, pk: { S: `${input.Item.pk.S.slice(0, -8)}${String(++floorCommits).padStart(8, '0')}` } } } : input));
      case 'UpdateItem': return ddb.send(new UpdateItemCommand(input));
      case 'BatchWriteItem': return ddb.send(new BatchWriteItemCommand(input));
      case 'SendMessage': return sqs.send(new SendMessageCommand(input));
      case 'SendMessageBatch': return sqs.send(new SendMessageBatchCommand(input));
      case 'GetSecretValue': return secrets.send(new GetSecretValueCommand(input));
      default: throw new Error(`bench: no floor call for ${c.service}.${c.operation}`);
    }
  };
  const memoryPorts: IngestPorts = {
    visitors: { find: async () => visitor },
    commit: async (conversion, routes, invocationId) => ({ kind: 'committed', receipt: { eventId: conversion.eventId, routes, invocationId } }),
    recordSkip: async () => undefined,
  };
  const routing = destinations.map((d) => ({ name: d.name, blocks: d.skipReason?.bind(d) }));
  const consentDefault = parseConsentDefault('granted');

  // What each variant is handed per request is built before its timed loop, as the requests are: the handler's API
  // Gateway event is Lambda's work, not our code's (still a fresh event per request, as each invocation gets).
  const variants: Record<'handler' | 'handlerFloor' | 'handlerFloorTuned' | 'domain' | 'domainFloor', Variant<unknown>> = {
    handler: variant({
      input: (r) => apiGatewayEvent(r),
      async run(event: APIGatewayProxyEventV2) {
        const res = await handler(event, context);
        if (res.statusCode !== 200) throw new Error(`${name}: ${res.statusCode} ${res.body}`);
      },
    }),
    handlerFloor: variant({
      input: (r) => r,
      async run(r: HttpRequestSpec) {
        await bench.floor(r, identifiers);
        for (const c of callsPerWebhook) await floorCall(c);
      },
    }),
    handlerFloorTuned: variant({
      input: (r) => r,
      async run(r: HttpRequestSpec) {
        await bench.floor(r, identifiers);
        for (const c of callsPerWebhook) await floorCall(c, tuned);
      },
    }),
    domain: variant({
      input: (r) => r,
      async run(r: HttpRequestSpec, i: number) {
        const result = await source.read({ method: r.method, path: r.path, headers: r.headers, query: {}, body: Buffer.from(r.body) }, bench.settings, new Date());
        await ingest(name, result, memoryPorts, { consentDefault, destinations: routing }, `inv-${i}`);
      },
    }),
    domainFloor: variant({
      input: (r) => r,
      async run(r: HttpRequestSpec) {
        await bench.floor(r, identifiers);
      },
    }),
  };
  type Name = keyof typeof variants;
  // Requests per second on one core = 1000 / CPU ms per request: this process's CPU time, which other work on the
  // machine inflates far less than wall time (the wall-clock rate is kept alongside).
  const perRound: Record<Name, { rps: number; wallRps: number; cpuMsPerRequest: number }[]> = { handler: [], handlerFloor: [], handlerFloorTuned: [], domain: [], domainFloor: [] };
  const profiler = PROFILE_DIR ? await startProfiler(100) : undefined;
  if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
  const warmup: Partial<Record<Name, number>> = {};
  for (let round = 0; round <= ROUNDS; round++) {
    for (const v of Object.keys(variants) as Name[]) {
      const requests = round === 0 ? WARMUP : PER_ROUND;
      const inputs = Array.from({ length: requests }, () => variants[v].input(bench.request({ visitorId: VISITOR_ID })));
      const profiled = profiler && (v === 'handler' || v === 'handlerFloor') && round > 0;
      if (profiled) await profiler.start();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < inputs.length; i++) await variants[v].run(inputs[i], i);
      const wall = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      if (profiled) await profiler.stop(path.join(PROFILE_DIR!, `${name}.${v}.${round}.cpuprofile`));
      const cpuMsPerRequest = (cpu.user + cpu.system) / 1000 / requests;
      if (round === 0) warmup[v] = cpuMsPerRequest;
      else perRound[v].push({ rps: 1000 / cpuMsPerRequest, wallRps: (PER_ROUND / wall) * 1000, cpuMsPerRequest });
      aws.reset();
    }
  }
  await aws.close();

  const summary = (v: Name) => ({
    requestsPerSecond: median(perRound[v].map((r) => r.rps)),
    wallRequestsPerSecond: median(perRound[v].map((r) => r.wallRps)),
    cpuMsPerRequest: median(perRound[v].map((r) => r.cpuMsPerRequest)),
  });
  const ratio = (ours: Name, floor: Name) => median(perRound[ours].map((r, i) => perRound[floor][i].rps / r.rps));
  return {
    source: name,
    status: 'measured',
    function: fn.name,
    memoryMb: fn.memoryMb,
    identifiersHashed: identifiers,
    awsCallsPerWebhook: callsPerWebhook.map(({ input: _input, ...c }) => c),
    awsCallsPerDuplicate: callsPerDuplicate,
    handler: summary('handler'),
    handlerFloor: summary('handlerFloor'),
    handlerRatio: ratio('handler', 'handlerFloor'),
    handlerFloorTuned: summary('handlerFloorTuned'),
    handlerRatioTuned: ratio('handler', 'handlerFloorTuned'),
    warmup: { requests: WARMUP, handlerCpuMsPerRequest: warmup.handler, handlerFloorCpuMsPerRequest: warmup.handlerFloor },
    domain: summary('domain'),
    domainFloor: summary('domainFloor'),
    domainRatio: ratio('domain', 'domainFloor'),
  };
}

/** A variant measured: what it is handed per request (built untimed) and what is timed. */
interface Variant<T> {
  input(r: HttpRequestSpec): T;
  run(input: T, i: number): Promise<void>;
}
/** `v` as a Variant, its input's type checked against what `run` takes (a function declaration: the loop above calls it first). */
function variant<T>(v: Variant<T>): Variant<T> {
  return v;
}

/** How many SHA-256 values our conversion carries for this request (the floor hashes as many). */
async function hashedIdentifiers(source: Source, r: HttpRequestSpec, settings: Record<string, string>): Promise<number> {
  const result = await source.read({ method: r.method, path: r.path, headers: r.headers, query: {}, body: Buffer.from(r.body) }, settings, new Date());
  if (result.kind !== 'conversions') throw new Error('bench request was not a conversion');
  let n = 0;
  for (const draft of result.conversions) {
    n += Object.values(draft.user).filter((v) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v)).length;
    if (!draft.user.externalId && (draft.visitorId ?? VISITOR_ID)) n += sha256Hex('x') ? 1 : 0; // attachVisitor hashes the visitor ID
  }
  return n;
}
