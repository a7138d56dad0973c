import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { ApiMapping, CorsHttpMethod, DomainName, HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { MAPPING_SETTING, parseMapping } from '../functions/core/mapping.ts';
import { RelayDashboard, type MatchFloors } from './constructs/dashboard.ts';
import { destinationDefinitions } from '../functions/destinations/definitions.ts';
import { COLLECT_ENTRY, SNIPPET_ENTRY, destinations, sources } from '../functions/registry.ts';
import { buildSnippet } from '../functions/snippet/build.ts';
import { Destination } from './constructs/destination.ts';
import { FanOut } from './constructs/fan-out.ts';
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
  /** The mapping configuration as JSON (context `mapping`, else `RELAY_MAPPING` at synth); validated here. */
  mapping?: string;
  /**
   * Site origins allowed to call /collect from the browser, comma-separated: `https://shop.example.com,https://*.example.com`
   * (context `allowedOrigins`). Sets the HTTP API's CORS and the collect function's own check. Unset: any origin.
   */
  allowedOrigins?: string;
  /** Custom domain for the API, e.g. `t.example.com` (context `domainName`); needs `certificateArn`. */
  domainName?: string;
  /** ACM certificate for `domainName`, in the stack's region (context `certificateArn`). */
  certificateArn?: string;
  /** Match-quality alarm floors (context `matchScoreFloor`, `clickAttachFloor`, `matchFloors`): see MatchFloors. */
  matchFloors?: MatchFloors;
  /** Reserved concurrency of each source's ingest function (context `webhookConcurrency`): see DEFAULT_WEBHOOK_CONCURRENCY. */
  webhookConcurrency?: number;
}

/**
 * click → visitor → source event → Conversion → destination queue → platform API, as AWS resources:
 * an HTTP API with /collect and /t.js (CORS, the custom domain, the first-party cookie), an ingest function per source
 * behind its own function URL committing each conversion to the ledger table, whose stream feeds the fan-out function
 * to one queue + DLQ + sender per destination, two DynamoDB tables, and alarms to an SNS topic.
 */
export class RelayStack extends Stack {
  readonly api: HttpApi;

