import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { METRICS_NAMESPACE, SERVICE_NAME } from '#core/metric-names.ts';

/** One logger and one metrics instance per function, as Powertools recommends. No event is ever logged whole. */
export const logger = new Logger({ serviceName: SERVICE_NAME });
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });

/** Powertools Metrics' own rule, read at init as it reads it: POWERTOOLS_METRICS_DISABLED when set, else POWERTOOLS_DEV. */
const METRICS_DISABLED =
  process.env.POWERTOOLS_METRICS_DISABLED !== undefined
    ? process.env.POWERTOOLS_METRICS_DISABLED.toLowerCase() === 'true'
    : ['1', 'y', 'yes', 't', 'true', 'on'].includes((process.env.POWERTOOLS_DEV ?? '').toLowerCase());

/**
 * Counts with their own dimensions (e.g. a source, a reason), emitted at once as one EMF document — the document a
 * Powertools single metric prints (namespace, the `service` default dimension, then these), written directly: a
 * Powertools Metrics instance validates, stores and re-serializes on every call, which the ingest functions paid per
 * webhook. Off where Powertools' own metrics are off (POWERTOOLS_METRICS_DISABLED, POWERTOOLS_DEV).
 */
export function emitCounts(dimensions: Record<string, string>, counts: Record<string, number>): void {
  if (METRICS_DISABLED) return;
  const Metrics = Object.keys(counts).map((Name) => ({ Name, Unit: 'Count' }));
  const CloudWatchMetrics = [{ Namespace: METRICS_NAMESPACE, Dimensions: [['service', ...Object.keys(dimensions)]], Metrics }];
  process.stdout.write(`${JSON.stringify({ _aws: { Timestamp: Date.now(), CloudWatchMetrics }, service: SERVICE_NAME, ...dimensions, ...counts })}\n`);
}

/** One count with its own dimensions (e.g. a reason), emitted at once. */
export function count(name: string, dimensions: Record<string, string>, value = 1): void {
  emitCounts(dimensions, { [name]: value });
}

/** Powertools' numeric log levels (its LogLevelThreshold), for the levels `logLine` writes. */
const LEVEL_THRESHOLD = { INFO: 12, WARN: 16 } as const;
let invoked = false;

/**
 * What the ingest functions log per webhook, as one JSON line with the keys Powertools' Logger writes (level, message,
 * timestamp, service, the Lambda context's cold_start / function_* / request ID, xray_trace_id), then `fields` —
 * written directly, because Powertools' Logger merges its attribute stores and reads the environment on every call
 * (~0.1 ms a line). The level is the logger's own (POWERTOOLS_LOG_LEVEL, Lambda's log level), so a function set to
 * WARN drops these lines as it dropped them before. Call `startInvocation` first.
 */
export function logLine(level: keyof typeof LEVEL_THRESHOLD, message: string, fields: Record<string, unknown>): void {
  if (logger.level > LEVEL_THRESHOLD[level] || !current) return;
  process.stdout.write(`${JSON.stringify({ level, message, timestamp: new Date().toISOString(), service: SERVICE_NAME, ...current, xray_trace_id: traceId(), ...fields })}\n`);
}

let current: Record<string, unknown> | undefined;

/**
 * At the start of each invocation: the context `logLine` writes, and Powertools' own (its lines — rejections,
 * failures — carry the request ID as before, without its middy middleware).
 */
export function startInvocation(context: Context): void {
  logger.addContext(context);
  current = {
    cold_start: !invoked,
    function_arn: context.invokedFunctionArn,
    function_memory_size: context.memoryLimitInMB,
    function_name: context.functionName,
    function_request_id: context.awsRequestId,
  };
  invoked = true;
}

/** The X-Ray trace ID Lambda sets per invocation (`Root=…;Parent=…;Sampled=…`), as Powertools reads it. */
function traceId(): string | undefined {
  const header = process.env._X_AMZN_TRACE_ID;
  return header ? /(?:^|;)Root=([^;]+)/.exec(header)?.[1] : undefined;
}
