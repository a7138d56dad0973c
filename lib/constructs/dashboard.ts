import { Duration } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  SingleValueWidget,
  TextWidget,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { DESTINATION_METRICS, METRICS_NAMESPACE, SERVICE_NAME, SOURCE_METRICS } from '../../functions/core/metric-names.ts';
import type { Destination } from './destination.ts';
import type { IngestEndpoint } from './ingest-endpoint.ts';
import type { FanOut } from './fan-out.ts';

export interface RelayDashboardProps {
  /** The browser's endpoints (/collect, /t.js). */
  api: HttpApi;
  /** Each source's ingest function and its function URL (the webhooks). */
  sources: readonly IngestEndpoint[];
  destinations: Destination[];
  alarmTopic: ITopic;
  /** The ledger stream's consumer: its invocations, errors, iterator age and failure queue get a row. */
  fanOut?: FanOut;
  /** Floors under which a destination's match quality alarms (context `matchScoreFloor`, `clickAttachFloor`). */
  matchFloors?: MatchFloors;
}

/**
 * A destination's hourly mean match score (0–10) below `score`, or its share of events with a click ID (percent)
 * below `clickAttach`, for six hours in a row, alarms. Defaults: score 4, click-attach off (0): many sites sell to
 * buyers who never clicked an ad. `perDestination` overrides either, e.g. `{"google-ads": {"clickAttach": 50}}`.
 */
export interface MatchFloors {
  score?: number;
  clickAttach?: number;
  perDestination?: Record<string, { score?: number; clickAttach?: number }>;
}
export const DEFAULT_MATCH_SCORE_FLOOR = 4;

const PERIOD = Duration.minutes(5);

/** A relay metric as the handlers emit it (functions/core/metric-names.ts): Powertools adds the `service` dimension. */
export function relayMetric(name: string, dimensions: Record<string, string>, statistic = 'Sum'): Metric {
  return new Metric({ namespace: METRICS_NAMESPACE, metricName: name, dimensionsMap: { service: SERVICE_NAME, ...dimensions }, statistic, period: PERIOD });
}

/** Every reason a metric was emitted with (reasons are open-ended, so a search finds them), one line each. */
function byReason(name: string, key: 'source' | 'destination', value: string, label: string): MathExpression {
  return new MathExpression({
    expression: `SEARCH('{${METRICS_NAMESPACE},service,${key},reason} MetricName="${name}" ${key}="${value}"', 'Sum', ${PERIOD.toSeconds()})`,
    label,
    period: PERIOD,
    usingMetrics: {},
  });
}

/**
 * What an operator looks at first: per source, what came in and what was refused (and why); per destination, what
 * was delivered, retried, dead-lettered and skipped (and why), batch sizes, the platform's latency and the DLQ
 * depth; the webhooks each function URL answered. Plus the alarms that page someone: /collect answering 5xx, sustained
 * delivery failures per destination (the DLQ alarm lives with each destination; the webhook alarms, with each source's
 * IngestEndpoint).
 */
