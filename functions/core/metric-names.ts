/**
 * CloudWatch metric names and dimensions, shared by the handlers that emit them (Powertools EMF) and the stack's
 * dashboard and alarms that read them, so the two cannot drift apart.
 */
export const METRICS_NAMESPACE = 'ConversionRelay';
export const SERVICE_NAME = 'conversion-relay';

/** Per destination (dimension `destination`; `Skipped` also by `reason`). */
export const DESTINATION_METRICS = {
  delivered: 'Delivered',
  /** Retried later: timeouts, 429, 5xx, throttling codes. */
  failedTransient: 'FailedTransient',
  /** Written to the DLQ: rejected by the platform, or out of attempts. */
  failedPermanent: 'FailedPermanent',
  skipped: 'Skipped',
  dryRun: 'DryRun',
  batchSize: 'BatchSize',
  platformLatency: 'PlatformLatency',
  platformRequests: 'PlatformRequests',
  /** One sample per delivered or dry-run event: its match score, 0–10 (core/match-quality.ts). */
  matchScore: 'MatchScore',
  /** One sample per delivered or dry-run event: 100 with a click ID attached, else 0 (Average = attach rate). */
  clickAttached: 'ClickAttached',
} as const;

/** Per source (dimension `source`; `Rejected` and `SourceEventsSkipped` also by `reason`). */
export const SOURCE_METRICS = {
  accepted: 'Accepted',
  duplicates: 'Duplicates',
  skipped: 'SourceEventsSkipped',
  rejected: 'Rejected',
  /** Answered 5xx: the sender will retry. */
  errors: 'IngestErrors',
} as const;

/**
 * A reason as a low-cardinality metric dimension: the part before the first colon ("consent: marketing not granted"
 * → "consent", "too old for meta: occurred 170 h ago…" → "too old for meta"), without digits, at most 60 characters.
 */
export function reasonCategory(reason: string): string {
  const head = reason.split(':')[0].replace(/\d+/g, 'N').replace(/\s+/g, ' ').trim();
  return head.slice(0, 60) || 'unspecified';
}
