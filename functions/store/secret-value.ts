import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { signV4, type AwsCredentials } from './aws-signing.ts';
import { dynamoClient } from './clients.ts';

/**
 * Secrets Manager's GetSecretValue as one SigV4-signed HTTPS request (signed by the SDK's signer) (AWS JSON 1.1 protocol: `POST /`,
 * `X-Amz-Target: secretsmanager.GetSecretValue`, body `{"SecretId": …}`), instead of the SDK's SecretsManagerClient.
 * A second SDK client costs a function's cold start its code (the client, its serde schemas, Powertools' parameters
 * utility) and, on the first event, building its middleware stack and resolving its endpoint rules — for one call
 * every 5 minutes. The credentials and the region are the DynamoDB client's (the same provider, resolved once for
 * both; on Lambda the execution role's, from the environment).
 */
export interface SecretRequestInput {
  secretId: string;
  region: string;
  credentials: AwsCredentials;
  /** `https://secretsmanager.<region>.amazonaws.com` unless configured (AWS_ENDPOINT_URL_SECRETS_MANAGER). */
  endpoint: URL;
  now: Date;
}

export interface SignedRequest {
  url: URL;
  headers: Record<string, string>;
  body: string;
}

const SERVICE = 'secretsmanager';
const TARGET = 'secretsmanager.GetSecretValue';
const CONTENT_TYPE = 'application/x-amz-json-1.1';
/** Attempts per fetch: a throttled or failed request is retried, as the SDK client's standard retry mode would. */
const MAX_ATTEMPTS = 3;
const TIMEOUT_MS = 5000;

/** The endpoint the SDK would use: the service's configured URL (`AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL`), else the regional one. */
export function secretsEndpoint(region: string, env: NodeJS.ProcessEnv = process.env): URL {
  const configured = env.AWS_ENDPOINT_URL_SECRETS_MANAGER ?? env.AWS_ENDPOINT_URL;
  if (configured) return new URL(configured);
  const fips = env.AWS_USE_FIPS_ENDPOINT === 'true' ? '-fips' : '';
  const domain = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return new URL(`https://${SERVICE}${fips}.${region}.${domain}/`);
}

/** The GetSecretValue request, SigV4-signed (functions/store/aws-signing.ts: the SDK's signer). */
export async function signedSecretRequest(input: SecretRequestInput): Promise<SignedRequest> {
  const body = JSON.stringify({ SecretId: input.secretId });
  const headers = await signV4(
    { method: 'POST', url: input.endpoint, headers: { 'content-type': CONTENT_TYPE, 'x-amz-target': TARGET }, body },
    input.credentials,
    { region: input.region, service: SERVICE, now: input.now },
  );
  return { url: input.endpoint, headers, body };
}

/** A refusal Secrets Manager answered (its `__type`: ResourceNotFoundException, AccessDeniedException, …). */
export class SecretsManagerError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = 'SecretsManagerError';
  }
}

/** The secret's `SecretString` (the relay's secrets are JSON objects; a binary secret is refused). */
export async function getSecretString(secretId: string): Promise<string> {
  const [credentials, region] = await Promise.all([dynamoClient.config.credentials(), dynamoClient.config.region()]);
  let lastError: unknown;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    if (attempt > 1) await new Promise((r) => setTimeout(r, 100 * 2 ** (attempt - 2) * (0.5 + Math.random())));
    // Signed per attempt: the signature is only valid for a few minutes around its date.
    const signed = await signedSecretRequest({ secretId, region, credentials, endpoint: secretsEndpoint(region), now: new Date() });
    try {
      const { status, text } = await post(signed);
      const answer = text ? JSON.parse(text) : {};
      if (status === 200) {
        if (typeof answer.SecretString !== 'string') throw new SecretsManagerError(status, 'NoSecretString', `secret ${secretId} has no SecretString (a binary secret?)`);
        return answer.SecretString;
      }
      const type = String(answer.__type ?? 'UnknownError').split('#').pop()!;
      const error = new SecretsManagerError(status, type, `GetSecretValue ${secretId}: ${type}: ${answer.message ?? answer.Message ?? `HTTP ${status}`}`);
      if (status < 500 && status !== 429 && !/Throttl/.test(type)) throw error;
      lastError = error;
    } catch (err) {
      if (err instanceof SecretsManagerError && err.status < 500 && err.status !== 429 && !/Throttl/.test(err.type)) throw err;
      lastError = err;
    }
  }
  throw lastError;
}

function post(signed: SignedRequest): Promise<{ status: number; text: string }> {
  const send = signed.url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = send(signed.url, { method: 'POST', headers: { ...signed.headers, 'content-length': String(Buffer.byteLength(signed.body)) }, timeout: TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GetSecretValue: no answer within ${TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(signed.body);
  });
}
