import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * SigV4 for the two AWS requests the relay makes without an SDK client — Secrets Manager's GetSecretValue on a
 * Lambda's first event (functions/store/secret-value.ts: no second client to load and build) and the operator CLI's
 * DynamoDB Streams reads (lib/ops/dynamodb-streams.ts) — by the SDK's own signer, which the DynamoDB client already
 * loads. One function, so no request is signed by code of our own.
 */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignableRequest {
  method: string;
  url: string | URL;
  headers: Record<string, string>;
  body: string;
}

/** node:crypto in the shape SignatureV4 wants (what the SDK's @smithy/hash-node does). */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView) {
    this.hash.update(bytes(data));
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
}
const bytes = (d: string | ArrayBuffer | ArrayBufferView) =>
  typeof d === 'string' ? d : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

/**
 * The request's headers, lower-cased, with `host`, `x-amz-date`, the session token if any, and `authorization`
 * (the header form of SigV4; every header given is signed, the payload hashed).
 */
export async function signV4(req: SignableRequest, credentials: AwsCredentials, scope: { region: string; service: string; now: Date }): Promise<Record<string, string>> {
  const url = new URL(req.url);
  const headers: Record<string, string> = { host: url.host };
  for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) query[k] = k in query ? [...([] as string[]).concat(query[k]), v] : v;
  const signer = new SignatureV4({ service: scope.service, region: scope.region, credentials, sha256: Sha256, uriEscapePath: true, applyChecksum: false });
  const signed = await signer.sign(
    { method: req.method, protocol: url.protocol, hostname: url.hostname, port: url.port ? Number(url.port) : undefined, path: url.pathname || '/', query, headers, body: req.body },
    { signingDate: scope.now },
  );
  return signed.headers as Record<string, string>;
}
