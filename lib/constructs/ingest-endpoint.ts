import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData, type Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { FunctionUrlAuthType, InvokeMode, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { sourceEntry, type SourceEntry } from '../../functions/registry.ts';
import { RelayFunction } from './relay-function.ts';
import type { RelayTables } from './tables.ts';

/**
 * Concurrent executions reserved for each source's ingest function, and so its ceiling: the throttle the HTTP API
 * stage gave (200 requests/s, burst 400, before any function ran). An ingest takes ~40 ms (bench: CPU at 256 MB plus
 * its AWS round trips), so 20 executions take ~500 webhooks/s per source, more than the stage let through for all of
 * them; past that, Lambda refuses the request without running (or billing) the function, and the source retries later
 * (Stripe, HubSpot and ClickBank all retry). A flood of forged webhooks thus costs at most 20 executions' worth of
 * invocations and cannot take the account's concurrency from the senders and /collect. Five sources reserve 100 of
 * the account's default 1,000 (Lambda keeps 100 unreserved); context `webhookConcurrency` changes it.
 */
export const DEFAULT_WEBHOOK_CONCURRENCY = 20;

export interface IngestEndpointProps {
  source: SourceEntry;
  tables: RelayTables;
  environment: Record<string, string>;
  alarmTopic: ITopic;
  /** Reserved concurrency of the ingest function (default DEFAULT_WEBHOOK_CONCURRENCY). */
  reservedConcurrency?: number;
}

const PERIOD = Duration.minutes(5);
/** The stack output with a source's webhook URL: `StripeWebhookUrl`, `ClickbankWebhookUrl`, … */
export const webhookUrlOutputId = (sourceName: string) =>
  `${sourceName.replace(/(^|[^A-Za-z0-9])([A-Za-z0-9])/g, (_, _sep, c: string) => c.toUpperCase())}WebhookUrl`;

/**
 * One source: its ingest function, served by its own Lambda function URL (no API Gateway request fee), its secret
 * (webhook signing secrets), the stack output with the URL to register with the source, and its alarms.
 */
export class IngestEndpoint extends Construct {
  readonly source: SourceEntry;
  readonly handler: RelayFunction;
  readonly secret: Secret;
  readonly functionUrl: FunctionUrl;
  /** What to register with the source: the function URL and the source's path (the handler checks it). */
  readonly webhookUrl: string;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: IngestEndpointProps) {
    super(scope, id);
    const { source, tables } = props;
    this.source = source;
    this.secret = new Secret(this, 'Credentials', {
      description: `conversion-relay ${source.name} source settings as a JSON object; keys: ${source.secretKeys.join(', ')}`,
    });
    this.handler = new RelayFunction(this, 'Ingest', {
      entry: sourceEntry(source.name),
      description: `conversion-relay: receives ${source.name} events`,
      timeout: Duration.seconds(15),
      reservedConcurrentExecutions: props.reservedConcurrency ?? DEFAULT_WEBHOOK_CONCURRENCY,
      environment: {
        ...props.environment,
        ...tables.environment,
        RELAY_SECRET_ARN: this.secret.secretArn,
      },
    });
    this.secret.grantRead(this.handler);
    tables.visitors.grantReadWriteData(this.handler);
    // The commit and skip records (PutItem; a duplicate's item comes back with the failed condition, or, from an
    // emulator, by GetItem). The ledger's stream does the fan-out: no queue or topic rights here.
    tables.ledger.grant(this.handler, 'dynamodb:PutItem', 'dynamodb:GetItem');

    // Public: the sources cannot sign AWS requests; each signs its own (or sends a token), which the handler verifies
    // before anything is stored. Buffered: a webhook's answer is one small JSON body.
    this.functionUrl = this.handler.addFunctionUrl({ authType: FunctionUrlAuthType.NONE, invokeMode: InvokeMode.BUFFERED });
    const paths = [...new Set(source.routes.map((r) => r.path))];
    if (paths.length !== 1) throw new Error(`source ${source.name}: a function URL serves one webhook path, got ${paths.join(', ')}`);
    // The URL ends with '/'.
    this.webhookUrl = `${this.functionUrl.url}${paths[0].replace(/^\//, '')}`;
    new CfnOutput(Stack.of(this), webhookUrlOutputId(source.name), {
      value: this.webhookUrl,
      description: `register with ${source.name} as its webhook URL (${source.routes.map((r) => r.method).join(' or ')})`,
    });

    const action = new SnsAction(props.alarmTopic);
    const alarm = (alarmId: string, description: string, metric: Metric, threshold: number) => {
      const a = new Alarm(this, alarmId, {
        alarmDescription: `conversion-relay ${source.name}: ${description}`,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(action);
      this.alarms.push(a);
    };
    alarm(
      'Webhook5xxAlarm',
      'webhooks answered 5xx (the source retries them, but something is failing): see the ingest function’s logs for "request failed"',
      this.urlMetric('Url5xxCount'),
      5,
    );
    alarm(
      'WebhookThrottledAlarm',
      'webhooks refused at the reserved concurrency (a flood, forged or a backlog being retried); the source retries them',
      this.handler.metricThrottles({ period: PERIOD, statistic: 'Sum' }),
      1,
    );
    // Signature failures in bulk: a forged flood under the concurrency cap, or a rotated secret not yet stored here.
    alarm(
      'Webhook4xxSpikeAlarm',
      '100 or more webhooks refused with 4xx in 5 minutes: see the dashboard’s rejected-by-reason graph (invalid_signature is a wrong secret or forgeries)',
      this.urlMetric('Url4xxCount'),
      100,
    );
  }

  /** A function URL metric (AWS/Lambda, by FunctionName), summed over 5 minutes. */
  urlMetric(name: 'UrlRequestCount' | 'Url4xxCount' | 'Url5xxCount', label?: string): Metric {
    return this.handler.metric(name, { period: PERIOD, statistic: 'Sum', label });
  }
}
