import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { FAN_OUT_FAILURES_ENV, TABLE_ENV, dlqUrlEnv, queueUrlEnv } from '../../functions/core/names.ts';
import { RUNNER_DISCOVERY_FILE, type RunnerDiscovery } from '../local/discovery.ts';
import { streamsClient, type StreamsApi } from './dynamodb-streams.ts';

/**
 * Where the operator CLI acts: the local runner (found through the discovery file in its data directory) or a
 * deployed stack (found through `cdk deploy --outputs-file`, or the same environment variables the functions read).
 */
export interface Target {
  kind: 'local' | 'aws';
  /** One line for humans: what the CLI is talking to. */
  description: string;
  sqs: SQSClient;
  ddb: DynamoDBDocumentClient;
  ledgerTable: string;
  /** Destination name → its queue and dead-letter queue URLs. */
  queues: Record<string, { url: string; dlqUrl: string }>;
  /** AWS: destination name → the ARN of its credentials secret (what its sender reads), and a client to read them. */
  secretArns: Record<string, string>;
  secrets?: SecretsManagerClient;
  /** The fan-out's failure queue (`FanOutFailureQueueUrl`), when known. */
  fanOutFailuresUrl?: string;
  /** A DynamoDB Streams reader for a stream (by its ARN, which names its region); locally, the runner's journal. */
  streams(streamArn: string): StreamsApi;
  /**
   * The environment the functions' own stores read (table names, queue URLs, local endpoints): a command that feeds
   * the ingest pipeline itself (backfill) sets it before it loads them.
   */
  functionEnvironment: Record<string, string>;
}

/** Overrides a destination's secret ARN from the stack outputs (`<dest>SecretArn`), as the queue URLs can be. */
export const secretArnEnv = (destination: string) => `RELAY_SECRET_ARN_${destination.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

/** A failure the operator can act on: printed as is, without a stack trace. */
export class OperatorError extends Error {}

export interface TargetOptions {
  local?: boolean;
  aws?: boolean;
  dataDir?: string;
  outputs?: string;
  stack?: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  destinations: readonly string[];
}

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export async function resolveTarget(opts: TargetOptions): Promise<Target> {
  const dataDir = path.resolve(opts.cwd, opts.dataDir ?? opts.env.RELAY_DATA_DIR ?? '.relay-data');
  const outputsFile = path.resolve(opts.cwd, opts.outputs ?? 'cdk-outputs.json');
  const fromEnv = awsFromEnv(opts.env, opts.destinations);
  if (opts.local) return local(dataDir);
  if (opts.aws || opts.outputs || opts.stack) return aws(outputsFile, opts, fromEnv);
  if (existsSync(path.join(dataDir, RUNNER_DISCOVERY_FILE))) return local(dataDir);
  if (existsSync(outputsFile) || fromEnv) return aws(outputsFile, opts, fromEnv);
  throw new OperatorError(
    [
      'Nothing to operate on:',
      `  - no local relay is running with its data in ${dataDir} (start one with \`npm start\`, or pass --data-dir), and`,
      `  - no stack outputs at ${outputsFile} (deploy with \`npx cdk deploy --outputs-file cdk-outputs.json\`, or pass --outputs),`,
      `    and no ${TABLE_ENV.ledger} / RELAY_QUEUE_URL_<DEST> / RELAY_DLQ_URL_<DEST> in the environment.`,
    ].join('\n'),
  );
}

