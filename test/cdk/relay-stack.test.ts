import { App, type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { AssetManifestArtifact } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_ATTEMPTS, FAN_OUT_BATCH_SIZE, FAN_OUT_FAILURES_ENV, FAN_OUT_RETRY_ATTEMPTS, MAX_ATTEMPTS_ENV, queueUrlEnv, redriveMaxReceiveCount } from '../../functions/core/names.ts';
import { DESTINATION_METRICS, SOURCE_METRICS } from '../../functions/core/metric-names.ts';
import { destinationDefinitions as destinations } from '../../functions/destinations/definitions.ts';
import { sources } from '../../functions/registry.ts';
import { Destination } from '../../lib/constructs/destination.ts';
import { FanOut } from '../../lib/constructs/fan-out.ts';
import { DEFAULT_WEBHOOK_CONCURRENCY, IngestEndpoint, webhookUrlOutputId } from '../../lib/constructs/ingest-endpoint.ts';
import { RelayTables } from '../../lib/constructs/tables.ts';
import { acknowledgeNagFindings } from '../../lib/nag.ts';
import { RelayStack, type RelayStackProps } from '../../lib/relay-stack.ts';

/**
 * What someone deploying the relay would check in the synthesized template, asserted against it: the HTTP API and
 * its routes, the webhooks' function URLs, outputs and concurrency, the functions' runtime and configuration, the tables, the queues and their redrive, the event source
 * mappings, the secrets and who may read them, least privilege, the alarm, the cdk-nag gate, and a scrubbed snapshot.
 */

type Json = Record<string, any>;

/** The feature flags from cdk.json, so that the tests build the same template as `npx cdk synth`. */
const CDK_CONTEXT: Record<string, unknown> = JSON.parse(readFileSync(fileURLToPath(new URL('../../cdk.json', import.meta.url)), 'utf8')).context;
/** Skips esbuild: the functions' code is not bundled (assets are staged unbundled), which keeps these tests fast. */
const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

function build(props: RelayStackProps = {}, { bundle = false } = {}) {
  const app = new App({ context: { ...CDK_CONTEXT, ...(bundle ? {} : NO_BUNDLING) } });
  const stack = new RelayStack(app, 'ConversionRelay', props);
  return { app, stack };
}

const logicalId = (c: IConstruct) => Stack.of(c).resolve((c.node.defaultChild as CfnElement).logicalId) as string;
const ref = (id: string) => ({ Ref: id });
const arnOf = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const toArray = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/** Whether an IAM action pattern (`sqs:*`, `dynamodb:Get*`, `*`) covers an action. */
function actionCovers(pattern: string, action: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
  return re.test(action);
}

interface Grant {
  action: string;
  /** The resource expression as JSON, e.g. `{"Fn::GetAtt":["metaQueue52B10A5F","Arn"]}` or `"*"`. */
  resource: string;
}

/** Every (action, resource) pair a function's role allows: its inline policies and every policy attached to it. */
function grantsOf(t: Template, functionId: string): Grant[] {
  const resources: Json = t.toJSON().Resources;
  const roleId: string = resources[functionId].Properties.Role['Fn::GetAtt'][0];
  const documents: Json[] = [
    ...(resources[roleId].Properties.Policies ?? []).map((p: Json) => p.PolicyDocument),
    ...Object.values(t.findResources('AWS::IAM::Policy'))
      .concat(Object.values(t.findResources('AWS::IAM::ManagedPolicy')))
      .filter((p) => toArray(p.Properties.Roles).some((r: Json) => r.Ref === roleId))
      .map((p) => p.Properties.PolicyDocument),
  ];
  return documents.flatMap((doc) =>
    toArray<Json>(doc.Statement)
      .filter((s) => s.Effect === 'Allow')
      .flatMap((s) =>
        toArray<string>(s.Action).flatMap((action) => toArray<unknown>(s.Resource).map((r) => ({ action, resource: JSON.stringify(r) }))),
      ),
  );
}

/** Whether the grants allow `action` on the resource with this logical ID (or on every resource). */
const allows = (grants: Grant[], action: string, resourceId: string) =>
  grants.some((g) => actionCovers(g.action, action) && (g.resource === '"*"' || g.resource.includes(`"${resourceId}"`)));
/** Whether the grants allow any action at all on the resource with this logical ID. */
const touches = (grants: Grant[], resourceId: string) => grants.some((g) => g.resource === '"*"' || g.resource.includes(`"${resourceId}"`));

/** The logical ID of the function an HTTP API route key (`POST /collect`) invokes. */
function functionBehindRoute(t: Template, routeKey: string): string {
  const routes = Object.values(t.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: routeKey } }));
  expect(routes, `exactly one route ${routeKey}`).toHaveLength(1);
  const target = routes[0].Properties.Target as Json;
  expect(target['Fn::Join'][1][0]).toBe('integrations/');
  const integrationId: string = target['Fn::Join'][1][1].Ref;
  const integration = t.toJSON().Resources[integrationId];
  expect(integration.Type).toBe('AWS::ApiGatewayV2::Integration');
  expect(integration.Properties.IntegrationType).toBe('AWS_PROXY');
  return integration.Properties.IntegrationUri['Fn::GetAtt'][0];
}

const envOf = (t: Template, functionId: string): Json => t.toJSON().Resources[functionId].Properties.Environment?.Variables ?? {};

/** The replacements of the skuba pattern: whatever changes with the code or the CDK version, not with the stack. */
function scrubbed(t: Template): Json {
  const text = JSON.stringify(t.toJSON())
    .replace(/[0-9a-f]{64}/g, '[ASSET_HASH]')
    .replace(/t\.js\?v=[0-9a-f]{12}/g, 't.js?v=[SNIPPET_VERSION]')
    .replace(/"v2:deflate64:[^"]*"/g, '"[CDK_ANALYTICS]"');
  return JSON.parse(text);
}

