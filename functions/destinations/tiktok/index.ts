import type { Conversion } from '#core/conversion.ts';
import { baseUrlSetting, missingSettings, optionalSetting } from '#destinations/settings.ts';
import type { Destination } from '#destinations/types.ts';
import { classifyTikTokResponse } from './classify.ts';
import { tiktokUser, toTikTokEvent } from './payload.ts';
import { tiktokRoute } from './route.ts';

export interface TikTokConfig {
  pixelCode: string;
  accessToken: string;
  testEventCode?: string;
  baseUrl: string;
}

const DEFAULT_BASE_URL = 'https://business-api.tiktok.com';
const TRACK_PATH = '/open_api/v1.3/event/track/';

/** TikTok Events API 2.0: https://business-api.tiktok.com/portal/docs?id=1771100865818625 */
export const tiktokDestination: Destination<TikTokConfig> = {
  ...tiktokRoute,
  // Integrators' documented cap (RudderStack maxBatchSizeV2, Hightouch): platforms.md §2.4.
  maxBatchSize: 1000,
  settingKeys: ['TIKTOK_PIXEL_CODE', 'TIKTOK_ACCESS_TOKEN', 'TIKTOK_TEST_EVENT_CODE', 'TIKTOK_API_BASE_URL'],

  configure(settings) {
    const missing = missingSettings(settings, ['TIKTOK_PIXEL_CODE', 'TIKTOK_ACCESS_TOKEN']);
    if (missing.length) return { config: undefined, missing };
    const pixelCode = settings.TIKTOK_PIXEL_CODE!.trim();
    // Pixel codes look like C9Q2MJ3C77U4P674RPG0: letters and digits.
    if (!/^[A-Za-z0-9]{8,40}$/.test(pixelCode)) throw new Error('TIKTOK_PIXEL_CODE must be the pixel code from Events Manager (letters and digits)');
    return {
      missing: [],
      config: {
        pixelCode,
        accessToken: settings.TIKTOK_ACCESS_TOKEN!.trim(),
        testEventCode: optionalSetting(settings, 'TIKTOK_TEST_EVENT_CODE'),
        baseUrl: baseUrlSetting(settings, 'TIKTOK_API_BASE_URL', DEFAULT_BASE_URL),
      },
    };
  },


  buildRequest(conversions, config, now) {
    const body: Record<string, unknown> = {
      event_source: 'web',
      event_source_id: config?.pixelCode ?? '<TIKTOK_PIXEL_CODE>',
      data: conversions.map((c) => toTikTokEvent(c, now)),
    };
    if (config?.testEventCode) body.test_event_code = config.testEventCode;
    return {
      method: 'POST',
      url: `${config?.baseUrl ?? DEFAULT_BASE_URL}${TRACK_PATH}`,
      // The token travels in a header, never in the URL or the body that dry-run records.
      headers: { 'content-type': 'application/json', 'access-token': config?.accessToken ?? '<TIKTOK_ACCESS_TOKEN>' },
      body,
    };
  },

  classify: classifyTikTokResponse,

  signals(c: Conversion) {
    return Object.keys(tiktokUser(c));
  },
};

export default tiktokDestination;
