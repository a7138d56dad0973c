import { noLimitedModeSkipReason, unmatchableSkipReason } from '#destinations/skip-rules.ts';
import type { DestinationRoute } from '#destinations/types.ts';
import type { XConfig } from './index.ts';
import { xCanMatch } from './payload.ts';

const xSkipReason = unmatchableSkipReason('X', xCanMatch, 'a twclid, a hashed e-mail or a hashed E.164 phone');
const xLimitedReason = noLimitedModeSkipReason('X');

/** X's name and routing rules (what ingest reads; the full definition is index.ts). */
export const xRoute: DestinationRoute<XConfig> = {
  name: 'x',
  // X documents no maximum age. Its longest post-engagement attribution window is 90 days: a conversion older than
  // that cannot be attributed to any X engagement, so it is skipped with the reason instead of sent for nothing.
  maxEventAgeMs: 90 * 24 * 3600_000 - 3600_000,

  skipReason(c, config) {
    const reason = xSkipReason(c) ?? xLimitedReason(c);
    if (reason) return reason;
    if (config && !config.events[c.eventName]) return `X: no event ID configured for ${c.eventName} in X_EVENT_IDS`;
    return undefined;
  },
};