describe('RelayStack', () => {
  let stack: RelayStack;
  let t: Template;
  /** Logical IDs of what the tests talk about. */
  let ids: {
    collect: string;
    tables: { visitors: string; ledger: string };
    fanOut: { handler: string; failures: string };
    sources: Record<string, { handler: string; secret: string }>;
    destinations: Record<string, { queue: string; dlq: string; sender: string; secret: string }>;
  };

  beforeAll(() => {
    ({ stack } = build());
    t = Template.fromStack(stack);
    const all = stack.node.findAll();
    const tables = all.find((c): c is RelayTables => c instanceof RelayTables)!;
    ids = {
      collect: functionBehindRoute(t, 'POST /collect'),
      tables: { visitors: logicalId(tables.visitors), ledger: logicalId(tables.ledger) },
      fanOut: ((f) => ({ handler: logicalId(f.handler), failures: logicalId(f.failures) }))(all.find((c): c is FanOut => c instanceof FanOut)!),
      sources: Object.fromEntries(
        all
          .filter((c): c is IngestEndpoint => c instanceof IngestEndpoint)
          .map((e) => [e.node.id.replace(/^source-/, ''), { handler: logicalId(e.handler), secret: logicalId(e.secret) }]),
      ),
      destinations: Object.fromEntries(
        all
          .filter((c): c is Destination => c instanceof Destination)
          .map((d) => [d.name, { queue: logicalId(d.queue), dlq: logicalId(d.deadLetterQueue), sender: logicalId(d.sender), secret: logicalId(d.secret) }]),
      ),
    };
    // Guard: the registry drives the stack, and the tests below look at the Stripe source and the Meta destination.
    expect(Object.keys(ids.sources).sort()).toEqual(sources.map((s) => s.name).sort());
    expect(Object.keys(ids.destinations).sort()).toEqual(destinations.map((d) => d.name).sort());
    expect(ids.sources.stripe).toBeDefined();
    expect(ids.destinations.meta).toBeDefined();
  });

  const allFunctionIds = () => Object.keys(t.findResources('AWS::Lambda::Function'));

  describe('HTTP API', () => {
    it('is an HTTP API with POST /collect and GET /t.js, each invoking its own function', () => {
      t.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
      t.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
      const snippet = functionBehindRoute(t, 'GET /t.js');
      expect(ids.collect).not.toBe(snippet);
      // API Gateway may invoke both functions, and no ingest function.
      for (const fn of [ids.collect, snippet]) {
        t.hasResourceProperties('AWS::Lambda::Permission', { Action: 'lambda:InvokeFunction', Principal: 'apigateway.amazonaws.com', FunctionName: arnOf(fn) });
      }
      for (const s of Object.values(ids.sources)) {
        expect(t.findResources('AWS::Lambda::Permission', { Properties: { Principal: 'apigateway.amazonaws.com', FunctionName: arnOf(s.handler) } })).toEqual({});
      }
    });

    it('routes only the browser’s endpoints: the webhooks come by function URLs', () => {
      const actual = Object.values(t.findResources('AWS::ApiGatewayV2::Route')).map((r) => r.Properties.RouteKey).sort();
      expect(actual).toEqual(['GET /t.js', 'POST /collect']);
    });

    it('serves a single auto-deployed $default stage with access logs and throttling', () => {
      t.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
      const [stage] = Object.values(t.findResources('AWS::ApiGatewayV2::Stage'));
      const p = stage.Properties;
      expect(p.StageName).toBe('$default');
      expect(p.AutoDeploy).toBe(true);

      const logGroupId: string = p.AccessLogSettings.DestinationArn['Fn::GetAtt'][0];
      expect(t.toJSON().Resources[logGroupId].Type).toBe('AWS::Logs::LogGroup');
      expect(p.AccessLogSettings.Format).toEqual(expect.stringContaining('$context.requestId'));

      expect(p.DefaultRouteSettings.ThrottlingRateLimit).toBeGreaterThan(0);
      expect(p.DefaultRouteSettings.ThrottlingBurstLimit).toBeGreaterThanOrEqual(p.DefaultRouteSettings.ThrottlingRateLimit);
    });
  });

  describe('webhooks by function URL', () => {
    const urlsOf = (functionId: string) => Object.entries(t.findResources('AWS::Lambda::Url', { Properties: { TargetFunctionArn: arnOf(functionId) } }));

    it('gives each source’s ingest function one public, buffered function URL, and no other function one', () => {
      expect(Object.keys(t.findResources('AWS::Lambda::Url'))).toHaveLength(sources.length);
      for (const [name, s] of Object.entries(ids.sources)) {
        const urls = urlsOf(s.handler);
        expect(urls, name).toHaveLength(1);
        expect(urls[0][1].Properties, name).toEqual({ TargetFunctionArn: arnOf(s.handler), AuthType: 'NONE', InvokeMode: 'BUFFERED' });
        // Anyone may invoke it through the URL (and only through it): the handler verifies the signature or token.
        t.hasResourceProperties('AWS::Lambda::Permission', { Action: 'lambda:InvokeFunctionUrl', Principal: '*', FunctionUrlAuthType: 'NONE', FunctionName: arnOf(s.handler) });
        t.hasResourceProperties('AWS::Lambda::Permission', { Action: 'lambda:InvokeFunction', Principal: '*', InvokedViaFunctionUrl: true, FunctionName: arnOf(s.handler) });
      }
    });

    it('outputs, per source, the URL to register: its function URL followed by the source’s path', () => {
      const outputs = t.toJSON().Outputs as Json;
      for (const source of sources) {
        const output = outputs[webhookUrlOutputId(source.name)];
        expect(output, source.name).toBeDefined();
        const [urlId] = urlsOf(ids.sources[source.name].handler)[0];
        // The function URL ends with '/'; the path follows without its leading one.
        expect(output.Value).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [urlId, 'FunctionUrl'] }, source.routes[0].path.slice(1)]] });
      }
      expect(outputs.StripeWebhookUrl).toBeDefined();
      expect(outputs.ApiUrl.Description).not.toMatch(/webhooks\/<source>/);
    });

    it(`reserves ${DEFAULT_WEBHOOK_CONCURRENCY} concurrent executions for each ingest function (its throttle), none for the others; context webhookConcurrency changes it`, () => {
      const ingestIds = new Set(Object.values(ids.sources).map((s) => s.handler));
      for (const id of allFunctionIds()) {
        expect(t.toJSON().Resources[id].Properties.ReservedConcurrentExecutions, id).toBe(ingestIds.has(id) ? DEFAULT_WEBHOOK_CONCURRENCY : undefined);
      }
      const custom = Template.fromStack(build({ webhookConcurrency: 7 }).stack);
      const reserved = Object.values(custom.findResources('AWS::Lambda::Function')).map((f) => f.Properties.ReservedConcurrentExecutions).filter((n) => n !== undefined);
      expect(reserved).toEqual(sources.map(() => 7));
    });
  });

  describe('Lambda functions', () => {
    it('has one function per handler: collect, the snippet, one ingest per source, the fan-out, one sender per destination', () => {
      const snippet = functionBehindRoute(t, 'GET /t.js');
      const expected = [ids.collect, snippet, ids.fanOut.handler, ...Object.values(ids.sources).map((s) => s.handler), ...Object.values(ids.destinations).map((d) => d.sender)];
      expect(new Set(expected).size).toBe(3 + sources.length + destinations.length);
      expect(allFunctionIds().sort()).toEqual(expected.sort());
    });

    it('runs every function on nodejs24.x, arm64, with the bundle entry index.handler', () => {
      for (const id of allFunctionIds()) {
        const p = t.toJSON().Resources[id].Properties;
        expect({ id, Runtime: p.Runtime, Architectures: p.Architectures, Handler: p.Handler }).toEqual({
          id,
          Runtime: 'nodejs24.x',
          Architectures: ['arm64'],
          Handler: 'index.handler',
        });
      }
    });

    it('sets no NODE_EXTRA_CA_CERTS anywhere (that is for the local runner only)', () => {
      for (const id of allFunctionIds()) expect(envOf(t, id), id).not.toHaveProperty('NODE_EXTRA_CA_CERTS');
      expect(JSON.stringify(t.toJSON())).not.toContain('NODE_EXTRA_CA_CERTS');
    });

    it('puts no credentials in environment variables: only RELAY_SECRET_ARN, a reference to a Secrets Manager secret', () => {
      const secretIds = new Set(Object.keys(t.findResources('AWS::SecretsManager::Secret')));
      const credentialName = /TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|API_KEY|ACCESS_KEY/i;
      const credentialValue = /^(sk|rk)_(live|test)_|^whsec_|^EAA[A-Za-z0-9]{20,}|^AKIA[0-9A-Z]{16}$|^ghp_/;
      for (const id of allFunctionIds()) {
        for (const [key, value] of Object.entries(envOf(t, id))) {
          if (typeof value === 'string') expect(value, `${id} ${key}`).not.toMatch(credentialValue);
          if (!credentialName.test(key)) continue;
          expect(key, `${id}: credential-like environment variable`).toBe('RELAY_SECRET_ARN');
          expect(typeof value, `${id} ${key} must not be a literal`).toBe('object');
          expect(secretIds.has(value.Ref), `${id} ${key} references a secret`).toBe(true);
        }
      }
    });

    it('points each function at its own secret, and collect at none', () => {
      expect(envOf(t, ids.collect)).not.toHaveProperty('RELAY_SECRET_ARN');
      for (const s of Object.values(ids.sources)) expect(envOf(t, s.handler).RELAY_SECRET_ARN).toEqual(ref(s.secret));
      for (const d of Object.values(ids.destinations)) expect(envOf(t, d.sender).RELAY_SECRET_ARN).toEqual(ref(d.secret));
    });

    it('uses roles without managed policies (no AWSLambdaBasicExecutionRole: each writes only its own log group)', () => {
      for (const id of allFunctionIds()) {
        const p = t.toJSON().Resources[id].Properties;
        const roleId = p.Role['Fn::GetAtt'][0];
        expect(t.toJSON().Resources[roleId].Properties.ManagedPolicyArns, roleId).toBeUndefined();
        const logGroupId: string = p.LoggingConfig.LogGroup.Ref;
        expect(allows(grantsOf(t, id), 'logs:PutLogEvents', logGroupId), id).toBe(true);
      }
    });
  });

  describe('DynamoDB tables', () => {
    it('has two on-demand tables with TTL on `ttl`, point-in-time recovery, retained on stack deletion', () => {
      t.resourceCountIs('AWS::DynamoDB::GlobalTable', 2);
      const tables = t.findResources('AWS::DynamoDB::GlobalTable');
      expect(Object.keys(tables).sort()).toEqual(Object.values(ids.tables).sort());
      for (const [id, table] of Object.entries(tables)) {
        const p = table.Properties;
        expect(p.BillingMode, id).toBe('PAY_PER_REQUEST');
        expect(p.TimeToLiveSpecification, id).toEqual({ AttributeName: 'ttl', Enabled: true });
        expect(p.Replicas.length, id).toBeGreaterThan(0);
        for (const replica of p.Replicas) expect(replica.PointInTimeRecoverySpecification, id).toEqual({ PointInTimeRecoveryEnabled: true });
        expect(table.DeletionPolicy, id).toBe('Retain');
        expect(table.UpdateReplacePolicy, id).toBe('Retain');
      }
    });

    it('streams the ledger’s new images (the outbox), not the visitors’', () => {
      const tables = t.toJSON().Resources as Json;
      expect(tables[ids.tables.ledger].Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_IMAGE' });
      expect(tables[ids.tables.visitors].Properties.StreamSpecification).toBeUndefined();
    });
  });

  describe('fan-out (ledger stream → destination queues)', () => {
    const mapping = () => {
      const all = Object.values(t.findResources('AWS::Lambda::EventSourceMapping', { Properties: { FunctionName: ref(ids.fanOut.handler) } }));
      expect(all).toHaveLength(1);
      return all[0].Properties;
    };

    it('reads the ledger stream from its start, in batches, with partial batch responses, bisection and a bounded retry', () => {
      const p = mapping();
      expect(p.EventSourceArn).toEqual({ 'Fn::GetAtt': [ids.tables.ledger, 'StreamArn'] });
      expect(p.StartingPosition).toBe('TRIM_HORIZON');
      expect(p.BatchSize).toBe(FAN_OUT_BATCH_SIZE);
      expect(p.MaximumBatchingWindowInSeconds).toBeGreaterThanOrEqual(1);
      expect(p.MaximumBatchingWindowInSeconds).toBeLessThanOrEqual(5);
      expect(p.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(p.BisectBatchOnFunctionError).toBe(true);
      expect(p.MaximumRetryAttempts).toBe(FAN_OUT_RETRY_ATTEMPTS);
    });

    it('sends batches whose retries ran out to its failure queue (encrypted, TLS only, kept 14 days)', () => {
      expect(mapping().DestinationConfig).toEqual({ OnFailure: { Destination: arnOf(ids.fanOut.failures) } });
      const q = (t.toJSON().Resources as Json)[ids.fanOut.failures].Properties;
      expect(q).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    });

    it('is invoked only for INSERTs of accepted conversion items (the event filter; other writes cost nothing)', () => {
      const filters = mapping().FilterCriteria.Filters.map((f: Json) => JSON.parse(f.Pattern));
      expect(filters).toEqual([{ eventName: ['INSERT'], dynamodb: { NewImage: { sk: { S: ['conversion'] }, status: { S: ['accepted'] } } } }]);
    });
  });

  describe.each(destinations.map((d) => [d.name, d] as const))('destination %s', (name, definition) => {
    const resources = () => t.toJSON().Resources as Json;
    const d = () => ids.destinations[name];

    it('has a queue and a DLQ, both encrypted with SQS-managed SSE', () => {
      for (const id of [d().queue, d().dlq]) {
        expect(resources()[id].Type).toBe('AWS::SQS::Queue');
        expect(resources()[id].Properties.SqsManagedSseEnabled, id).toBe(true);
      }
    });

    it('denies non-TLS access to both queues', () => {
      for (const id of [d().queue, d().dlq]) {
        t.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: Match.arrayWith([ref(id)]),
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Effect: 'Deny',
                Action: 'sqs:*',
                Principal: { AWS: '*' },
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
                Resource: arnOf(id),
              }),
            ]),
          },
        });
      }
    });

    it('redrives to the DLQ after redriveMaxReceiveCount(DEFAULT_MAX_ATTEMPTS) receives, after the sender has given up itself', () => {
      const queue = resources()[d().queue].Properties;
      expect(queue.RedrivePolicy).toEqual({ deadLetterTargetArn: arnOf(d().dlq), maxReceiveCount: redriveMaxReceiveCount(DEFAULT_MAX_ATTEMPTS) });
      // The sender dead-letters a message with its reason after RELAY_MAX_ATTEMPTS; SQS redrive is only the backstop.
      const senderMaxAttempts = Number(envOf(t, d().sender)[MAX_ATTEMPTS_ENV]);
      expect(senderMaxAttempts).toBe(DEFAULT_MAX_ATTEMPTS);
      expect(queue.RedrivePolicy.maxReceiveCount).toBeGreaterThan(senderMaxAttempts);
      expect(resources()[d().dlq].Properties.RedrivePolicy).toBeUndefined();
    });

    it('keeps dead letters for the SQS maximum of 14 days, no shorter than the queue keeps messages', () => {
      const dlqRetention = resources()[d().dlq].Properties.MessageRetentionPeriod;
      expect(dlqRetention).toBe(14 * 24 * 3600);
      expect(dlqRetention).toBeGreaterThanOrEqual(resources()[d().queue].Properties.MessageRetentionPeriod ?? 4 * 24 * 3600);
    });

    it("has a visibility timeout of at least 6× the sender's timeout (the AWS rule for SQS event sources)", () => {
      const visibility: number = resources()[d().queue].Properties.VisibilityTimeout;
      const timeout: number = resources()[d().sender].Properties.Timeout;
      expect(typeof visibility).toBe('number');
      expect(typeof timeout).toBe('number');
      expect(visibility).toBeGreaterThanOrEqual(6 * timeout);
    });

    it('feeds the sender through an event source mapping with partial batch responses and the platform batch size (what fits in 6 MB)', () => {
      const mappings = Object.values(t.findResources('AWS::Lambda::EventSourceMapping', { Properties: { EventSourceArn: arnOf(d().queue) } }));
      expect(mappings).toHaveLength(1);
      const p = mappings[0].Properties;
      expect(p.FunctionName).toEqual(ref(d().sender));
      expect(p.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      // Lambda's 6 MB invocation payload holds ~3000 SQS records carrying a Conversion (~1.8 KB each, bench).
      expect(p.BatchSize).toBe(Math.min(definition.maxBatchSize, 3_000));
      expect(p.MaximumBatchingWindowInSeconds).toBeGreaterThanOrEqual(1);
      expect(p.MaximumBatchingWindowInSeconds).toBeLessThanOrEqual(300);
      if (p.ScalingConfig?.MaximumConcurrency !== undefined) expect(p.ScalingConfig.MaximumConcurrency).toBeGreaterThanOrEqual(2);
    });

    it('alarms to SNS on the first message visible in the DLQ', () => {
      const alarms = Object.values(
        t.findResources('AWS::CloudWatch::Alarm', {
          Properties: {
            Namespace: 'AWS/SQS',
            MetricName: 'ApproximateNumberOfMessagesVisible',
            Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [d().dlq, 'QueueName'] } }],
          },
        }),
      );
      expect(alarms).toHaveLength(1);
      const p = alarms[0].Properties;
      expect(p.AlarmActions).toHaveLength(1);
      const topicId: string = p.AlarmActions[0].Ref;
      expect(resources()[topicId].Type).toBe('AWS::SNS::Topic');
      // One message is enough to alarm.
      expect(p.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
      expect(p.Threshold).toBe(1);
    });
  });

  describe('secrets', () => {
    it('has one secret per source and per destination, with no value in the template', () => {
      const secrets = t.findResources('AWS::SecretsManager::Secret');
      const expected = [...Object.values(ids.sources), ...Object.values(ids.destinations)].map((x) => x.secret);
      expect(Object.keys(secrets).sort()).toEqual([...new Set(expected)].sort());
      expect(expected).toHaveLength(sources.length + destinations.length);
      for (const [id, secret] of Object.entries(secrets)) {
        expect(secret.Properties.SecretString, id).toBeUndefined();
        expect(secret.Properties.GenerateSecretString?.SecretStringTemplate, id).toBeUndefined();
      }
    });

    it('lets each sender read its own secret and no source’s, and the stripe ingest no destination’s', () => {
      const stripe = ids.sources.stripe;
      const ingest = grantsOf(t, stripe.handler);
      expect(allows(ingest, 'secretsmanager:GetSecretValue', stripe.secret)).toBe(true);
      for (const [name, d] of Object.entries(ids.destinations)) {
        const sender = grantsOf(t, d.sender);
        expect(allows(sender, 'secretsmanager:GetSecretValue', d.secret), name).toBe(true);
        expect(touches(sender, stripe.secret), name).toBe(false);
        for (const [other, o] of Object.entries(ids.destinations)) if (other !== name) expect(touches(sender, o.secret), `${name} → ${other}`).toBe(false);
        expect(touches(ingest, d.secret), name).toBe(false);
      }
    });

    it('lets every function read only its own secret', () => {
      const allSecrets = Object.keys(t.findResources('AWS::SecretsManager::Secret'));
      const own: Record<string, string | undefined> = {
        [ids.collect]: undefined,
        ...Object.fromEntries(Object.values(ids.sources).map((s) => [s.handler, s.secret])),
        ...Object.fromEntries(Object.values(ids.destinations).map((d) => [d.sender, d.secret])),
      };
      for (const fn of allFunctionIds()) {
        const readable = allSecrets.filter((s) => allows(grantsOf(t, fn), 'secretsmanager:GetSecretValue', s));
        expect(readable, fn).toEqual(own[fn] ? [own[fn]] : []);
      }
    });
  });

  describe('least privilege', () => {
    it('grants no function a wildcard action or a "*" resource', () => {
      for (const fn of allFunctionIds()) {
        for (const g of grantsOf(t, fn)) {
          expect(g.resource, `${fn} ${g.action}`).not.toBe('"*"');
          expect(g.action, fn).not.toMatch(/\*/);
        }
      }
    });

    it('lets collect write visitors only: no SQS, no SNS, no secrets, no ledger', () => {
      const collect = grantsOf(t, ids.collect);
      expect(allows(collect, 'dynamodb:UpdateItem', ids.tables.visitors)).toBe(true);
      expect(collect.filter((g) => /^(sqs|secretsmanager|kms):/i.test(g.action))).toEqual([]);
      expect(touches(collect, ids.tables.ledger)).toBe(false);
    });

    it('lets the stripe ingest put and get ledger items (the commit, skip records) and nothing else there, and touch no queue', () => {
      const ingest = grantsOf(t, ids.sources.stripe.handler);
      for (const d of Object.values(ids.destinations)) {
        expect(touches(ingest, d.queue)).toBe(false);
        expect(touches(ingest, d.dlq)).toBe(false);
      }
      expect(ingest.filter((g) => /^(sqs|sns|kms):/i.test(g.action))).toEqual([]);
      const onLedger = ingest.filter((g) => g.resource.includes(`"${ids.tables.ledger}"`)).map((g) => g.action);
      expect(new Set(onLedger)).toEqual(new Set(['dynamodb:PutItem', 'dynamodb:GetItem']));
    });

    it('lets the fan-out read the ledger stream and send to the destination queues and its failure queue, nothing else', () => {
      const grants = grantsOf(t, ids.fanOut.handler);
      for (const [name, d] of Object.entries(ids.destinations)) {
        expect(allows(grants, 'sqs:SendMessage', d.queue), name).toBe(true);
        expect(touches(grants, d.dlq), name).toBe(false);
        expect(allows(grants, 'sqs:ReceiveMessage', d.queue), name).toBe(false);
      }
      expect(allows(grants, 'sqs:SendMessage', ids.fanOut.failures)).toBe(true);
      const dynamo = grants.filter((g) => g.action.startsWith('dynamodb:'));
      expect(dynamo.length).toBeGreaterThan(0);
      // Stream reads only (the stream ARN is an attribute of the ledger table): no item of either table.
      for (const g of dynamo) expect(g.action, g.action).toMatch(/^dynamodb:(DescribeStream|GetRecords|GetShardIterator|ListStreams)$/);
      expect(touches(grants, ids.tables.visitors)).toBe(false);
      expect(grants.filter((g) => /^(sns|secretsmanager|kms):/i.test(g.action))).toEqual([]);
    });

    it('knows every destination queue by the variable the fan-out reads, and the failure queue', () => {
      const env = envOf(t, ids.fanOut.handler);
      for (const [name, d] of Object.entries(ids.destinations)) expect(env[queueUrlEnv(name)], name).toEqual(ref(d.queue));
      expect(env[FAN_OUT_FAILURES_ENV]).toEqual(ref(ids.fanOut.failures));
    });

    it('has no SNS topic for conversions and no KMS key (the ledger stream fans out)', () => {
      expect(Object.keys(t.findResources('AWS::SNS::Topic'))).toHaveLength(1);
      expect(Object.keys(t.findResources('AWS::SNS::Subscription'))).toHaveLength(0);
      t.resourceCountIs('AWS::KMS::Key', 0);
    });

    it.each(destinations.map((d) => d.name))('lets the %s sender consume its queue, write its DLQ, and put messages back on its own queue for later', (name) => {
      const { queue, dlq, sender } = ids.destinations[name];
      const grants = grantsOf(t, sender);
      for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']) expect(allows(grants, action, queue), action).toBe(true);
      expect(allows(grants, 'sqs:SendMessage', dlq)).toBe(true);
      // Status checks of asynchronously processed requests, and waits longer than SQS can hide a message, go back on
      // the sender's own queue (functions/handlers/follow-up.ts, sender.ts).
      expect(allows(grants, 'sqs:SendMessage', queue)).toBe(true);
      // Nor can it consume or purge its DLQ: dead letters are for humans.
      expect(allows(grants, 'sqs:ReceiveMessage', dlq)).toBe(false);
      expect(allows(grants, 'sqs:DeleteMessage', dlq)).toBe(false);
      expect(allows(grants, 'sqs:PurgeQueue', dlq)).toBe(false);
      // And it touches no other destination's queues.
      for (const [other, o] of Object.entries(ids.destinations)) {
        if (other !== name) expect(touches(grants, o.queue) || touches(grants, o.dlq), `${name} → ${other}`).toBe(false);
      }
    });

    it.each(destinations.map((d) => d.name))('lets the %s sender write the ledger, and nothing of visitors (it uses none)', (name) => {
      const grants = grantsOf(t, ids.destinations[name].sender);
      expect(allows(grants, 'dynamodb:BatchWriteItem', ids.tables.ledger)).toBe(true);
      expect(touches(grants, ids.tables.visitors)).toBe(false);
    });

    it.each(destinations.map((d) => [d.name, d.dependsOn !== undefined] as const))(
      'lets the %s sender read ledger rows only if its conversions wait for earlier ones (%s), query only its own batch records, and never scan',
      (name, dependent) => {
        const grants = grantsOf(t, ids.destinations[name].sender);
        expect(allows(grants, 'dynamodb:BatchGetItem', ids.tables.ledger)).toBe(dependent);
        expect(allows(grants, 'dynamodb:Scan', ids.tables.ledger)).toBe(false);
        // A Query only of the partitions holding this destination's batch records (`B#<destination>#<hour>`).
        const roleId: string = t.toJSON().Resources[ids.destinations[name].sender].Properties.Role['Fn::GetAtt'][0];
        const queries = Object.values(t.findResources('AWS::IAM::Policy'))
          .filter((p) => toArray(p.Properties.Roles).some((r: Json) => r.Ref === roleId))
          .flatMap((p) => toArray<Json>(p.Properties.PolicyDocument.Statement))
          .filter((st) => toArray<string>(st.Action).some((a) => actionCovers(a, 'dynamodb:Query')) && JSON.stringify(st.Resource).includes(`"${ids.tables.ledger}"`));
        const own = queries.filter((st) => JSON.stringify(st.Condition) === JSON.stringify({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`B#${name}#*`] } }));
        expect(allows(grants, 'dynamodb:Query', ids.tables.ledger)).toBe(dependent);
        expect(own.length, 'a Query grant conditioned on its own batch partitions').toBe(dependent ? 1 : 0);
        expect(queries.length, 'no other Query grant').toBe(own.length);
      },
    );
  });

  describe('alarm notifications', () => {
    it('has no e-mail subscription without alarmEmail', () => {
      expect(Object.values(t.findResources('AWS::SNS::Subscription'))).toEqual([]);
    });

    it('subscribes alarmEmail to the topic the DLQ alarms publish to', () => {
      const { stack: withEmail } = build({ alarmEmail: 'ops@example.com' });
      const te = Template.fromStack(withEmail);
      const alarm = Object.values(te.findResources('AWS::CloudWatch::Alarm'))[0];
      expect(Object.values(te.findResources('AWS::SNS::Subscription')).filter((s: any) => s.Properties.Protocol === 'email')).toHaveLength(1);
      te.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: alarm.Properties.AlarmActions[0] });
    });
  });

  describe('monitoring: dashboard and alarms', () => {
    const dashboardBody = () => {
      const dashboards = Object.values(t.findResources('AWS::CloudWatch::Dashboard'));
      expect(dashboards).toHaveLength(1);
      // The body is a Fn::Join of literal text and resource references: keep the text, name the references.
      const parts: unknown[] = dashboards[0].Properties.DashboardBody['Fn::Join'][1];
      return parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join('');
    };
    const alarmsTo = (topicId: string) =>
      Object.values(t.findResources('AWS::CloudWatch::Alarm')).filter((a) => (a.Properties.AlarmActions ?? []).some((x: Json) => x.Ref === topicId));
    const topicId = () => Object.keys(t.findResources('AWS::SNS::Topic'))[0];
    /** Whether the dashboard graphs the relay metric `name` with these dimensions (in any order). */
    const graphs = (body: string, name: string, dims: Record<string, string>) =>
      [...body.matchAll(new RegExp(`\\["ConversionRelay","${name}",((?:"[^"]*",?)*)`, 'g'))].some((m) => {
        const flat: string[] = JSON.parse(`[${m[1].replace(/,$/, '')}]`);
        const pairs = Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])));
        return Object.entries({ service: 'conversion-relay', ...dims }).every(([k, v]) => pairs[k] === v);
      });

    it('has one dashboard showing each source’s and each destination’s metrics, the DLQ depths, each function URL’s requests and the API’s 5xx', () => {
      const body = dashboardBody();
      for (const s of sources) {
        for (const name of [SOURCE_METRICS.accepted, SOURCE_METRICS.errors]) expect(graphs(body, name, { source: s.name }), name).toBe(true);
        expect(body).toContain(`MetricName=\\"${SOURCE_METRICS.rejected}\\" source=\\"${s.name}\\"`);
      }
      for (const d of destinations) {
        for (const name of [DESTINATION_METRICS.delivered, DESTINATION_METRICS.failedTransient, DESTINATION_METRICS.failedPermanent, DESTINATION_METRICS.batchSize, DESTINATION_METRICS.platformLatency]) {
          expect(graphs(body, name, { destination: d.name }), name).toBe(true);
        }
        expect(body).toContain(`MetricName=\\"${DESTINATION_METRICS.skipped}\\" destination=\\"${d.name}\\"`);
        expect(body).toContain(`"AWS/SQS","ApproximateNumberOfMessagesVisible","QueueName","${JSON.stringify({ 'Fn::GetAtt': [ids.destinations[d.name].dlq, 'QueueName'] })}"`);
      }
      expect(body).toMatch(/"AWS\/ApiGateway","5xx"/);
      for (const [name, s] of Object.entries(ids.sources)) {
        for (const metric of ['UrlRequestCount', 'Url4xxCount', 'Url5xxCount']) {
          expect(body, `${name} ${metric}`).toContain(`"AWS/Lambda","${metric}","FunctionName","${JSON.stringify(ref(s.handler))}"`);
        }
      }
    });

    it('graphs the fan-out: invocations, errors, iterator age and its failure queue', () => {
      const body = dashboardBody();
      const fn = JSON.stringify({ Ref: ids.fanOut.handler });
      for (const metric of ['Invocations', 'Errors', 'IteratorAge']) expect(body).toContain(`"AWS/Lambda","${metric}","FunctionName","${fn}"`);
      expect(body).toContain(`"AWS/SQS","ApproximateNumberOfMessagesVisible","QueueName","${JSON.stringify({ 'Fn::GetAtt': [ids.fanOut.failures, 'QueueName'] })}"`);
    });

    it('alarms to the SNS topic on /collect 5xx (the HTTP API)', () => {
      const alarms = alarmsTo(topicId()).filter((a) => a.Properties.Namespace === 'AWS/ApiGateway' && a.Properties.MetricName === '5xx');
      expect(alarms).toHaveLength(1);
      expect(alarms[0].Properties).toMatchObject({ Statistic: 'Sum', Period: 300, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
    });

    it('alarms to the SNS topic, per source, on webhooks answered 5xx, on throttled webhooks and on a spike of 4xx', () => {
      const alarmOn = (functionId: string, metric: string) =>
        alarmsTo(topicId()).filter(
          (a) => a.Properties.Namespace === 'AWS/Lambda' && a.Properties.MetricName === metric && JSON.stringify(a.Properties.Dimensions) === JSON.stringify([{ Name: 'FunctionName', Value: ref(functionId) }]),
        );
      for (const [name, s] of Object.entries(ids.sources)) {
        const expected = { Url5xxCount: 5, Throttles: 1, Url4xxCount: 100 };
        for (const [metric, threshold] of Object.entries(expected)) {
          const alarms = alarmOn(s.handler, metric);
          expect(alarms, `${name} ${metric}`).toHaveLength(1);
          expect(alarms[0].Properties).toMatchObject({ Statistic: 'Sum', Period: 300, Threshold: threshold, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
        }
      }
    });

    it('alarms to the SNS topic, per destination, on failures sustained for 15 minutes with nothing delivered', () => {
      for (const d of destinations) {
        const alarms = alarmsTo(topicId()).filter((a) => JSON.stringify(a.Properties.Metrics ?? []).includes(`"Value":"${d.name}"`) && JSON.stringify(a.Properties.Metrics).includes(DESTINATION_METRICS.failedTransient));
        expect(alarms, d.name).toHaveLength(1);
        expect(alarms[0].Properties).toMatchObject({ EvaluationPeriods: 3, DatapointsToAlarm: 3, Threshold: 1 });
        expect(JSON.stringify(alarms[0].Properties.Metrics)).toContain(DESTINATION_METRICS.delivered);
      }
    });

    it('graphs each destination’s match score and click-attach rate, and alarms when the score stays under the floor', () => {
      const body = dashboardBody();
      for (const d of destinations) {
        expect(graphs(body, DESTINATION_METRICS.matchScore, { destination: d.name }), d.name).toBe(true);
        expect(graphs(body, DESTINATION_METRICS.clickAttached, { destination: d.name }), d.name).toBe(true);
        const alarms = alarmsTo(topicId()).filter((a) => a.Properties.MetricName === DESTINATION_METRICS.matchScore && JSON.stringify(a.Properties.Dimensions).includes(`"Value":"${d.name}"`));
        expect(alarms, d.name).toHaveLength(1);
        expect(alarms[0].Properties).toMatchObject({ Threshold: 4, Statistic: 'Average', Period: 3600, EvaluationPeriods: 6, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'notBreaching' });
      }
      // The click-attach alarm is off by default (organic buyers never clicked an ad).
      expect(Object.values(t.findResources('AWS::CloudWatch::Alarm')).filter((a) => a.Properties.MetricName === DESTINATION_METRICS.clickAttached)).toHaveLength(0);
    });

    it('takes the match floors from configuration, per destination too', () => {
      const { stack } = build({ matchFloors: { score: 6, clickAttach: 20, perDestination: { 'google-ads': { clickAttach: 70 } } } });
      const alarms = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm'));
      const floor = (metric: string, dest: string) => alarms.find((a) => a.Properties.MetricName === metric && JSON.stringify(a.Properties.Dimensions).includes(`"Value":"${dest}"`))?.Properties.Threshold;
      expect(floor(DESTINATION_METRICS.matchScore, 'meta')).toBe(6);
      expect(floor(DESTINATION_METRICS.clickAttached, 'meta')).toBe(20);
      expect(floor(DESTINATION_METRICS.clickAttached, 'google-ads')).toBe(70);
    });

    it('alarms to the topic on fan-out errors, its iterator age and its failure queue', () => {
      const fanOut = alarmsTo(topicId()).filter((a) => JSON.stringify(a.Properties.Dimensions ?? []).includes(ids.fanOut.handler) || JSON.stringify(a.Properties.Dimensions ?? []).includes(ids.fanOut.failures));
      expect(fanOut.map((a) => a.Properties.MetricName).sort()).toEqual(['ApproximateNumberOfMessagesVisible', 'Errors', 'IteratorAge']);
      const age = fanOut.find((a) => a.Properties.MetricName === 'IteratorAge')!.Properties;
      expect(age).toMatchObject({ Statistic: 'Maximum', Namespace: 'AWS/Lambda' });
      expect(age.Threshold).toBeLessThanOrEqual(15 * 60_000);
    });

    it('sends every alarm to the topic (DLQ depth, sustained failures, match score; /collect 5xx; webhook 5xx, throttles, 4xx; fan-out)', () => {
      const all = Object.values(t.findResources('AWS::CloudWatch::Alarm'));
      expect(all).toHaveLength(destinations.length * 3 + 1 + sources.length * 3 + 3);
      expect(alarmsTo(topicId())).toHaveLength(all.length);
    });

    it('outputs what the operator CLI reads: the ledger table and each destination’s queue and DLQ', () => {
      const outputs = t.toJSON().Outputs as Json;
      expect(outputs.LedgerTableName.Value).toEqual(ref(ids.tables.ledger));
      for (const d of destinations) {
        expect(outputs[`${d.name}QueueUrl`.replace(/[^A-Za-z0-9]/g, '')].Value).toEqual(ref(ids.destinations[d.name].queue));
        expect(outputs[`${d.name}DeadLetterQueueUrl`.replace(/[^A-Za-z0-9]/g, '')].Value).toEqual(ref(ids.destinations[d.name].dlq));
      }
    });
  });

  it('matches the snapshot (asset hashes scrubbed)', () => {
    expect(scrubbed(t)).toMatchSnapshot();
  });
});

