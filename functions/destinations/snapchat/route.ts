import { unmatchableSkipReason } from '#destinations/skip-rules.ts';
import type { DestinationRoute } from '#destinations/types.ts';
import type { SnapchatConfig } from './index.ts';
import { snapchatCanMatch } from './payload.ts';

/** Snapchat's name and routing rules (what ingest reads; the full definition is index.ts). */
export const snapchatRoute: DestinationRoute<SnapchatConfig> = {
  name: 'snapchat',
  // "Events ≤ 37 days old are reportable" (Snap docs); an hour of margin for queueing and clock skew.
  maxEventAgeMs: 37 * 24 * 3600_000 - 3600_000,
  skipReason: unmatchableSkipReason('Snapchat', snapchatCanMatch, 'a hashed e-mail or phone, or the IP address and user agent'),
};
