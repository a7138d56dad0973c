import { signV4, type AwsCredentials } from '../../functions/store/aws-signing.ts';

/**
 * The two DynamoDB Streams calls the operator CLI makes (GetShardIterator, GetRecords), as the service's JSON 1.0
 * protocol defines them: a POST with `X-Amz-Target: DynamoDBStreams_20120810.<Operation>`, signed with SigV4 under
 * the signing name `dynamodb` (by the SDK's signer, functions/store/aws-signing.ts), to
 * `streams.dynamodb.<region>.amazonaws.com`. The project has no DynamoDB Streams SDK
 * client among its dependencies (and adds none for two calls); the local runner answers the same requests from its
 * stream journal (lib/local/stream.ts), so one reader serves both.
 */

export type Credentials = AwsCredentials;

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
    const headers = await signV4(
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