describe('cdk-nag (AwsSolutions)', () => {
  function nagged({ acknowledge, tamper }: { acknowledge: boolean; tamper?: (stack: Stack) => void }) {
    const { app, stack } = build();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    tamper?.(stack);
    if (acknowledge) acknowledgeNagFindings(stack);
    return () => app.synth();
  }
  const failure = (synth: () => unknown): Error => {
    try {
      synth();
    } catch (err) {
      return err as Error;
    }
    throw new Error('synth passed, expected cdk-nag to fail it');
  };

  it('passes with the acknowledgements of lib/nag.ts (as bin/app.ts runs it)', () => {
    expect(nagged({ acknowledge: true })).not.toThrow();
  });

  it('fails without them: the gate is live (unauthenticated routes, AwsSolutions-APIG4)', () => {
    const err = failure(nagged({ acknowledge: false }));
    expect(err.name).toBe('ValidationFailed');
    expect(err.message).toContain('AwsSolutions-APIG4');
  });

  it('still fails on a new finding: the acknowledgements are per resource, not blanket', () => {
    const err = failure(
      nagged({
        acknowledge: true,
        tamper: (stack) => void new Queue(stack, 'Unsafe', { encryption: QueueEncryption.UNENCRYPTED }),
      }),
    );
    expect(err.message).toContain('AwsSolutions-SQS4');
    expect(err.message).not.toContain('AwsSolutions-APIG4');
  });
});