  constructor(scope: Construct, id: string, props: RelayStackProps = {}) {
    super(scope, id, props);
    const tables = new RelayTables(this, 'Tables');

    const alarmTopic = new Topic(this, 'Alarms', { displayName: 'conversion-relay alarms', enforceSSL: true });
    if (props.alarmEmail) alarmTopic.addSubscription(new EmailSubscription(props.alarmEmail));

    if (!!props.domainName !== !!props.certificateArn) throw new Error('domainName and certificateArn go together: set both or neither');
    const allowOrigins = (props.allowedOrigins ?? '').split(',').map((o) => o.trim()).filter(Boolean);
    this.api = new HttpApi(this, 'Api', {
      description: 'conversion-relay: click capture (/collect) and the browser snippet (/t.js)',
      createDefaultStage: false,
      // Browsers send the visitor cookie to /collect: credentials allowed, so the origins are listed, never '*'.
      corsPreflight: allowOrigins.length
        ? { allowOrigins, allowCredentials: true, allowMethods: [CorsHttpMethod.POST, CorsHttpMethod.GET], allowHeaders: ['content-type'], maxAge: Duration.days(1) }
        : undefined,
    });
    const accessLogs = new LogGroup(this, 'ApiAccessLogs', { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      // Floods of /collect stop here, before any function runs. (Webhooks come by function URLs, capped by each ingest
      // function's reserved concurrency: lib/constructs/ingest-endpoint.ts.)
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
      environment: { ...environment, ...tables.environment, ...(allowOrigins.length ? { RELAY_ALLOWED_ORIGINS: allowOrigins.join(',') } : {}) },
    });
    tables.visitors.grantReadWriteData(collect);
    this.api.addRoutes({ path: '/collect', methods: [HttpMethod.POST], integration: new HttpLambdaIntegration('CollectIntegration', collect) });

    // A bad mapping fails the synth, naming the key; a good one reaches every ingest function as-is.
    const mapping = props.mapping?.trim();
    if (mapping) parseMapping(mapping, { sources: sources.map((s) => s.name), destinations: destinations.map((d) => d.name) });
    const ingestEnvironment = mapping ? { ...environment, [MAPPING_SETTING]: mapping } : environment;
    // The browser snippet, compiled into its function (base64: any character survives the bundler's command line).
    const snippet = buildSnippet();
    const snippetFunction = new RelayFunction(this, 'Snippet', {
      entry: SNIPPET_ENTRY,
      description: 'conversion-relay: serves the browser snippet (/t.js)',
      memorySize: 128,
      define: {
        __SNIPPET_JS_BASE64__: JSON.stringify(Buffer.from(snippet.code).toString('base64')),
        __SNIPPET_EXTRA_JS_BASE64__: JSON.stringify(Buffer.from(snippet.extraCode).toString('base64')),
      },
    });
    this.api.addRoutes({ path: '/t.js', methods: [HttpMethod.GET], integration: new HttpLambdaIntegration('SnippetIntegration', snippetFunction) });

    // A subdomain of the site (t.example.com): the visitor cookie is then first-party, set by the server.
    if (props.domainName && props.certificateArn) {
      const domain = new DomainName(this, 'CustomDomain', {
        domainName: props.domainName,
        certificate: Certificate.fromCertificateArn(this, 'CustomDomainCertificate', props.certificateArn),
      });
      new ApiMapping(this, 'CustomDomainMapping', { api: this.api, domainName: domain, stage });
      new CfnOutput(this, 'CustomDomainTarget', {
        value: domain.regionalDomainName,
        description: `point a CNAME (or an alias record) for ${props.domainName} at this name`,
      });
    }

    const queues = destinationDefinitions.map((definition) => new Destination(this, definition.name, { definition, tables, alarmTopic }));
    const fanOut = new FanOut(this, 'FanOut', { tables, destinations: queues, alarmTopic });
    const ingest = sources.map(
      (source) =>
        new IngestEndpoint(this, `source-${source.name}`, {
          source,
          tables,
          environment: ingestEnvironment,
          alarmTopic,
          reservedConcurrency: props.webhookConcurrency,
        }),
    );

    const dashboard = new RelayDashboard(this, 'Monitoring', { api: this.api, sources: ingest, destinations: queues, fanOut, alarmTopic, matchFloors: props.matchFloors });
    new CfnOutput(this, 'DashboardName', { value: dashboard.dashboard.dashboardName, description: 'CloudWatch → Dashboards' });

    // Each source's <Source>WebhookUrl output comes from its IngestEndpoint.
    new CfnOutput(this, 'ApiUrl', { value: this.api.apiEndpoint, description: 'Base URL of /collect and /t.js (the browser side; webhooks: the <Source>WebhookUrl outputs)' });
    // The operator CLI reads these (`npx cdk deploy --outputs-file cdk-outputs.json`).
    new CfnOutput(this, 'LedgerTableName', { value: tables.ledger.tableName, description: 'conversion-relay status <id> reads it' });
    new CfnOutput(this, 'VisitorsTableName', { value: tables.visitors.tableName, description: 'conversion-relay backfill joins clicks from it' });
    new CfnOutput(this, 'FanOutFailureQueueUrl', { value: fanOut.failures.queueUrl, description: 'conversions the fan-out could not queue, with why' });
    new CfnOutput(this, 'SnippetTag', {
      value: `<script async src="${props.domainName ? `https://${props.domainName}` : this.api.apiEndpoint}/t.js?v=${snippet.hash}"></script>`,
      description: 'paste into every page of the site',
    });
    for (const q of queues) {
      new CfnOutput(this, `${q.name}QueueUrl`, { value: q.queue.queueUrl });
      new CfnOutput(this, `${q.name}DeadLetterQueueUrl`, { value: q.deadLetterQueue.queueUrl });
      new CfnOutput(this, `${q.name}SecretArn`, { value: q.secret.secretArn, description: `put ${q.name} credentials here` });
    }
  }
}
