import { unmatchableSkipReason } from '#destinations/skip-rules.ts';
import type { DestinationRoute } from '#destinations/types.ts';
import type { PinterestConfig } from './index.ts';
import { pinterestCanMatch } from './payload.ts';

/** Pinterest's name and routing rules (what ingest reads; the full definition is index.ts). */
export const pinterestRoute: DestinationRoute<PinterestConfig> = {
  name: 'pinterest',
  // Pinterest documents no maximum age; old timestamps draw 422 code 953 "Given timestamp is in the past"
  // (segmentio/action-destinations#2465). Seven days less an hour, as Meta: Pinterest's attribution windows start
  // at 1 day and events more than an hour late already count as offline.
  maxEventAgeMs: 7 * 24 * 3600_000 - 3600_000,
  skipReason: unmatchableSkipReason('Pinterest', pinterestCanMatch, 'a hashed e-mail or the IP address and user agent'),
};
