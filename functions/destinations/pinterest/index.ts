import type { Conversion } from '#core/conversion.ts';
import { baseUrlSetting, missingSettings, optionalSetting } from '#destinations/settings.ts';
import type { Destination } from '#destinations/types.ts';
import { classifyPinterestResponse } from './classify.ts';
import { pinterestUserData, toPinterestEvent } from './payload.ts';
import { pinterestRoute } from './route.ts';

export interface PinterestConfig {
  adAccountId: string;
  accessToken: string;
  /** `?test=true`: Pinterest validates and answers as usual but records nothing. */
  testMode: boolean;
  baseUrl: string;
}

const DEFAULT_BASE_URL = 'https://api.pinterest.com';

/** Pinterest API for Conversions v5: https://developers.pinterest.com/docs/api/v5/events-create */
export const pinterestDestination: Destination<PinterestConfig> = {
  ...pinterestRoute,
  // OpenAPI: `data` has maxItems 1000.
  maxBatchSize: 1000,
  settingKeys: ['PINTEREST_AD_ACCOUNT_ID', 'PINTEREST_ACCESS_TOKEN', 'PINTEREST_TEST_MODE', 'PINTEREST_API_BASE_URL'],

  configure(settings) {
    const missing = missingSettings(settings, ['PINTEREST_AD_ACCOUNT_ID', 'PINTEREST_ACCESS_TOKEN']);
    if (missing.length) return { config: undefined, missing };
    const adAccountId = settings.PINTEREST_AD_ACCOUNT_ID!.trim();
    if (!/^\d+$/.test(adAccountId)) throw new Error('PINTEREST_AD_ACCOUNT_ID must be the numeric ad account ID from Ads Manager');
    return {
      missing: [],
      config: {
        adAccountId,
        accessToken: settings.PINTEREST_ACCESS_TOKEN!.trim(),
        testMode: optionalSetting(settings, 'PINTEREST_TEST_MODE') === 'true',
        baseUrl: baseUrlSetting(settings, 'PINTEREST_API_BASE_URL', DEFAULT_BASE_URL),
      },
    };
  },


  buildRequest(conversions, config, now) {
    const base = config?.baseUrl ?? DEFAULT_BASE_URL;
    return {
      method: 'POST',
      url: `${base}/v5/ad_accounts/${config?.adAccountId ?? '<PINTEREST_AD_ACCOUNT_ID>'}/events${config?.testMode ? '?test=true' : ''}`,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${config?.accessToken ?? '<PINTEREST_ACCESS_TOKEN>'}` },
      body: { data: conversions.map((c: Conversion) => toPinterestEvent(c, now)) },
    };
  },

  classify: classifyPinterestResponse,

  signals(c) {
    // `click_id` is Pinterest's name for the epik click ID; the ledger names the click as the relay does.
    return Object.keys(pinterestUserData(c)).map((k) => (k === 'click_id' ? 'epik' : k));
  },
};

export default pinterestDestination;
