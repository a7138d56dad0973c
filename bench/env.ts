import { TABLE_ENV } from '../functions/core/names.ts';
import type { DeployedFunction } from './stack.ts';

/** Where a function's AWS resources are on this machine. */
export interface LocalResources {
  tables: Record<keyof typeof TABLE_ENV, string>;
  /** Queue URL by environment variable name (RELAY_QUEUE_URL_META, RELAY_DLQ_URL_META, …). */
  queueUrls: Record<string, string>;
  secretArn: string;
  endpoints: { dynamodb: string; sqs: string; secretsmanager: string };
}

/** Variables Lambda itself sets for every function (credentials come from the execution role there). */
export function lambdaRuntimeEnv(r: LocalResources): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_LAMBDA_FUNCTION_NAME: 'bench',
    AWS_ENDPOINT_URL_DYNAMODB: r.endpoints.dynamodb,
    AWS_ENDPOINT_URL_SQS: r.endpoints.sqs,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: r.endpoints.secretsmanager,
    // On Node 20 the SDK warns that it wants Node 22; Lambda runs Node 24 and would never print it.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** References `functionEnv` could not place locally (reported in the bench's notes, so a new one gets noticed). */
export const unresolvedEnv = new Set<string>();

/**
 * A function's environment exactly as the template sets it, with each CloudFormation reference (table names, queue
 * URLs, secret ARN) replaced by the local resource it stands for. A reference it cannot place gets a placeholder
 * value and is recorded in `unresolvedEnv`, so a new variable in the stack is noticed rather than silently dropped.
 */
export function functionEnv(fn: DeployedFunction, r: LocalResources): Record<string, string> {
  const env: Record<string, string> = {};
  const tableByVar = Object.fromEntries(Object.entries(TABLE_ENV).map(([k, v]) => [v, r.tables[k as keyof typeof TABLE_ENV]]));
  for (const [name, value] of Object.entries(fn.environment)) {
    if (typeof value === 'string') env[name] = value;
    else if (tableByVar[name]) env[name] = tableByVar[name];
    else if (r.queueUrls[name]) env[name] = r.queueUrls[name];
    else if (name === 'RELAY_SECRET_ARN') env[name] = r.secretArn;
    else {
      unresolvedEnv.add(`${fn.name}: ${name}`);
      env[name] = `bench-unresolved-${name}`;
    }
  }
  return { ...lambdaRuntimeEnv(r), ...env };
}
