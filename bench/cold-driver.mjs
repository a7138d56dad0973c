// A fresh Node process, as a Lambda cold start: import the bundle, serve one event, report, exit.
// Usage: node cold-driver.mjs <bundle.mjs> <event.json> <result.json>
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [bundle, eventFile, resultFile] = process.argv.slice(2);
const bootMs = performance.now();
const { handler } = await import(pathToFileURL(bundle).href);
const importMs = performance.now();
const { event, functionName, memoryMb } = JSON.parse(readFileSync(eventFile, 'utf8'));
const context = {
  callbackWaitsForEmptyEventLoop: false, functionName, functionVersion: '$LATEST', memoryLimitInMB: String(memoryMb),
  invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`, awsRequestId: crypto.randomUUID(),
  logGroupName: `/aws/lambda/${functionName}`, logStreamName: 'bench', getRemainingTimeInMillis: () => 30_000,
};
let result, error;
try {
  result = await handler(event, context);
} catch (err) {
  error = String(err?.stack ?? err);
}
const firstEventMs = performance.now();
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
writeFileSync(resultFile, JSON.stringify({ result, error, bootMs, importMs, firstEventMs, rss: process.memoryUsage().rss, peakRss: hwm ? Number(hwm[1]) * 1024 : undefined }));
process.exit(0);
