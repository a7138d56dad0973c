import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';

/**
 * One client each per execution environment, created at init. They use the standard credential chain and
 * endpoints, so the local runner points them at dynalite and the local queue with AWS_ENDPOINT_URL_* alone.
 * Marked pure: a function that never uses one (ingest uses no SQS or document client) leaves it,
 * and its SDK package, out of its bundle.
 */
export const dynamoClient = /* @__PURE__ */ new DynamoDBClient({});
export const dynamo = /* @__PURE__ */ DynamoDBDocumentClient.from(dynamoClient, {
  marshallOptions: { removeUndefinedValues: true },
});
export const sqs = /* @__PURE__ */ new SQSClient({});
