import { CONVERSIONS_TOPIC_ENV, DESTINATIONS_ATTRIBUTE } from '../../functions/core/names.ts';
import { destinations } from '../../functions/registry.ts';
import type { TopicSubscription } from './sqs-server.ts';

/**
 * The conversions topic on the local queue server, as the stack builds it: each destination's queue subscribed with
 * raw delivery and a filter on the `destinations` attribute (lib/constructs/conversions-topic.ts).
 */
export const LOCAL_CONVERSIONS_TOPIC = 'conversions';
export const LOCAL_CONVERSIONS_TOPIC_ARN = `arn:aws:sns:us-east-1:000000000000:${LOCAL_CONVERSIONS_TOPIC}`;

export function localTopics(): Record<string, TopicSubscription[]> {
  return { [LOCAL_CONVERSIONS_TOPIC]: destinations.map((d) => ({ queue: d.name, filter: { attribute: DESTINATIONS_ATTRIBUTE, anyOf: [d.name] } })) };
}

/** What the ingest handlers read to publish there (the queue server answers SNS too). */
export function localTopicEnvironment(queueServerUrl: string): Record<string, string> {
  return { AWS_ENDPOINT_URL_SNS: queueServerUrl, [CONVERSIONS_TOPIC_ENV]: LOCAL_CONVERSIONS_TOPIC_ARN };
}
