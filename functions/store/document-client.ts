import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { hotPathClient } from './clients.ts';

/**
 * The document client (the senders' ledger, collect's visitor writes), on a base client of its own without the
 * middleware cache (the document client refuses it: it shares its base client's stack). In a module of its own so that
 * a bundle that does not use it (ingest, fan-out) does not carry `@aws-sdk/lib-dynamodb`.
 */
export const dynamo = /* @__PURE__ */ DynamoDBDocumentClient.from(/* @__PURE__ */ hotPathClient(DynamoDBClient, { cacheMiddleware: false }), {
  marshallOptions: { removeUndefinedValues: true },
});
