/**
 * Batching efficiency per destination: a backlog of N conversions handed to the real sender (its bundle, as deployed)
 * the way Lambda's SQS event source hands a backlog over — batches of the template's BatchSize — against the fake
 * platform server (test/fakes/), with the AWS calls (ledger) answered by the in-memory AWS stand-in.
 * HTTP requests made vs ⌈N / min(platform maximum, the template's batch)⌉ (Lambda's 6 MB event payload may hold fewer than the platform takes), and events per second delivered. Then the fan-out (its bundle) over
 * ledger stream batches of the template's BatchSize, every conversion queued for every destination: its SQS
 * requests and CPU per batch, for the cost model. Writes JSON to argv[2].
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { destinationDefinitions } from '../../functions/destinations/definitions.ts';
import { startAwsFake } from '../aws-fake.ts';
import { bundle } from '../build.ts';
import { writeUnits } from '../cost.ts';
import { functionEnv } from '../env.ts';
import { freshConversion, lambdaContext, sqsEvent, streamEvent } from '../fixtures.ts';
import { EXPECTED_DESTINATIONS, platformFakes, type PlatformFake } from '../platforms.ts';
import { synthesizeDeployment } from '../stack.ts';

const N = Number(process.env.BENCH_BACKLOG ?? 10_000);
/** Lambda's SQS event source: at most 6 MB of messages per invocation. */
const ESM_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

const out = process.argv[2];
process.env.POWERTOOLS_LOG_LEVEL = 'WARN'; // one INFO line per conversion would be 10 000 lines per platform
const deployment = synthesizeDeployment();
const registered = new Map(destinationDefinitions.map((d) => [d.name, d]));
const results: unknown[] = [];

for (const name of [...new Set([...EXPECTED_DESTINATIONS, ...registered.keys()])]) {
  const dest = registered.get(name);
  const fn = deployment.functions.find((f) => f.kind === 'sender' && f.subject === name);
  if (!dest || !fn) {
    results.push({ destination: name, status: 'not yet available', reason: `no destination "${name}" in functions/registry.ts` });
    continue;
  }
  const startFake = platformFakes[name];
  if (!startFake) {
    results.push({ destination: name, status: 'no fake platform', reason: `add a fake platform for "${name}" to bench/platforms.ts` });
    continue;
  }
  try {
    results.push(await measureBacklog(name, dest, fn, startFake));
  } catch (err) {
    results.push({ destination: name, status: 'failed', reason: (err as Error).message.split('\n')[0] });
  }
}
let fanOut: unknown;
try {
  fanOut = await measureFanOut();
} catch (err) {
  fanOut = { status: 'failed', reason: (err as Error).message.split('\n')[0] };
}
writeFileSync(out, JSON.stringify({ destinations: results, fanOut }, null, 2));
process.exit(0);

