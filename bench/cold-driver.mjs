// A fresh Node process, as a Lambda cold start: import the bundle, serve one event, report, exit.
// Usage: node cold-driver.mjs <bundle.mjs> <event.json> <result.json> [<profile prefix>]
// With a profile prefix, writes <prefix>.import.cpuprofile and <prefix>.first-event.cpuprofile (V8 CPU profiles of
// the two phases, through node:inspector: loaded only then, so an unprofiled run pays nothing for it).
import { readFileSync, writeFileSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [bundle, eventFile, resultFile, profilePrefix] = process.argv.slice(2);
const profiler = profilePrefix ? await (await import('./profiler.mjs')).startProfiler(200) : undefined;
await profiler?.start();
const bootMs = performance.now();
const { handler } = await import(pathToFileURL(bundle).href);
const importMs = performance.now();
await profiler?.stop(`${profilePrefix}.import.cpuprofile`);
await profiler?.start();
const { event, functionName, memoryMb } = JSON.parse(readFileSync(eventFile, 'utf8'));
const context = {
  callbackWaitsForEmptyEventLoop: false, functionName, functionVersion: '$LATEST', memoryLimitInMB: String(memoryMb),
  invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`, awsRequestId: crypto.randomUUID(),
  logGroupName: `/aws/lambda/${functionName}`, logStreamName: 'bench', getRemainingTimeInMillis: () => 30_000,
};
const eventStartMs = performance.now();
let result, error;
try {
  result = await handler(event, context);
} catch (err) {
  error = String(err?.stack ?? err);
}
const firstEventMs = performance.now();
await profiler?.stop(`${profilePrefix}.first-event.cpuprofile`);
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
writeFileSync(resultFile, JSON.stringify({ result, error, bootMs, importMs, firstEventMs: firstEventMs - (eventStartMs - importMs), rss: process.memoryUsage().rss, peakRss: hwm ? Number(hwm[1]) * 1024 : undefined }));
// Tell the bench the first event is answered (fd 3, when it opened one): Lambda's cold start ends here, the process
// lives on; tearing it down (V8 finishing its background work) is no part of it.
try {
  writeSync(3, 'answered\n');
} catch {
  // Not run by the bench (test/support/lambda-runtime.ts): no one to tell.
}
process.exit(0);
