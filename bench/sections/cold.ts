/**
 * Cold start per Lambda: a fresh Node process imports the function's bundle (built exactly as the stack builds it)
 * and serves its first event, timed from spawn to the answer (not to the process's exit, also recorded) against the local runner's DynamoDB (dynalite) and SQS servers, a Secrets Manager
 * stand-in and the fake Meta API; next to `node -e 0` and the kitchen-sink reference, alternating round by round.
 * Also each function's memory after its first event. Writes JSON to the path in argv[2].
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startRunner } from '../../lib/local/runner.ts';
import { startMetaFake } from '../../test/fakes/meta-server.ts';
import { startDriverFakes } from '../../test/support/source-requests.ts';
import { startAwsFake } from '../aws-fake.ts';
import { bundle, REFERENCE_BUILD, REFERENCE_ENTRY, type BuiltBundle } from '../build.ts';
import { functionEnv, lambdaRuntimeEnv, unresolvedEnv, type LocalResources } from '../env.ts';
import { apiGatewayEvent, collectRequest, freshConversion, sqsEvent, streamEvent } from '../fixtures.ts';
import { FAN_OUT_FAILURES_ENV } from '../../functions/core/names.ts';
import { sourceBenches } from '../sources.ts';
import { median } from '../stats.ts';
import { synthesizeDeployment, type DeployedFunction } from '../stack.ts';

const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 12);
/** BENCH_COLD_FUNCTIONS=collect,ingest-stripe: only these functions (with the baseline and the reference), for quick iterations. */
const ONLY_FUNCTIONS = process.env.BENCH_COLD_FUNCTIONS ? new Set(process.env.BENCH_COLD_FUNCTIONS.split(',')) : undefined;
const PIXEL_ID = '1234567890123';
const META_TOKEN = 'EAAB-bench-token';
/** BENCH_COLD_PROFILE=<dir>: each cold process also writes there a V8 CPU profile of its import and one of its first event. */
const PROFILE_DIR = process.env.BENCH_COLD_PROFILE;
if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
/**
 * BENCH_COLD_AGAINST=<checkout>[,<checkout>…]: each function is also built from these other checkouts of the project
 * (another branch, the commit before a change) and run in the same rounds, so a change is compared under the same
 * load (this machine's load moves ratios more than most changes do between two runs).
 */
const AGAINST = process.env.BENCH_COLD_AGAINST ? process.env.BENCH_COLD_AGAINST.split(',').map((d) => path.resolve(d)) : [];
const DRIVER = path.join(import.meta.dirname, '../cold-driver.mjs');

interface Variant {
  name: string;
  kind: 'baseline' | 'function' | 'reference' | 'diagnostic';
  /** A diagnostic's ratio is taken against this variant (default: the reference). */
  against?: string;
  fn?: DeployedFunction;
  bundle?: BuiltBundle;
  env: Record<string, string>;
  /** A fresh first event for one run, and how to tell it was served. */
  event?: () => { event: unknown; check: (result: any) => string | undefined };
}

/**
 * `wallMs`: spawn to the moment the first event is answered (the driver says so on fd 3), what Lambda counts as cold
 * start + first event; for `node -e 0`, spawn to exit. `exitedMs`: spawn to the process's exit, for comparison.
 */
interface Run { wallMs: number; exitedMs?: number; bootMs?: number; importMs?: number; firstEventMs?: number; rss?: number; peakRss?: number; failure?: string }

const out = process.argv[2];
// The runner's in-process handlers log to this process's stdout; only the cold processes matter here.
process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
const deployment = synthesizeDeployment();
const work = mkdtempSync(path.join(tmpdir(), 'relay-bench-cold-'));
const meta = await startMetaFake({ pixelId: PIXEL_ID, accessToken: META_TOKEN });
const settings: Record<string, string> = { META_PIXEL_ID: PIXEL_ID, META_ACCESS_TOKEN: META_TOKEN, META_API_BASE_URL: meta.baseUrl };
// The sources' own fakes (HubSpot's CRM API) first: their settings carry the fakes' addresses.
const stopSourceFakes = await startDriverFakes();
for (const s of Object.values(sourceBenches)) Object.assign(settings, s.settings);
const secrets = await startAwsFake({ secret: settings });
const runner = await startRunner({ dataDir: path.join(work, 'data'), port: 0, log: () => undefined });

