import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, SERVICE_NAME } from '#core/metric-names.ts';

/** One logger and one metrics instance per function, as Powertools recommends. No event is ever logged whole. */
export const logger = new Logger({ serviceName: SERVICE_NAME });
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });

/** One count with its own dimensions (e.g. a reason), emitted at once as a Powertools single metric. */
export function count(name: string, dimensions: Record<string, string>, value = 1): void {
  const single = metrics.singleMetric();
  for (const [k, v] of Object.entries(dimensions)) single.addDimension(k, v);
  single.addMetric(name, MetricUnit.Count, value);
}
