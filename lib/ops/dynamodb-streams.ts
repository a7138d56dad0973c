import { createHash, createHmac } from 'node:crypto';

/**
 * The two DynamoDB Streams calls the operator CLI makes (GetShardIterator, GetRecords), as the service's JSON 1.0
 * protocol defines them: a POST with `X-Amz-Target: DynamoDBStreams_20120810.<Operation>`, signed with SigV4 under
 * the signing name `dynamodb`, to `streams.dynamodb.<region>.amazonaws.com`. The project has no DynamoDB Streams SDK
 * client among its dependencies (and adds none for two calls); the local runner answers the same requests from its
 * stream journal (lib/local/stream.ts), so one reader serves both.
 */

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface GetShardIteratorInput {
  StreamArn: string;
  ShardId: string;
  ShardIteratorType: 'AT_SEQUENCE_NUMBER' | 'AFTER_SEQUENCE_NUMBER' | 'TRIM_HORIZON' | 'LATEST';
  SequenceNumber?: string;
}

/** A stream record as GetRecords returns it (the fields the CLI reads). */
export interface StreamApiRecord {
  eventID?: string;
  eventName?: 'INSERT' | 'MODIFY' | 'REMOVE';
  dynamodb?: {
    Keys?: Record<string, { S?: string }>;
    NewImage?: Record<string, { S?: string }>;
    SequenceNumber?: string;
    ApproximateCreationDateTime?: number;
  };
}

export interface StreamsApi {
  getShardIterator(input: GetShardIteratorInput): Promise<{ ShardIterator?: string }>;
  getRecords(input: { ShardIterator: string; Limit?: number }): Promise<{ Records?: StreamApiRecord[]; NextShardIterator?: string | null }>;
}

/** A DynamoDB Streams error answer (`__type` …#TrimmedDataAccessException), thrown with that name as the SDKs do. */
export class StreamsServiceError extends Error {
  constructor(
    override readonly name: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export interface StreamsClientOptions {
  region: string;
  /** Default: `https://streams.dynamodb.<region>.amazonaws.com`. */
  endpoint?: string;
  credentials: () => Promise<Credentials>;
  fetch?: typeof fetch;
  now?: () => Date;
}

export const streamsEndpoint = (region: string) => `https://streams.dynamodb.${region}.amazonaws.com`;

export function streamsClient(opts: StreamsClientOptions): StreamsApi {
  const endpoint = opts.endpoint ?? streamsEndpoint(opts.region);
  const doFetch = opts.fetch ?? fetch;
  async function call<T>(operation: string, input: unknown): Promise<T> {
    const body = JSON.stringify(input);
    const headers = signV4(
      { method: 'POST', url: endpoint, headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `DynamoDBStreams_20120810.${operation}` }, body },
      await opts.credentials(),
      { region: opts.region, service: 'dynamodb', now: opts.now?.() ?? new Date() },
    );
    // fetch sets Host itself (from the URL, the value signed).
    const { host: _host, ...sent } = headers;
    const res = await doFetch(endpoint, { method: 'POST', headers: sent, body, signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (!res.ok) {
      // JSON 1.0 errors: `__type` is `<namespace>#<ErrorName>`; the message key's case varies between services.
      const type = String(parsed.__type ?? `HTTP${res.status}`);
      throw new StreamsServiceError(type.slice(type.lastIndexOf('#') + 1), String(parsed.message ?? parsed.Message ?? text), res.status);
    }
    return parsed as T;
  }
  return {
    getShardIterator: (input) => call('GetShardIterator', input),
    getRecords: (input) => call('GetRecords', input),
  };
}

const sha256 = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
/** RFC 3986 encoding, as SigV4's canonical query string wants it. */
const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export interface SignableRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * AWS Signature Version 4 (the header form): the request's headers with `host`, `x-amz-date`, the session token if
 * any, and `authorization`. Every header given is signed.
 */
export function signV4(req: SignableRequest, credentials: Credentials, scope: { region: string; service: string; now: Date }): Record<string, string> {
  const url = new URL(req.url);
  const amzDate = scope.now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
  headers.host = url.host;
  headers['x-amz-date'] = amzDate;
  if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
  const names = Object.keys(headers).sort();
  const signedHeaders = names.join(';');
  const query = [...url.searchParams].map(([k, v]) => [rfc3986(k), rfc3986(v)]).sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join('&');
  const canonical = [req.method, url.pathname || '/', query, names.map((n) => `${n}:${headers[n].trim().replace(/\s+/g, ' ')}\n`).join(''), signedHeaders, sha256(req.body)].join('\n');
  const credentialScope = `${day}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, credentialScope, sha256(canonical)].join('\n');
  const key = ['aws4_request'].reduce((k, part) => hmac(k, part), hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, day), scope.region), scope.service));
  const signature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  return { ...headers, authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${credentialScope}, SignedHeaders=${signedHeaders}, Signature=${signature}` };
}