try {
  const sqs = new SQSClient({ endpoint: runner.endpoints.sqs, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
  const referenceQueue = (await sqs.send(new CreateQueueCommand({ QueueName: 'bench-reference' }))).QueueUrl!;
  // The reference keeps Powertools idempotency and its own table (the relay folded it into the ledger).
  const ddb = new DynamoDBClient({ endpoint: runner.endpoints.dynamodb, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
  await ddb.send(new CreateTableCommand({ TableName: 'bench-reference-idempotency', KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
  const queueUrls: Record<string, string> = {};
  for (const [name, q] of Object.entries(runner.queues)) {
    queueUrls[`RELAY_QUEUE_URL_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = q.url;
    queueUrls[`RELAY_DLQ_URL_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = q.dlqUrl;
  }
  // The fan-out's failure queue (the runner creates it and says where in its own environment).
  queueUrls[FAN_OUT_FAILURES_ENV] = process.env[FAN_OUT_FAILURES_ENV]!;
  const resources: LocalResources = {
    tables: { visitors: 'visitors', ledger: 'ledger' },
    queueUrls,
    secretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:relay-bench',
    endpoints: { dynamodb: runner.endpoints.dynamodb, sqs: runner.endpoints.sqs, secretsmanager: secrets.url },
  };

  const accepted = (r: any) => (r?.statusCode === 200 && /"accepted"/.test(r.body) ? undefined : `answered ${r?.statusCode}: ${String(r?.body).slice(0, 200)}`);
  const variants: Variant[] = [{ name: 'node -e 0', kind: 'baseline', env: lambdaRuntimeEnv(resources) }];
  const skipped: { name: string; reason: string }[] = [];
  let stripeEnv: Record<string, string> | undefined;
  for (const fn of deployment.functions) {
    if (ONLY_FUNCTIONS && !ONLY_FUNCTIONS.has(fn.name) && !(fn.kind === 'ingest' && fn.subject === 'stripe')) continue;
    const env = functionEnv(fn, resources);
    let event: Variant['event'];
    if (fn.kind === 'other' || fn.kind === 'snippet') {
      skipped.push({ name: fn.name, reason: 'a function the bench has no first event for (teach bench/sections/cold.ts)' });
      continue;
    }
    if (fn.kind === 'collect') {
      event = () => ({ event: apiGatewayEvent(collectRequest()), check: (r) => (r?.statusCode === 200 ? undefined : `answered ${r?.statusCode}`) });
    } else if (fn.kind === 'ingest') {
      const source = sourceBenches[fn.subject];
      if (!source) {
        skipped.push({ name: fn.name, reason: `no bench request for source ${fn.subject} (add it to bench/sources.ts)` });
        continue;
      }
      if (fn.subject === 'stripe') stripeEnv = env;
      event = () => ({ event: apiGatewayEvent(source.request()), check: accepted });
    } else if (fn.kind === 'fan-out') {
      // What the ledger stream hands it: one committed conversion, queued for Meta.
      event = () => ({
        event: streamEvent([freshConversion()], ['meta']),
        check: (r) => (r?.batchItemFailures?.length ? `batch item failures: ${JSON.stringify(r.batchItemFailures)}` : undefined),
      });
    } else {
      const before = () => meta.requests.length;
      event = () => {
        const n = before();
        return {
          event: sqsEvent(fn.subject, [freshConversion()]),
          check: (r) =>
            r?.batchItemFailures?.length ? `batch item failures: ${JSON.stringify(r.batchItemFailures)}` : fn.subject === 'meta' && meta.requests.length <= n ? 'Meta received nothing' : undefined,
        };
      };
    }
    const built = await bundle(fn.name, fn.entry);
    variants.push({ name: fn.name, kind: 'function', fn, bundle: built, env, event });
    for (const [i, checkout] of AGAINST.entries()) {
      // Built by that checkout's own bench/build.ts: with its BUNDLING (aliases, externals), as its stack would build it.
      const { bundle: bundleThere } = (await import(pathToFileURL(path.join(checkout, 'bench/build.ts')).href)) as { bundle: typeof bundle };
      const other = await bundleThere(`${fn.name}-against-${i}`, fn.entry);
      variants.push({ name: `${fn.name} built from ${checkout}, ${Math.round(other.bytes / 1024)} KB`, kind: 'diagnostic', fn, bundle: other, env, event });
    }
    if (fn.kind === 'ingest' && !AGAINST.length && !variants.some((v) => v.kind === 'diagnostic')) {
      // What the AWS SDK would cost loaded from node_modules (the runtime's copy) rather than bundled, as BUNDLING
      // does (one source is enough to show it, and keeps the run short).
      const sdkExternal = await bundle(`${fn.name}-sdk-external`, fn.entry, { external: ['@aws-sdk/*'] });
      variants.push({ name: `${fn.name} with the runtime's AWS SDK, ${Math.round(sdkExternal.bytes / 1024)} KB`, kind: 'diagnostic', fn, bundle: sdkExternal, env, event });
    }
  }
  if (stripeEnv) {
    const built = await bundle('reference-kitchen-sink', REFERENCE_ENTRY, REFERENCE_BUILD);
    variants.push({
      name: 'reference (kitchen sink)',
      kind: 'reference',
      bundle: built,
      env: { ...stripeEnv, REFERENCE_QUEUE_URL: referenceQueue, IDEMPOTENCY_TABLE: 'bench-reference-idempotency' },
      event: () => ({ event: apiGatewayEvent(sourceBenches.stripe.request()), check: accepted }),
    });
    const refBundled = await bundle('reference-kitchen-sink-sdk-bundled', REFERENCE_ENTRY, { ...REFERENCE_BUILD, external: [] });
    variants.push({
      name: 'reference with the AWS SDK bundled',
      kind: 'diagnostic',
      bundle: refBundled,
      env: { ...stripeEnv, REFERENCE_QUEUE_URL: referenceQueue, IDEMPOTENCY_TABLE: 'bench-reference-idempotency' },
      event: () => ({ event: apiGatewayEvent(sourceBenches.stripe.request()), check: accepted }),
    });
  }

  // No NODE_EXTRA_CA_CERTS anywhere: this machine sets it, Lambda does not (and it costs tens of ms per start).
  const caCertsInTemplate = deployment.functions.filter((f) => 'NODE_EXTRA_CA_CERTS' in f.environment).map((f) => f.name);

  const runs = new Map<string, Run[]>(variants.map((v) => [v.name, []]));
  for (let round = 0; round <= RUNS; round++) {
    for (const v of variants) {
      const run = await runOnce(v, round);
      if (round > 0) runs.get(v.name)!.push(run); // round 0 warms the page cache
    }
  }

  // A sender's memory is driven by its batch: one fresh process per sender serving a full batch (not timed).
  const fullBatch: { name: string; batch: number; rss?: number; peakRss?: number; failure?: string }[] = [];
  for (const v of variants.filter((x) => x.kind === 'function' && x.fn?.kind === 'sender')) {
    const batch = v.fn!.eventSource?.batchSize ?? 10;
    const full: Variant = { ...v, event: () => ({ event: sqsEvent(v.fn!.subject, Array.from({ length: batch }, () => freshConversion())), check: (r) => (r?.batchItemFailures?.length ? `${r.batchItemFailures.length} batch item failures` : undefined) }) };
    const run = await runOnce(full, RUNS + 1);
    fullBatch.push({ name: v.name, batch, rss: run.rss, peakRss: run.peakRss, failure: run.failure });
  }

  const baseline = median(runs.get('node -e 0')!.map((r) => r.wallMs));
  const result = {
    runs: RUNS,
    nodeExtraCaCertsInTemplate: caCertsInTemplate,
    nodeExtraCaCertsOnThisMachine: Boolean(process.env.NODE_EXTRA_CA_CERTS),
    baselineMs: baseline,
    skipped,
    unresolvedEnv: [...unresolvedEnv],
    fullBatch,
    variants: variants.map((v) => {
      const r = runs.get(v.name)!;
      const ok = r.filter((x) => !x.failure);
      return {
        name: v.name,
        kind: v.kind,
        against: v.against,
        function: v.fn && { name: v.fn.name, kind: v.fn.kind, subject: v.fn.subject, memoryMb: v.fn.memoryMb, timeoutSeconds: v.fn.timeoutSeconds, nodeOptions: v.env.NODE_OPTIONS },
        bundle: v.bundle && { bytes: v.bundle.bytes, gzipBytes: v.bundle.gzipBytes, mapBytes: v.bundle.mapBytes, composition: v.bundle.composition.slice(0, 8) },
        medianMs: median(r.map((x) => x.wallMs)),
        overBaselineMs: median(r.map((x) => x.wallMs)) - baseline,
        exitedMs: ok.length ? median(ok.map((x) => x.exitedMs!)) : undefined,
        bootMs: ok.length ? median(ok.map((x) => x.bootMs!)) : undefined,
        importMs: ok.length ? median(ok.map((x) => x.importMs! - x.bootMs!)) : undefined,
        firstEventMs: ok.length ? median(ok.map((x) => x.firstEventMs! - x.importMs!)) : undefined,
        rssAfterFirstEvent: ok.length ? median(ok.map((x) => x.rss!)) : undefined,
        peakRss: ok.length ? Math.max(...ok.map((x) => x.peakRss ?? 0)) : undefined,
        failures: r.filter((x) => x.failure).map((x) => x.failure),
      };
    }),
  };
  writeFileSync(out, JSON.stringify(result, null, 2));
} finally {
  await runner.close();
  await secrets.close();
  await meta.close();
  await stopSourceFakes();
  rmSync(work, { recursive: true, force: true });
}
process.exit(0);

async function runOnce(v: Variant, round: number): Promise<Run> {
  const eventFile = path.join(work, `event-${round}.json`);
  const resultFile = path.join(work, `result-${round}.json`);
  const profile = PROFILE_DIR ? [path.join(PROFILE_DIR, `${v.name.replace(/\W+/g, '-')}-${round}`)] : [];
  const args = v.kind === 'baseline' ? ['-e', '0'] : [DRIVER, v.bundle!.file, eventFile, resultFile, ...profile];
  const prepared = v.event?.();
  if (prepared) writeFileSync(eventFile, JSON.stringify({ event: prepared.event, functionName: v.fn?.name ?? 'reference', memoryMb: v.fn?.memoryMb ?? 256 }));
  const started = performance.now();
  let answeredAt: number | undefined;
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, args, { env: v.env, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    child.stdio[3]!.once('data', () => (answeredAt = performance.now()));
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('exit', (c) => {
      if (c !== 0) console.error(`${v.name}: exit ${c}: ${stderr.slice(0, 500)}`);
      resolve(c);
    });
  });
  const exitedMs = performance.now() - started;
  const wallMs = answeredAt === undefined ? exitedMs : answeredAt - started;
  if (!prepared) return { wallMs, failure: code === 0 ? undefined : `exit ${code}` };
  let r;
  try {
    r = JSON.parse(readFileSync(resultFile, 'utf8'));
  } catch {
    return { wallMs, failure: `exit ${code}, no result written` };
  }
  const failure = code !== 0 ? `exit ${code}` : r.error ? `threw: ${r.error.split('\n')[0]}` : prepared.check(r.result);
  return { wallMs, exitedMs, bootMs: r.bootMs, importMs: r.importMs, firstEventMs: r.firstEventMs, rss: r.rss, peakRss: r.peakRss, failure };
}
