import type { Conversion } from '#core/conversion.ts';
import { baseUrlSetting, missingSettings, optionalSetting } from '#destinations/settings.ts';
import type { Destination } from '#destinations/types.ts';
import { classifyRedditResponse } from './classify.ts';
import { redditMatchKeys, toRedditEvent } from './payload.ts';
import { redditRoute } from './route.ts';

export interface RedditConfig {
  pixelId: string;
  /** The Conversion Access Token from Events Manager (does not expire; revoked by deleting it). */
  accessToken: string;
  /** Event Testing's test ID: sent as `data.test_id`, the events appear under Event Testing and count nowhere. */
  testId?: string;
  baseUrl: string;
}

const DEFAULT_BASE_URL = 'https://ads-api.reddit.com';
/** Reddit throttles requests with a default user agent ("Your user agent was automatically ratelimited"). */
const USER_AGENT = 'conversion-relay/1.0 (server-side conversions)';

/** Reddit Conversions API v3: https://ads-api.reddit.com/docs/v3/ (Conversions API → Direct Integration) */
export const redditDestination: Destination<RedditConfig> = {
  ...redditRoute,
  // "1,000 events/request" (Reddit's v3 limits: 1,000 requests/s, 10,000 events/s).
  maxBatchSize: 1000,
  settingKeys: ['REDDIT_PIXEL_ID', 'REDDIT_ACCESS_TOKEN', 'REDDIT_TEST_ID', 'REDDIT_API_BASE_URL'],

  configure(settings) {
    const missing = missingSettings(settings, ['REDDIT_PIXEL_ID', 'REDDIT_ACCESS_TOKEN']);
    if (missing.length) return { config: undefined, missing };
    const pixelId = settings.REDDIT_PIXEL_ID!.trim();
    // Pixel IDs look like `a2_i9bj8x87t8ki` (older ones `t2_…`): letters, digits and underscores.
    if (!/^[A-Za-z0-9_]{3,64}$/.test(pixelId)) throw new Error('REDDIT_PIXEL_ID must be the Pixel ID (like a2_i9bj8x87t8ki) from Reddit Events Manager');
    return {
      missing: [],
      config: {
        pixelId,
        accessToken: settings.REDDIT_ACCESS_TOKEN!.trim(),
        testId: optionalSetting(settings, 'REDDIT_TEST_ID'),
        baseUrl: baseUrlSetting(settings, 'REDDIT_API_BASE_URL', DEFAULT_BASE_URL),
      },
    };
  },


  buildRequest(conversions, config, now) {
    // test_id sits in `data`, beside `events`: inside an event Reddit answers 400 `JSON error "unknown field" on
    // field "test_id"` (Segment's, RudderStack's and Stape's v3 clients all put it there).
    const data: { test_id?: string; events: unknown[] } = { events: conversions.map((c: Conversion) => toRedditEvent(c, now)) };
    if (config?.testId) data.test_id = config.testId;
    return {
      method: 'POST',
      url: `${config?.baseUrl ?? DEFAULT_BASE_URL}/api/v3/pixels/${config?.pixelId ?? '<REDDIT_PIXEL_ID>'}/conversion_events`,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${config?.accessToken ?? '<REDDIT_ACCESS_TOKEN>'}`, 'user-agent': USER_AGENT },
      body: { data },
    };
  },

  classify: classifyRedditResponse,

  signals(c) {
    // `click_id` and `uuid` are Reddit's names for the rdt_cid click and the _rdt_uuid cookie; the ledger names them as the relay does.
    const { click_id, user } = redditMatchKeys(c);
    return [...(click_id ? ['rdtCid'] : []), ...Object.keys(user).map((k) => (k === 'uuid' ? 'rdtUuid' : k)).filter((k) => k !== 'data_processing_options')];
  },
};

export default redditDestination;
