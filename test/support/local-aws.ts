import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { dlqUrlEnv, queueUrlEnv } from '../../functions/core/names.ts';
import { destinations } from '../../functions/registry.ts';
import { localTopicEnvironment } from '../../lib/local/topics.ts';

/**
 * A queue and a DLQ per registered destination on the local SQS server (started with `topics: localTopics()`), their
 * URLs and the conversions topic in the handlers' environment.
 */
export async function createDestinationQueues(sqsUrl: string): Promise<SQSClient> {
  const sqs = new SQSClient({ endpoint: sqsUrl, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  // Ingest publishes to the conversions topic, fanned out to every destination's queue (localTopics()), so each needs
  // its queue even where a test drives one.
  Object.assign(process.env, localTopicEnvironment(sqsUrl));
  for (const d of destinations) {
    process.env[dlqUrlEnv(d.name)] = (await sqs.send(new CreateQueueCommand({ QueueName: `${d.name}-dlq` }))).QueueUrl!;
    process.env[queueUrlEnv(d.name)] = (await sqs.send(new CreateQueueCommand({ QueueName: d.name }))).QueueUrl!;
  }
  return sqs;
}
