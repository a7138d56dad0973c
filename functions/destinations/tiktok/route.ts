import { identifierOnlySkipReason } from '#destinations/skip-rules.ts';
import type { DestinationRoute } from '#destinations/types.ts';
import type { TikTokConfig } from './index.ts';

/** TikTok's name and routing rules (what ingest reads; the full definition is index.ts). */
export const tiktokRoute: DestinationRoute<TikTokConfig> = {
  name: 'tiktok',
  // TikTok documents no maximum age (platforms.md §8). Seven days, as Meta, less an hour of margin: TikTok's
  // deduplication and its default click-attribution window are both inside it, and an older event is recorded as
  // skipped with the reason instead of dead-lettered by a refusal we cannot predict.
  maxEventAgeMs: 7 * 24 * 3600_000 - 3600_000,
  // Matches on identifiers only (an analytics-only event is of no use there) and has no retraction.
  skipReason: identifierOnlySkipReason('TikTok'),
};