export class RelayDashboard extends Construct {
  readonly dashboard: Dashboard;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: RelayDashboardProps) {
    super(scope, id);
    const action = new SnsAction(props.alarmTopic);
    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(24) });

    const api5xx = props.api.metricServerError({ period: PERIOD, statistic: 'Sum', label: 'HTTP 5xx' });
    const browser5xx = new Alarm(this, 'Browser5xxAlarm', {
      alarmDescription: 'conversion-relay: /collect or /t.js answered 5xx (clicks are being lost): see the collect function’s logs',
      metric: props.api.metricServerError({ period: PERIOD, statistic: 'Sum' }),
      threshold: 5,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    browser5xx.addAlarmAction(action);
    this.alarms.push(browser5xx);

    this.dashboard.addWidgets(
      new TextWidget({
        markdown: [
          '# conversion-relay',
          'Sources: webhooks **accepted** and **rejected** (by reason: `invalid_signature` is a wrong secret or a forgery). ',
          'Destinations: **delivered**, **failed transient** (retried with backoff), **failed permanent** (in the DLQ, with the reason in each message’s attributes), ',
          '**skipped** by reason, batch size, platform latency, DLQ depth. A DLQ above 0: `npx conversion-relay dlq list`, fix the cause, `dlq redrive`.',
        ].join('\n'),
        width: 24,
        height: 3,
      }),
      new GraphWidget({
        title: 'Webhooks: requests per source (function URLs)',
        left: props.sources.map((e) => e.urlMetric('UrlRequestCount', e.source.name)),
        width: 12,
      }),
      new GraphWidget({
        title: 'Webhooks: 4xx and 5xx answers per source, and throttled',
        left: props.sources.flatMap((e) => [e.urlMetric('Url4xxCount', `${e.source.name} 4xx`), e.urlMetric('Url5xxCount', `${e.source.name} 5xx`)]),
        right: props.sources.map((e) => e.handler.metricThrottles({ period: PERIOD, statistic: 'Sum', label: `${e.source.name} throttled` })),
        width: 12,
      }),
      new GraphWidget({
        title: 'Browser (/collect, /t.js on the HTTP API): HTTP 5xx and 4xx',
        left: [api5xx, props.api.metricClientError({ period: PERIOD, statistic: 'Sum', label: 'HTTP 4xx' })],
        width: 12,
      }),
      new SingleValueWidget({
        title: 'Dead letters (all destinations)',
        metrics: props.destinations.map((d) => d.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, label: d.name })),
        width: 12,
      }),
    );

    if (props.fanOut) {
      const f = props.fanOut;
      this.dashboard.addWidgets(
        new GraphWidget({
          title: 'Fan-out (ledger stream → queues): invocations and errors',
          left: [f.handler.metricInvocations({ period: PERIOD, label: 'invocations' }), f.handler.metricErrors({ period: PERIOD, label: 'errors' })],
          width: 8,
        }),
        new GraphWidget({
          title: 'Fan-out: iterator age (ms, oldest committed conversion not queued yet)',
          left: [f.handler.metric('IteratorAge', { period: PERIOD, statistic: 'Maximum', label: 'max' })],
          width: 8,
        }),
        new SingleValueWidget({ title: 'Fan-out failure queue', metrics: [f.failures.metricApproximateNumberOfMessagesVisible({ period: PERIOD, label: 'messages' })], width: 8 }),
      );
    }

    for (const { source } of props.sources) {
      this.dashboard.addWidgets(
        new GraphWidget({
          title: `Source ${source.name}: accepted, duplicates, errors`,
          left: [
            relayMetric(SOURCE_METRICS.accepted, { source: source.name }).with({ label: 'accepted' }),
            relayMetric(SOURCE_METRICS.duplicates, { source: source.name }).with({ label: 'duplicates' }),
            relayMetric(SOURCE_METRICS.errors, { source: source.name }).with({ label: '5xx (retried by the source)' }),
          ],
          width: 8,
        }),
        new GraphWidget({ title: `Source ${source.name}: rejected by reason`, left: [byReason(SOURCE_METRICS.rejected, 'source', source.name, 'rejected')], width: 8 }),
        new GraphWidget({ title: `Source ${source.name}: skipped events by reason`, left: [byReason(SOURCE_METRICS.skipped, 'source', source.name, 'skipped')], width: 8 }),
      );
    }

    for (const d of props.destinations) {
      const m = (name: string, statistic = 'Sum') => relayMetric(name, { destination: d.name }, statistic);
      const failedTransient = m(DESTINATION_METRICS.failedTransient);
      this.dashboard.addWidgets(
        new GraphWidget({
          title: `Destination ${d.name}: outcomes`,
          left: [
            m(DESTINATION_METRICS.delivered).with({ label: 'delivered' }),
            failedTransient.with({ label: 'failed transient (retried)' }),
            m(DESTINATION_METRICS.failedPermanent).with({ label: 'failed permanent (DLQ)' }),
            m(DESTINATION_METRICS.dryRun).with({ label: 'dry-run (no credentials)' }),
          ],
          width: 8,
        }),
        new GraphWidget({ title: `Destination ${d.name}: skipped by reason`, left: [byReason(DESTINATION_METRICS.skipped, 'destination', d.name, 'skipped')], width: 8 }),
        new GraphWidget({
          title: `Destination ${d.name}: DLQ depth and oldest queued message`,
          left: [d.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, label: 'DLQ depth' })],
          right: [d.queue.metricApproximateAgeOfOldestMessage({ period: PERIOD, label: 'oldest message age (s)' })],
          width: 8,
        }),
        new GraphWidget({
          title: `Destination ${d.name}: batch size`,
          left: [m(DESTINATION_METRICS.batchSize, 'Average').with({ label: 'average' }), m(DESTINATION_METRICS.batchSize, 'Maximum').with({ label: 'max' })],
          width: 12,
        }),
        new GraphWidget({
          title: `Destination ${d.name}: platform latency (ms) and requests`,
          left: [m(DESTINATION_METRICS.platformLatency, 'p50').with({ label: 'p50' }), m(DESTINATION_METRICS.platformLatency, 'p99').with({ label: 'p99' })],
          right: [m(DESTINATION_METRICS.platformRequests).with({ label: 'requests' })],
          width: 12,
        }),
      );

      // A platform down for a quarter of an hour: every 5-minute period has retries and nothing gets through.
      const sustained = new Alarm(this, `${d.name}SustainedFailuresAlarm`, {
        alarmDescription: `${d.name}: deliveries failing for 15 minutes and none succeeding (platform outage, throttling or expired credentials); see the sender’s logs for "will be retried"`,
        metric: new MathExpression({
          expression: 'IF(failed > 0 AND FILL(delivered, 0) == 0, failed, 0)',
          usingMetrics: { failed: failedTransient as IMetric, delivered: m(DESTINATION_METRICS.delivered) },
          period: PERIOD,
          label: 'retries while nothing is delivered',
        }),
        threshold: 1,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      sustained.addAlarmAction(action);
      this.alarms.push(sustained);

      // Match quality: hourly, since it moves with traffic rather than outages; an hour without events is no data.
      const hourly = (name: string) => relayMetric(name, { destination: d.name }, 'Average').with({ period: Duration.hours(1) });
      const score = hourly(DESTINATION_METRICS.matchScore);
      const clickAttached = hourly(DESTINATION_METRICS.clickAttached);
      this.dashboard.addWidgets(
        new GraphWidget({
          title: `Destination ${d.name}: match quality (npx conversion-relay quality)`,
          left: [score.with({ label: 'mean match score (0–10)' })],
          right: [clickAttached.with({ label: 'events with a click ID (%)' })],
          leftYAxis: { min: 0, max: 10 },
          rightYAxis: { min: 0, max: 100 },
          width: 24,
        }),
      );
      const floors = { score: props.matchFloors?.score ?? DEFAULT_MATCH_SCORE_FLOOR, clickAttach: props.matchFloors?.clickAttach ?? 0, ...props.matchFloors?.perDestination?.[d.name] };
      const below = (id: string, metric: Metric, floor: number, what: string) => {
        if (!(floor > 0)) return;
        const alarm = new Alarm(this, `${d.name}${id}Alarm`, {
          alarmDescription: `${d.name}: ${what} below ${floor} for 6 hours; \`npx conversion-relay quality --destination ${d.name}\` shows which identifiers are missing and why`,
          metric,
          threshold: floor,
          evaluationPeriods: 6,
          datapointsToAlarm: 6,
          comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        });
        alarm.addAlarmAction(action);
        this.alarms.push(alarm);
      };
      below('MatchScore', score, floors.score, 'mean match score');
      below('ClickAttach', clickAttached, floors.clickAttach, 'share of events with a click ID (%)');
    }
  }
}
