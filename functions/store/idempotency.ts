import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Conversion } from '#core/conversion.ts';
import type { EnqueueReceipt, Route } from '#core/ingest.ts';
import { TABLE_ENV, requireEnv } from '#core/names.ts';
import { dynamoClient } from './clients.ts';

/**
 * Duplicate deliveries (a webhook retried, the same payment reported by two event types) must produce one
 * conversion. Powertools' idempotency keys each enqueue on the conversion's own event ID — never on a request
 * or message ID, which differ between redeliveries — and returns the first receipt to every duplicate.
 * The record expires after 7 days: longer than any source retries (Stripe retries for 3 days).
 */
export const idempotencyConfig = new IdempotencyConfig({ eventKeyJmesPath: 'eventId', expiresAfterSeconds: 7 * 86400 });

type Enqueue = (conversion: Conversion, routes: Route[], invocationId: string) => Promise<EnqueueReceipt>;

export function enqueueOnce(enqueue: Enqueue): Enqueue {
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: requireEnv(TABLE_ENV.idempotency),
    expiryAttr: 'ttl',
    // The functions' one DynamoDB client: a second one would pay its own first-call set-up at every cold start.
    awsSdkV3Client: dynamoClient,
  });
  return makeIdempotent(enqueue, { persistenceStore, config: idempotencyConfig });
}
