import { App, Stack, type CfnElement } from 'aws-cdk-lib';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AssetManifestArtifact } from 'aws-cdk-lib/cx-api';
import { COLLECT_ENTRY, FAN_OUT_ENTRY, SNIPPET_ENTRY, destinationEntry, sourceEntry, destinations, sources } from '../functions/registry.ts';
import { PROJECT_ROOT, RelayFunction } from '../lib/constructs/relay-function.ts';
import { RelayStack } from '../lib/relay-stack.ts';

/** One Lambda function as the synthesized template configures it. */
export interface DeployedFunction {
  /** `collect`, `snippet`, `fan-out`, `ingest-<source>` or `send-<destination>`. */
  name: string;
  /** `other`: a function nobody here knows an event for (the bench reports it, the bundle test fails on it). */
  kind: 'collect' | 'snippet' | 'fan-out' | 'ingest' | 'sender' | 'other';
  /** Source or destination name (empty for collect). */
  subject: string;
  /** Entry file, relative to the project root (from the registry). */
  entry: string;
  logicalId: string;
  memoryMb: number;
  timeoutSeconds: number;
  environment: Record<string, unknown>;
  /** With `bundle: true`: the directory of the code asset the stack uploads (index.mjs and its source map). */
  assetDir?: string;
  /** Reserved concurrency (the ingest functions': their throttle), if the template sets one. */
  reservedConcurrency?: number;
  /** Whether a Lambda function URL serves it (the ingest functions: the sources' webhooks). */
  functionUrl: boolean;
  /** The event source mapping of a sender (SQS) or of the fan-out (the ledger stream), as the template sets it. */
  eventSource?: { batchSize: number; maxBatchingWindowSeconds: number; maxConcurrency?: number; reportBatchItemFailures: boolean };
}

export interface Deployment {
  functions: DeployedFunction[];
  /** The HTTP API (/collect, /t.js) and its stage throttling (for the cost note). */
  api: { protocol: string; throttle?: { rateLimit: number; burstLimit: number } };
}

/**
 * Synthesizes the real stack and reads every function's memory, timeout, environment and event source mapping from
 * the template, so the bench measures what deploys. Bundling is skipped unless `bundle` is set: then each function's
 * code is built as `cdk synth` builds it, and `assetDir` is the staged asset the deployment would upload.
 */
export function synthesizeDeployment({ bundle = false }: { bundle?: boolean } = {}): Deployment {
  const context = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')).context ?? {};
  const app = new App({ context: { ...context, ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) } });
  const stack = new RelayStack(app, 'ConversionRelay');
  const assembly = app.synth();
  const resources: Record<string, any> = assembly.getStackByName(stack.stackName).template.Resources;
  // The asset manifest maps each function's S3 key (<hash>.zip) to the staged directory it zips.
  const manifest = assembly.artifacts.find((a): a is AssetManifestArtifact => AssetManifestArtifact.isAssetManifestArtifact(a));
  const assetDirOf = (code: { S3Key?: string }): string | undefined => {
    const source = manifest?.contents.files?.[String(code?.S3Key ?? '').replace(/\.zip$/, '')]?.source;
    return bundle && source?.path ? path.join(assembly.directory, source.path) : undefined;
  };
  const mappings = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
  const urlTargets = new Set(Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Url').map((r) => r.Properties.TargetFunctionArn?.['Fn::GetAtt']?.[0]));
  const sourceNames = new Set(sources.map((s) => s.name));
  const destinationNames = new Set(destinations.map((d) => d.name));

  const functions = stack.node.findAll().filter((c): c is RelayFunction => c instanceof RelayFunction).map((fn): DeployedFunction => {
    const logicalId = Stack.of(fn).resolve((fn.node.defaultChild as CfnElement).logicalId) as string;
    const props = resources[logicalId].Properties;
    // Construct paths: ConversionRelay/Collect, ConversionRelay/source-<name>/Ingest, ConversionRelay/<destination>/Sender.
    const parts = fn.node.path.split('/');
    let kind: DeployedFunction['kind'];
    let subject = '';
    let entry: string;
    if (parts[1] === 'Collect') {
      kind = 'collect';
      entry = COLLECT_ENTRY;
    } else if (parts[1] === 'Snippet') {
      kind = 'snippet';
      entry = SNIPPET_ENTRY;
    } else if (parts[1] === 'FanOut') {
      kind = 'fan-out';
      entry = FAN_OUT_ENTRY;
    } else if (parts[1].startsWith('source-') && sourceNames.has(parts[1].slice(7))) {
      kind = 'ingest';
      subject = parts[1].slice(7);
      entry = sourceEntry(subject);
    } else if (destinationNames.has(parts[1])) {
      kind = 'sender';
      subject = parts[1];
      entry = destinationEntry(subject);
    } else {
      kind = 'other';
      subject = parts.slice(1).join('/');
      entry = '';
    }
    const esm = mappings.find((m) => m.Properties.FunctionName?.Ref === logicalId)?.Properties;
    return {
      name: kind === 'collect' || kind === 'snippet' || kind === 'fan-out' ? kind : kind === 'ingest' ? `ingest-${subject}` : kind === 'sender' ? `send-${subject}` : subject,
      kind,
      subject,
      entry,
      logicalId,
      memoryMb: props.MemorySize ?? 128,
      timeoutSeconds: props.Timeout ?? 3,
      reservedConcurrency: props.ReservedConcurrentExecutions,
      functionUrl: urlTargets.has(logicalId),
      environment: props.Environment?.Variables ?? {},
      assetDir: assetDirOf(props.Code),
      eventSource: esm && {
        batchSize: esm.BatchSize,
        maxBatchingWindowSeconds: esm.MaximumBatchingWindowInSeconds ?? 0,
        maxConcurrency: esm.ScalingConfig?.MaximumConcurrency,
        reportBatchItemFailures: (esm.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures'),
      },
    };
  });
  const api = Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Api');
  const stage = Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Stage')?.Properties?.DefaultRouteSettings;
  return {
    functions,
    api: {
      protocol: api?.Properties?.ProtocolType ?? 'none',
      throttle: stage ? { rateLimit: stage.ThrottlingRateLimit, burstLimit: stage.ThrottlingBurstLimit } : undefined,
    },
  };
}
