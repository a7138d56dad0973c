import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import path from 'node:path';
import { PROJECT_ROOT } from '../project-root.ts';

export { PROJECT_ROOT };

/**
 * esbuild settings shared by every function: ESM, minified, Node 24 on arm64, and a `require` shim for the CommonJS
 * dependencies bundled into ESM. `bench/` builds the same way.
 * - The AWS SDK v3 is bundled, not left to the runtime's copy: an ESM bundle importing the runtime's `@aws-sdk/*`
 *   loads each package's CommonJS build through Node's ESM-to-CJS bridge (file resolution, then cjs-module-lexer
 *   scanning every file for its export names), ~100 ms of a cold start; bundled, only the parts used are kept (from
 *   the packages' ES builds, tree-shaken) and loaded with the rest of the file. It also pins the SDK version.
 * - Source maps without the sources' text: Node (`--enable-source-maps`) reads and parses the whole map at import,
 *   and the sources are most of it; stack traces still name file, line and column.
 * - `@aws-sdk/credential-provider-node` (the SDK's default credential chain) replaced by an environment-only provider
 *   (functions/store/lambda-credentials.ts): on Lambda the chain stops at its first link, the environment, and the
 *   other links are ~130 KB of each bundle. The alias path is resolved from the project root (esbuild's working
 *   directory, CDK's local bundling; the bench builds the same way).
 */
export const LAMBDA_ALIASES: Record<string, string> = {
  '@aws-sdk/credential-provider-node': './functions/store/lambda-credentials.ts',
};

export const BUNDLING = {
  format: OutputFormat.ESM,
  target: 'node24',
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  externalModules: [] as string[],
  banner: "import{createRequire as __cr}from'module';const require=__cr(import.meta.url);",
  esbuildArgs: { '--alias': Object.entries(LAMBDA_ALIASES).map(([from, to]) => `${from}=${to}`) },
};

export interface RelayFunctionProps {
  /** Path of the entry file relative to the project root (from the registry). */
  entry: string;
  description: string;
  environment?: Record<string, string>;
  timeout?: Duration;
  memorySize?: number;
  /** Constants compiled into the bundle (esbuild `define`); values are JS expressions. */
  define?: Record<string, string>;
  /** Concurrent executions reserved for the function, which are also its ceiling (unset: the account's pool). */
  reservedConcurrentExecutions?: number;
}

/** A Lambda function as the relay runs them all: Node 24 on arm64, its own log group, source maps on. */
export class RelayFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: RelayFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    // Its own role, allowed to write its own log group only (instead of the managed AWSLambdaBasicExecutionRole).
    const role = new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(new PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    super(scope, id, {
      role,
      entry: path.join(PROJECT_ROOT, props.entry),
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      bundling: props.define ? { ...BUNDLING, define: props.define } : BUNDLING,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'conversion-relay',
        ...props.environment,
      },
      logGroup,
    });
  }
}
