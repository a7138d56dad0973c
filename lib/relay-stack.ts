import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { COLLECT_ENTRY, destinations, sources } from '../functions/registry.ts';
import { Destination } from './constructs/destination.ts';
import { IngestEndpoint } from './constructs/ingest-endpoint.ts';
import { RelayFunction } from './constructs/relay-function.ts';
import { RelayTables } from './constructs/tables.ts';

export interface RelayStackProps extends StackProps {
  /** E-mail address subscribed to the alarm topic (context `alarmEmail`). */
  alarmEmail?: string;
  /** `granted` or `denied`: consent assumed where a visitor gave no signal (context `consentDefault`). */
  consentDefault?: string;
  /** Domain for the visitor cookie, e.g. `example.com` when the API is served on `t.example.com` (context `cookieDomain`). */
  cookieDomain?: string;
}

/**
 * click → visitor → source event → Conversion → destination queue → platform API, as AWS resources:
 * an HTTP API with /collect and one route per source, an ingest function per source, one queue + DLQ + sender per
 * destination, three DynamoDB tables, and alarms to an SNS topic.
 */
export class RelayStack extends Stack {
  readonly api: HttpApi;

  constructor(scope: Construct, id: string, props: RelayStackProps = {}) {
    super(scope, id, props);
    const tables = new RelayTables(this, 'Tables');

    const alarmTopic = new Topic(this, 'Alarms', { displayName: 'conversion-relay alarms', enforceSSL: true });
    if (props.alarmEmail) alarmTopic.addSubscription(new EmailSubscription(props.alarmEmail));

    this.api = new HttpApi(this, 'Api', { description: 'conversion-relay: click capture and conversion webhooks', createDefaultStage: false });
    const accessLogs = new LogGroup(this, 'ApiAccessLogs', { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    new HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      // Per-IP abuse of /collect and floods of forged webhooks stop here, before any function runs.
      throttle: { rateLimit: 200, burstLimit: 400 },
      accessLogSettings: { destination: new LogGroupLogDestination(accessLogs) },
    });

    const environment: Record<string, string> = {
      CONSENT_DEFAULT: props.consentDefault ?? 'granted',
      ...(props.cookieDomain ? { COOKIE_DOMAIN: props.cookieDomain } : {}),
    };

    const collect = new RelayFunction(this, 'Collect', {
      entry: COLLECT_ENTRY,
      description: 'conversion-relay: stores click IDs under a first-party visitor ID',
      environment: { ...environment, ...tables.environment },
    });
    tables.visitors.grantReadWriteData(collect);
    this.api.addRoutes({ path: '/collect', methods: [HttpMethod.POST], integration: new HttpLambdaIntegration('CollectIntegration', collect) });

    const queues = destinations.map((definition) => new Destination(this, definition.name, { definition, tables, alarmTopic }));
    for (const source of sources) {
      new IngestEndpoint(this, `source-${source.name}`, { source, api: this.api, tables, destinations: queues, environment });
    }

    new CfnOutput(this, 'ApiUrl', { value: this.api.apiEndpoint, description: 'Base URL: register <ApiUrl>/webhooks/<source> with each source' });
    for (const q of queues) {
      new CfnOutput(this, `${q.name}DeadLetterQueueUrl`, { value: q.deadLetterQueue.queueUrl });
      new CfnOutput(this, `${q.name}SecretArn`, { value: q.secret.secretArn, description: `put ${q.name} credentials here` });
    }
  }
}
