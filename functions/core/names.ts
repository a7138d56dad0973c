/**
 * Names shared by the CDK stack, the local runner and the handlers, so that each reads the same environment.
 * (One process runs every handler locally, so per-destination values carry the destination in their name.)
 */
export const TABLE_ENV = { visitors: 'VISITORS_TABLE', ledger: 'LEDGER_TABLE' } as const;

/**
 * The fan-out's failure queue: the ledger stream's on-failure destination (batches whose retries ran out) and where
 * the fan-out itself puts a stream record it cannot read, with the reason.
 */
export const FAN_OUT_FAILURES_ENV = 'RELAY_FAN_OUT_FAILURES_URL';
/** Ledger stream records per fan-out invocation: up to ten SendMessageBatch requests' worth per destination. */
export const FAN_OUT_BATCH_SIZE = 100;
/** Retries of a failing stream batch (bisected each time) before it goes to the failure queue. */
export const FAN_OUT_RETRY_ATTEMPTS = 10;

export const queueUrlEnv = (destination: string) => `RELAY_QUEUE_URL_${destination.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
export const dlqUrlEnv = (destination: string) => `RELAY_DLQ_URL_${destination.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

/** How many times a sender retries a transient failure before it moves the message to the DLQ itself, with the reason. */
export const MAX_ATTEMPTS_ENV = 'RELAY_MAX_ATTEMPTS';
export const DEFAULT_MAX_ATTEMPTS = 10;
/** SQS redrives after one receive more than the sender's own limit: a backstop for crashes and timeouts. */
export const redriveMaxReceiveCount = (maxAttempts: number) => maxAttempts + 1;

/** First retry delay; each further attempt doubles it (capped at 6 h). */
export const RETRY_BASE_ENV = 'RELAY_RETRY_BASE_SECONDS';
export const DEFAULT_RETRY_BASE_SECONDS = 60;

export const VISITOR_COOKIE = 'cr_vid';
/** Visitors and their clicks are kept as long as the longest platform click window (90 days). */
export const VISITOR_TTL_DAYS = 90;

export function requireEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}