async function local(dataDir: string): Promise<Target> {
  const file = path.join(dataDir, RUNNER_DISCOVERY_FILE);
  if (!existsSync(file)) {
    throw new OperatorError(`No local relay is running with its data in ${dataDir}: start it with \`npm start\` (or pass --data-dir to the directory it uses).`);
  }
  const found = JSON.parse(readFileSync(file, 'utf8')) as RunnerDiscovery;
  // A crashed runner leaves its file behind: check that something answers before blaming the commands.
  try {
    await fetch(`${found.url}/health`, { signal: AbortSignal.timeout(3000) });
  } catch {
    throw new OperatorError(`The local relay recorded in ${file} (pid ${found.pid}, ${found.url}) does not answer: start it again with \`npm start\`.`);
  }
  const clientOpts = { region: 'us-east-1', credentials: LOCAL_CREDENTIALS };
  return {
    kind: 'local',
    description: `local relay at ${found.url} (data in ${dataDir})`,
    sqs: new SQSClient({ ...clientOpts, endpoint: found.endpoints.sqs }),
    ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ ...clientOpts, endpoint: found.endpoints.dynamodb }), { marshallOptions: { removeUndefinedValues: true } }),
    ledgerTable: found.tables.ledger,
    queues: found.queues,
    // The local runner reads credentials from the environment and .env, as the CLI does.
    secretArns: {},
    fanOutFailuresUrl: found.fanOutFailures,
    // The DynamoDB emulator answers the DynamoDB Streams calls from the ledger stream's journal (lib/local/stream.ts).
    streams: () => streamsClient({ region: clientOpts.region, endpoint: found.endpoints.dynamodb, credentials: async () => LOCAL_CREDENTIALS }),
    functionEnvironment: {
      AWS_REGION: clientOpts.region,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: found.endpoints.dynamodb,
      AWS_ENDPOINT_URL_SQS: found.endpoints.sqs,
      [TABLE_ENV.visitors]: found.tables.visitors,
      [TABLE_ENV.ledger]: found.tables.ledger,
      ...queueEnvironment(found.queues),
    },
  };
}

interface AwsNames {
  ledgerTable?: string;
  visitorsTable?: string;
  queues: Record<string, { url?: string; dlqUrl?: string }>;
  secretArns?: Record<string, string>;
  fanOutFailuresUrl?: string;
}

function awsFromEnv(env: NodeJS.ProcessEnv, destinations: readonly string[]): AwsNames | undefined {
  const queues: AwsNames['queues'] = {};
  for (const d of destinations) {
    const url = env[queueUrlEnv(d)];
    const dlqUrl = env[dlqUrlEnv(d)];
    if (url || dlqUrl) queues[d] = { url, dlqUrl };
  }
  const secretArns = Object.fromEntries(destinations.flatMap((d) => (env[secretArnEnv(d)] ? [[d, env[secretArnEnv(d)]!]] : [])));
  const ledgerTable = env[TABLE_ENV.ledger];
  return ledgerTable || Object.keys(queues).length ? { ledgerTable, visitorsTable: env[TABLE_ENV.visitors], queues, secretArns, fanOutFailuresUrl: env[FAN_OUT_FAILURES_ENV] } : undefined;
}

/** CfnOutput IDs become output keys without their non-alphanumeric characters (see lib/relay-stack.ts). */
export const outputKey = (name: string) => name.replace(/[^A-Za-z0-9]/g, '');

function awsFromOutputs(file: string, stack: string | undefined, destinations: readonly string[]): AwsNames {
  let all: Record<string, Record<string, string>>;
  try {
    all = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new OperatorError(`Cannot read stack outputs from ${file}: ${(err as Error).message}. Write them with \`npx cdk deploy --outputs-file ${path.basename(file)}\`.`);
  }
  const stacks = Object.keys(all);
  const name = stack ?? (stacks.length === 1 ? stacks[0] : stacks.find((s) => all[s]?.LedgerTableName));
  if (!name || !all[name]) {
    throw new OperatorError(`${file} has outputs for ${stacks.join(', ') || 'no stack'}; say which with --stack <name>.`);
  }
  const outputs = all[name];
  const queues: AwsNames['queues'] = {};
  for (const d of destinations) {
    const url = outputs[outputKey(`${d}QueueUrl`)];
    const dlqUrl = outputs[outputKey(`${d}DeadLetterQueueUrl`)];
    if (url || dlqUrl) queues[d] = { url, dlqUrl };
  }
  const secretArns = Object.fromEntries(destinations.flatMap((d) => (outputs[outputKey(`${d}SecretArn`)] ? [[d, outputs[outputKey(`${d}SecretArn`)]]] : [])));
  return { ledgerTable: outputs.LedgerTableName, visitorsTable: outputs.VisitorsTableName, queues, secretArns, fanOutFailuresUrl: outputs.FanOutFailureQueueUrl };
}

