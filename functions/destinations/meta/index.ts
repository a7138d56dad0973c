import type { Conversion } from '#core/conversion.ts';
import { baseUrlSetting, missingSettings, optionalSetting } from '#destinations/settings.ts';
import type { Destination } from '#destinations/types.ts';
import { classifyMetaResponse } from './classify.ts';
import { metaUserData, toMetaEvent } from './payload.ts';
import { metaRoute } from './route.ts';

export interface MetaConfig {
  pixelId: string;
  accessToken: string;
  testEventCode?: string;
  baseUrl: string;
  apiVersion: string;
}

const DEFAULT_BASE_URL = 'https://graph.facebook.com';
/** Pinned: every Graph version is supported for at least two years. */
const DEFAULT_API_VERSION = 'v26.0';

/** Meta Conversions API: https://developers.facebook.com/docs/marketing-api/conversions-api/using-the-api */
export const metaDestination: Destination<MetaConfig> = {
  ...metaRoute,
  // "You can send up to 1,000 events in data."
  maxBatchSize: 1000,
  settingKeys: ['META_PIXEL_ID', 'META_ACCESS_TOKEN', 'META_TEST_EVENT_CODE', 'META_API_BASE_URL', 'META_API_VERSION'],

  configure(settings) {
    const missing = missingSettings(settings, ['META_PIXEL_ID', 'META_ACCESS_TOKEN']);
    const apiVersion = optionalSetting(settings, 'META_API_VERSION') ?? DEFAULT_API_VERSION;
    if (!/^v\d+\.\d+$/.test(apiVersion)) throw new Error(`META_API_VERSION must look like v26.0, got "${apiVersion}"`);
    if (missing.length) return { config: undefined, missing };
    const pixelId = settings.META_PIXEL_ID!.trim();
    if (!/^\d+$/.test(pixelId)) throw new Error('META_PIXEL_ID must be the numeric dataset / pixel ID');
    return {
      missing: [],
      config: {
        pixelId,
        accessToken: settings.META_ACCESS_TOKEN!.trim(),
        testEventCode: optionalSetting(settings, 'META_TEST_EVENT_CODE'),
        baseUrl: baseUrlSetting(settings, 'META_API_BASE_URL', DEFAULT_BASE_URL),
        apiVersion,
      },
    };
  },


  buildRequest(conversions, config, now) {
    const base = config?.baseUrl ?? DEFAULT_BASE_URL;
    const body: Record<string, unknown> = { data: conversions.map((c) => toMetaEvent(c, now)) };
    if (config?.testEventCode) body.test_event_code = config.testEventCode;
    // The token goes in the body, not the URL, so it never lands in access logs.
    body.access_token = config?.accessToken ?? '<META_ACCESS_TOKEN>';
    return {
      method: 'POST',
      url: `${base}/${config?.apiVersion ?? DEFAULT_API_VERSION}/${config?.pixelId ?? '<META_PIXEL_ID>'}/events`,
      headers: { 'content-type': 'application/json' },
      body,
    };
  },

  classify: classifyMetaResponse,

  signals(c: Conversion) {
    return Object.keys(metaUserData(c));
  },
};

export default metaDestination;
