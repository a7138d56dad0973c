import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { getSecretString, secretsEndpoint, signedSecretRequest } from './secret-value.ts';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE' };
const now = new Date('2026-12-03T10:15:30.123Z');
const secretId = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:relay-stripe-AbCdEf';

describe('signedSecretRequest', () => {
  it.each([
    ['with a session token (as on Lambda)', credentials],
    ['without one', { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey }],
  ])('is the AWS JSON 1.1 GetSecretValue call, SigV4-signed for secretsmanager in the region at the given time, %s', async (_, creds) => {
    const endpoint = secretsEndpoint('eu-west-1', {});
    const ours = await signedSecretRequest({ secretId, region: 'eu-west-1', credentials: creds, endpoint, now });
    expect(ours.headers).toMatchObject({ 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.GetSecretValue', host: 'secretsmanager.eu-west-1.amazonaws.com', 'x-amz-date': '20261203T101530Z' });
    expect(ours.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20261203\/eu-west-1\/secretsmanager\/aws4_request, SignedHeaders=content-type;host;x-amz-date;(x-amz-security-token;)?x-amz-target, Signature=[0-9a-f]{64}$/);
    expect(ours.headers['x-amz-security-token']).toBe((creds as { sessionToken?: string }).sessionToken);
    expect(JSON.parse(ours.body)).toEqual({ SecretId: secretId });
    // The signature covers the body: another secret, another signature.
    const other = await signedSecretRequest({ secretId: `${secretId}-other`, region: 'eu-west-1', credentials: creds, endpoint, now });
    expect(other.headers.authorization).not.toBe(ours.headers.authorization);
  });

  it('addresses the regional endpoint, or the configured one', () => {
    expect(secretsEndpoint('eu-west-1', {}).href).toBe('https://secretsmanager.eu-west-1.amazonaws.com/');
    expect(secretsEndpoint('cn-north-1', {}).href).toBe('https://secretsmanager.cn-north-1.amazonaws.com.cn/');
    expect(secretsEndpoint('us-east-1', { AWS_USE_FIPS_ENDPOINT: 'true' }).href).toBe('https://secretsmanager-fips.us-east-1.amazonaws.com/');
    expect(secretsEndpoint('us-east-1', { AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:4566' }).href).toBe('http://127.0.0.1:4566/');
  });
});

describe('getSecretString', () => {
  const servers: { close(): void }[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
    vi.unstubAllEnvs();
  });

  /** A Secrets Manager stand-in answering each request with the next of `answers`; records what it received. */
  async function secretsManager(answers: { status: number; body: unknown }[]) {
    const received: { req: IncomingMessage; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ req, body });
        const a = answers[Math.min(received.length - 1, answers.length - 1)];
        res.writeHead(a.status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(a.body));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    vi.stubEnv('AWS_ENDPOINT_URL_SECRETS_MANAGER', `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDTEST');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test-secret');
    return received;
  }

  it('posts a signed GetSecretValue with the environment credentials and returns the SecretString', async () => {
    const received = await secretsManager([{ status: 200, body: { ARN: secretId, Name: 'relay-stripe', SecretString: '{"STRIPE_WEBHOOK_SECRET":"whsec_x"}' } }]);
    expect(await getSecretString(secretId)).toBe('{"STRIPE_WEBHOOK_SECRET":"whsec_x"}');
    expect(received).toHaveLength(1);
    const { req, body } = received[0];
    expect(req.method).toBe('POST');
    expect(req.headers['x-amz-target']).toBe('secretsmanager.GetSecretValue');
    expect(req.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(req.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/us-east-1\/secretsmanager\/aws4_request, /);
    expect(JSON.parse(body)).toEqual({ SecretId: secretId });
  });

  it('retries a throttled or failed request, and fails at once with the reason on a refusal', async () => {
    const retried = await secretsManager([
      { status: 400, body: { __type: 'ThrottlingException', message: 'Rate exceeded' } },
      { status: 500, body: { __type: 'InternalServiceError', message: 'oops' } },
      { status: 200, body: { SecretString: '{}' } },
    ]);
    expect(await getSecretString(secretId)).toBe('{}');
    expect(retried).toHaveLength(3);

    const refused = await secretsManager([{ status: 400, body: { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." } }]);
    await expect(getSecretString(secretId)).rejects.toThrow(`GetSecretValue ${secretId}: ResourceNotFoundException: Secrets Manager can't find the specified secret.`);
    expect(refused).toHaveLength(1);
  });
});