async function aws(outputsFile: string, opts: TargetOptions, fromEnv: AwsNames | undefined): Promise<Target> {
  const fromFile = existsSync(outputsFile) ? awsFromOutputs(outputsFile, opts.stack, opts.destinations) : undefined;
  if (!fromFile && !fromEnv) {
    throw new OperatorError(`No stack outputs at ${outputsFile}: deploy with \`npx cdk deploy --outputs-file cdk-outputs.json\` or pass --outputs <file>.`);
  }
  // The environment wins over the file, as it does for the functions.
  const ledgerTable = fromEnv?.ledgerTable ?? fromFile?.ledgerTable;
  const queues: Target['queues'] = {};
  for (const d of opts.destinations) {
    const url = fromEnv?.queues[d]?.url ?? fromFile?.queues[d]?.url;
    const dlqUrl = fromEnv?.queues[d]?.dlqUrl ?? fromFile?.queues[d]?.dlqUrl;
    if (url && dlqUrl) queues[d] = { url, dlqUrl };
  }
  const anyUrl = Object.values(queues)[0]?.url;
  const secretArns = { ...fromFile?.secretArns, ...fromEnv?.secretArns };
  const anyArn = Object.values(secretArns)[0];
  const region =
    opts.env.AWS_REGION ?? opts.env.AWS_DEFAULT_REGION ?? (anyUrl ? /sqs\.([a-z0-9-]+)\.amazonaws/.exec(anyUrl)?.[1] : undefined) ?? (anyArn ? /^arn:[^:]+:secretsmanager:([a-z0-9-]+):/.exec(anyArn)?.[1] : undefined);
  const tables: Record<string, string | undefined> = {
    [TABLE_ENV.visitors]: fromEnv?.visitorsTable ?? fromFile?.visitorsTable,
    [TABLE_ENV.ledger]: ledgerTable,
  };
  const dynamodb = new DynamoDBClient({ region });
  return {
    kind: 'aws',
    description: `AWS stack${opts.stack ? ` ${opts.stack}` : ''}${region ? ` in ${region}` : ''}`,
    sqs: new SQSClient({ region }),
    ddb: DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } }),
    ledgerTable: ledgerTable ?? '',
    queues,
    secretArns,
    secrets: new SecretsManagerClient({ region }),
    fanOutFailuresUrl: fromEnv?.fanOutFailuresUrl ?? fromFile?.fanOutFailuresUrl,
    // The stream's own region (from its ARN); the credentials the SDK clients resolve (environment, profile, role).
    streams: (streamArn) => {
      const streamRegion = /^arn:[^:]+:dynamodb:([a-z0-9-]+):/.exec(streamArn)?.[1] ?? region;
      if (!streamRegion) throw new OperatorError(`No region for the stream ${streamArn}: set AWS_REGION.`);
      return streamsClient({ region: streamRegion, endpoint: opts.env.AWS_ENDPOINT_URL_DYNAMODB_STREAMS, credentials: () => dynamodb.config.credentials() });
    },
    functionEnvironment: {
      ...(region ? { AWS_REGION: region } : {}),
      ...(Object.fromEntries(Object.entries(tables).filter(([, v]) => v)) as Record<string, string>),
      ...queueEnvironment(queues),
    },
  };
}

function queueEnvironment(queues: Target['queues']): Record<string, string> {
  return Object.fromEntries(Object.entries(queues).flatMap(([d, q]) => [[queueUrlEnv(d), q.url], [dlqUrlEnv(d), q.dlqUrl]]));
}

export function requireLedger(target: Target): string {
  if (!target.ledgerTable) throw new OperatorError(`The ledger table name is unknown: the stack outputs have no LedgerTableName (redeploy) or set ${TABLE_ENV.ledger}.`);
  return target.ledgerTable;
}

/** The destinations a command acts on: one (checked) or all the target knows. */
export function pickDestinations(target: Target, destination: string | undefined): string[] {
  const known = Object.keys(target.queues);
  if (destination === undefined) {
    if (known.length === 0) throw new OperatorError('No destination queues are known for this target (check the stack outputs or the environment).');
    return known;
  }
  if (!known.includes(destination)) {
    throw new OperatorError(`Unknown destination "${destination}": this relay has ${known.join(', ') || 'none'}.`);
  }
  return [destination];
}
