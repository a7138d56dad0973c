import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';

/**
 * One client each per execution environment, created at init. They use the standard credential chain and
 * endpoints, so the local runner points them at dynalite and the local queue with AWS_ENDPOINT_URL_* alone.
 */
export const dynamoClient = new DynamoDBClient({});
export const dynamo = DynamoDBDocumentClient.from(dynamoClient, {
  marshallOptions: { removeUndefinedValues: true },
});
export const sqs = new SQSClient({});