async function measureBacklog(
  name: string,
  dest: NonNullable<ReturnType<typeof registered.get>>,
  fn: (typeof deployment.functions)[number],
  startFake: () => Promise<PlatformFake>,
) {
  const platform = await startFake();
  const aws = await startAwsFake({ secret: platform.settings });
  const queueUrls = Object.fromEntries(
    Object.keys(fn.environment).filter((k) => k.startsWith('RELAY_QUEUE_URL_') || k.startsWith('RELAY_DLQ_URL_')).map((k) => [k, `${aws.url}/000000000000/${k.toLowerCase()}`]),
  );
  Object.assign(
    process.env,
    functionEnv(fn, {
      tables: { visitors: 'visitors', ledger: 'ledger' },
      queueUrls,
      secretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:relay-bench',
      endpoints: { dynamodb: aws.url, sqs: aws.url, secretsmanager: aws.url },
    }),
    { POWERTOOLS_LOG_LEVEL: 'WARN' },
  );
  const built = await bundle(fn.name, fn.entry);
  const { handler } = await import(pathToFileURL(built.file).href);
  const batchSize = fn.eventSource!.batchSize;

  // Warm up once (a cold first batch is the cold-start section's business), then the backlog.
  await handler(sqsEvent(name, [freshConversion()]), lambdaContext(fn.name, fn.memoryMb));
  platform.reset();
  aws.reset();
  const backlog = Array.from({ length: N }, () => freshConversion());
  const messageBytes = Math.max(...backlog.slice(0, 100).map((c) => Buffer.byteLength(JSON.stringify(c))));
  let failures = 0;
  let invocations = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < N; i += batchSize) {
    const res = await handler(sqsEvent(name, backlog.slice(i, i + batchSize)), lambdaContext(fn.name, fn.memoryMb));
    failures += res?.batchItemFailures?.length ?? 0;
    invocations++;
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const delivered = new Set(platform.arrivals().map((a) => a.eventId));
  const result = {
    destination: name,
    status: 'measured',
    backlog: N,
    platformMaxBatch: dest.maxBatchSize,
    eventSource: fn.eventSource,
    memoryMb: fn.memoryMb,
    messageBytes,
    batchPayloadBytes: messageBytes * batchSize,
    batchFitsEsmPayload: messageBytes * batchSize <= ESM_MAX_PAYLOAD_BYTES,
    invocations,
    requests: platform.requests(),
    // One platform request carries at most one invocation's messages, and an invocation at most the template's batch,
    // which Lambda's 6 MB event payload may hold below the platform's maximum (LinkedIn: 5000 allowed, ~3000 fit): the
    // template row checks that batch is as large as fits, this row that no more requests are made than it allows.
    minimumRequests: Math.ceil(N / Math.min(dest.maxBatchSize, batchSize)),
    delivered: backlog.filter((c) => delivered.has(c.eventId)).length,
    batchItemFailures: failures,
    wallMs,
    eventsPerSecond: (N / wallMs) * 1000,
    cpuMsPerBatch: (cpu.user + cpu.system) / 1000 / invocations,
    awsCallsPerBatch: Object.entries(
      aws.calls.reduce<Record<string, number>>((acc, c) => ((acc[`${c.operation} ${c.target}`] = (acc[`${c.operation} ${c.target}`] ?? 0) + 1), acc), {}),
    ).map(([call, n]) => ({ call, perBatch: n / invocations })),
    writesPerConversion: aws.calls.reduce((n, c) => n + c.writes.length, 0) / N,
    writeBytesPerConversion: aws.calls.flatMap((c) => c.writes).reduce((a, b) => a + b, 0) / N,
    // What DynamoDB bills: each item's write units, over the conversions they record (a batch record holds many).
    writeUnitsPerConversion: aws.calls.flatMap((c) => c.writes).reduce((n, b) => n + writeUnits(b), 0) / N,
  };
  await aws.close();
  await platform.close();
  return result;
}

/** The fan-out's bundle over N committed conversions, as the stream hands them over (full batches: a backlog). */
async function measureFanOut() {
  const fn = deployment.functions.find((f) => f.kind === 'fan-out');
  if (!fn) return { status: 'not in the template', reason: 'no fan-out function in the stack' };
  const aws = await startAwsFake();
  const queueUrls = Object.fromEntries(Object.keys(fn.environment).filter((k) => k.startsWith('RELAY_')).map((k) => [k, `${aws.url}/000000000000/${k.toLowerCase()}`]));
  Object.assign(
    process.env,
    functionEnv(fn, { tables: { visitors: 'visitors', ledger: 'ledger' }, queueUrls, secretArn: '', endpoints: { dynamodb: aws.url, sqs: aws.url, secretsmanager: aws.url } }),
    { POWERTOOLS_LOG_LEVEL: 'WARN' },
  );
  const built = await bundle(fn.name, fn.entry);
  const { handler } = await import(pathToFileURL(built.file).href);
  const batchSize = fn.eventSource!.batchSize;
  const names = destinationDefinitions.map((d) => d.name);
  await handler(streamEvent([freshConversion()], names), lambdaContext(fn.name, fn.memoryMb));
  aws.reset();
  const n = Math.min(N, 2_000);
  const backlog = Array.from({ length: n }, () => freshConversion());
  let failures = 0;
  let invocations = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i += batchSize) {
    const res = await handler(streamEvent(backlog.slice(i, i + batchSize), names, i + 1), lambdaContext(fn.name, fn.memoryMb));
    failures += res?.batchItemFailures?.length ?? 0;
    invocations++;
  }
  const cpu = process.cpuUsage(cpu0);
  const sends = aws.calls.filter((c) => c.operation === 'SendMessageBatch');
  const result = {
    status: 'measured',
    conversions: n,
    destinations: names.length,
    batchSize,
    memoryMb: fn.memoryMb,
    eventSource: fn.eventSource,
    invocations,
    batchItemFailures: failures,
    messages: sends.reduce((m, c) => m + c.messages, 0),
    sendMessageBatchPerBatch: sends.length / invocations,
    // SQS bills each 64 KB of a request as one request.
    sqsRequestsPerConversion: sends.reduce((m, c) => m + Math.max(1, Math.ceil(c.bytes / 65536)), 0) / n,
    largestRequestBytes: Math.max(...sends.map((c) => c.bytes)),
    otherCalls: aws.calls.filter((c) => c.operation !== 'SendMessageBatch').map((c) => `${c.operation} ${c.target}`),
    cpuMsPerBatch: (cpu.user + cpu.system) / 1000 / invocations,
  };
  await aws.close();
  return result;
}
