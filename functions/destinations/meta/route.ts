import { identifierOnlySkipReason } from '#destinations/skip-rules.ts';
import type { DestinationRoute } from '#destinations/types.ts';
import type { MetaConfig } from './index.ts';

/** Meta's name and routing rules (what ingest reads; the full definition is index.ts). */
export const metaRoute: DestinationRoute<MetaConfig> = {
  name: 'meta',
  // Older events make Meta reject the whole request; keep an hour of margin for queueing and clock skew.
  maxEventAgeMs: 7 * 24 * 3600_000 - 3600_000,
  // Matches on identifiers only (an analytics-only event is of no use there) and has no retraction.
  skipReason: identifierOnlySkipReason('Meta'),
};
