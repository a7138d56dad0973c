import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';

/** What hotPathClient needs of an SDK client class. */
type SdkClientClass<C, Config> = new (config: Config & { cacheMiddleware?: boolean }) => C & { middlewareStack: { remove(name: string): boolean } };

/**
 * An SDK client for calls made on every event, built the one way every client here is (measured on the ingest
 * Lambda: −0.36 ms and −0.11 ms CPU per webhook, issue 15):
 * - `cacheMiddleware`: the middleware stack is resolved once per command class instead of on every `send`. So middleware
 *   added to the client or a command after its first send of that command is ignored: nothing in the relay adds any
 *   (no Powertools utility or tracer is given these clients; the tests' aws-sdk-client-mock replaces `send` on the
 *   class's prototype). The handler also shares one context between concurrent sends of the same command, which holds
 *   only while every request of the client resolves to the same endpoint: one region, tables by name (not ARN), queue
 *   URLs of that region. A `send` with options (an abort signal) skips and clears the cache: none passes any.
 *   The document client refuses this option (it shares its base client's stack): its base, in ./document-client.ts,
 *   passes `false`.
 * - No `loggerMiddleware`: with no `logger` configured (the relay sets none) it logs to a no-op logger, yet still
 *   filters every input and output through the operation's schema (schemaLogFilter) to do so. Only the SDK's own
 *   per-request debug logging goes with it; errors are still thrown to the caller.
 */
export function hotPathClient<C, Config extends object = object>(Client: SdkClientClass<C, Config>, config = {} as Config & { cacheMiddleware?: boolean }): C {
  // The bench builds its tuned floor with this too (bench/sections/cpu.ts), with its endpoint and credentials in `config`.
  const client = new Client({ cacheMiddleware: true, ...config });
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}

/*
 * One client each per execution environment, created at init. They use the standard credential chain and
 * endpoints, so the local runner points them at dynalite and the local queue with AWS_ENDPOINT_URL_* alone.
 * Marked pure (the inner call too: esbuild keeps an unused pure call's arguments): a function that never uses one
 * (ingest uses no SQS client) leaves it, and its SDK package, out of its bundle. The document client is in
 * ./document-client.ts: `@aws-sdk/lib-dynamodb`'s index has module-level code that esbuild keeps even when the
 * client is unused (~10 KB of every bundle that imported this file).
 */

/** The low-level DynamoDB client: ingest's commit and skip records, the visitor lookup, and secret-value's credentials. */
export const dynamoClient = /* @__PURE__ */ hotPathClient(DynamoDBClient);
/** The SQS client: the fan-out's sends, the senders' retries and dead letters. */
export const sqs = /* @__PURE__ */ hotPathClient(SQSClient);
