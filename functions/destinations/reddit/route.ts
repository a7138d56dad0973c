import { unmatchableSkipReason } from '#destinations/skip-rules.ts';
import type { DestinationRoute } from '#destinations/types.ts';
import type { RedditConfig } from './index.ts';
import { redditCanMatch } from './payload.ts';

/** Reddit's name and routing rules (what ingest reads; the full definition is index.ts). */
export const redditRoute: DestinationRoute<RedditConfig> = {
  name: 'reddit',
  // "Events must be sent within 7 days after they occur" (400 "event_at timestamp must be less than 168h0m0s old");
  // an hour of margin for queueing and clock skew.
  maxEventAgeMs: 7 * 24 * 3600_000 - 3600_000,
  skipReason: unmatchableSkipReason('Reddit', redditCanMatch, 'an rdt_cid click ID, the _rdt_uuid cookie, a hashed e-mail or phone, an external ID, or the IP address and user agent'),
};