describe('bundling (esbuild, as `cdk synth` does it)', () => {
  it('produces a minified ESM bundle with a source map for each function, uploaded as its code', () => {
    const { app, stack } = build({}, { bundle: true });
    const assembly = app.synth();
    const artifact = assembly.getStackArtifact(stack.artifactId);
    const manifest = assembly.artifacts.find((a): a is AssetManifestArtifact => AssetManifestArtifact.isAssetManifestArtifact(a));
    expect(manifest).toBeDefined();
    const files: Json = manifest!.contents.files ?? {};

    const functions = Object.entries(artifact.template.Resources as Json).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
    expect(functions).toHaveLength(3 + sources.length + destinations.length);
    const hashes = new Set<string>();
    for (const [id, fn] of functions) {
      const s3Key: string = fn.Properties.Code.S3Key;
      expect(s3Key, id).toMatch(/^[0-9a-f]{64}\.zip$/);
      const hash = s3Key.replace(/\.zip$/, '');
      hashes.add(hash);
      // The asset manifest uploads the staged bundle directory, zipped, under that key.
      expect(files[hash]?.source, id).toEqual({ path: expect.stringMatching(/^asset\./), packaging: 'zip' });
      for (const destination of Object.values(files[hash].destinations as Json)) expect(destination.objectKey, id).toBe(s3Key);
      const assetPath: string = files[hash].source.path;

      const bundle = path.join(assembly.directory, assetPath, 'index.mjs');
      expect(existsSync(bundle), bundle).toBe(true);
      expect(existsSync(`${bundle}.map`), `${bundle}.map`).toBe(true);
      const code = readFileSync(bundle, 'utf8');
      expect(statSync(bundle).size, id).toBeGreaterThan(1000);
      expect(code, id).toMatch(/export\s*\{[^}]*\bas handler\b[^}]*\}|export\s*\{\s*handler\s*\}/);
      // Minified: few, long lines.
      expect(code.length / code.split('\n').length, id).toBeGreaterThan(500);
    }
    expect(hashes.size).toBe(functions.length);
    // esbuild runs once per function, one more with each destination: on a loaded machine that outgrows the default minute.
  }, 240_000);
});
