import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, SERVICE_NAME } from '#core/metric-names.ts';

/** One logger and one metrics instance per function, as Powertools recommends. No event is ever logged whole. */
export const logger = new Logger({ serviceName: SERVICE_NAME });
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });

/**
 * One count with its own dimensions (e.g. a reason), emitted at once as a Powertools single metric: for a handler
 * whose invocation counts several things under different dimensions, or that has no `logMetrics` to publish them.
 */
export function count(name: string, dimensions: Record<string, string>, value = 1): void {
  const single = metrics.singleMetric();
  for (const [k, v] of Object.entries(dimensions)) single.addDimension(k, v);
  single.addMetric(name, MetricUnit.Count, value);
}

/**
 * The one count of an invocation's outcome (skipped, rejected, failed), on the instance `logMetrics` publishes when the
 * invocation ends, with `reason` added to the invocation's dimensions. `count` would build another Metrics instance
 * and print a second EMF document, and leave the invocation's own empty (Powertools then prints a warning that it has
 * no metrics): one document, as for an accepted webhook.
 */
export function countOutcome(name: string, reason?: string, value = 1): void {
  if (reason !== undefined) metrics.addDimension('reason', reason);
  metrics.addMetric(name, MetricUnit.Count, value);
}
