import type { Conversion } from '#core/conversion.ts';
// The OAuth refresh-token flow (RFC 6749 §6) is one shared implementation: LinkedIn's token endpoint speaks it too.
import { accessToken as refreshedAccessToken, forgetAccessToken } from '#destinations/google-ads/oauth.ts';
import { baseUrlSetting, eventNameMap, missingSettings, optionalSetting } from '#destinations/settings.ts';
import type { Destination } from '#destinations/types.ts';
import { classifyLinkedInResponse } from './classify.ts';
import { linkedInUserIds, toLinkedInElement } from './payload.ts';
import { linkedinRoute } from './route.ts';

export interface LinkedInConfig {
  /** Conversion rule ID per Conversion event name (each LinkedIn rule has one fixed type). */
  rules: Record<string, string>;
  /** A 60-day access token, or, with `refresh`, obtained from the refresh token before each batch. */
  accessToken?: string;
  refresh?: { tokenUrl: string; clientId: string; clientSecret: string; refreshToken: string };
  apiVersion: string;
  baseUrl: string;
}

const DEFAULT_BASE_URL = 'https://api.linkedin.com';
const DEFAULT_TOKEN_URL = 'https://www.linkedin.com/oauth/v2/accessToken';
/** Pinned: LinkedIn supports each monthly version for at least a year (202603 sunsets 2027-03-16). */
const DEFAULT_API_VERSION = '202603';

/** LinkedIn Conversions API: https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads-reporting/conversions-api */

export const linkedinDestination: Destination<LinkedInConfig> = {
  ...linkedinRoute,
  // BATCH_CREATE takes up to 5,000 elements (Salesforce and RudderStack connector docs; not in LinkedIn's own page).
  maxBatchSize: 5000,
  settingKeys: [
    'LINKEDIN_CONVERSION_RULES',
    'LINKEDIN_ACCESS_TOKEN',
    'LINKEDIN_CLIENT_ID',
    'LINKEDIN_CLIENT_SECRET',
    'LINKEDIN_REFRESH_TOKEN',
    'LINKEDIN_API_VERSION',
    'LINKEDIN_API_BASE_URL',
    'LINKEDIN_OAUTH_TOKEN_URL',
  ],

  configure(settings) {
    const apiVersion = optionalSetting(settings, 'LINKEDIN_API_VERSION') ?? DEFAULT_API_VERSION;
    if (!/^20\d{4}$/.test(apiVersion)) throw new Error(`LINKEDIN_API_VERSION must look like 202603 (YYYYMM), got "${apiVersion}"`);
    const refreshKeys = ['LINKEDIN_CLIENT_ID', 'LINKEDIN_CLIENT_SECRET', 'LINKEDIN_REFRESH_TOKEN'];
    const canRefresh = missingSettings(settings, refreshKeys).length === 0;
    const missing = missingSettings(settings, canRefresh ? ['LINKEDIN_CONVERSION_RULES'] : ['LINKEDIN_CONVERSION_RULES', 'LINKEDIN_ACCESS_TOKEN']);
    if (missing.length) return { config: undefined, missing };
    return {
      missing: [],
      config: {
        rules: eventNameMap(settings.LINKEDIN_CONVERSION_RULES!, 'LINKEDIN_CONVERSION_RULES', /^\d+$/, 'Purchase=104012,Lead=104013'),
        accessToken: optionalSetting(settings, 'LINKEDIN_ACCESS_TOKEN'),
        refresh: canRefresh
          ? {
              tokenUrl: optionalSetting(settings, 'LINKEDIN_OAUTH_TOKEN_URL') ?? DEFAULT_TOKEN_URL,
              clientId: settings.LINKEDIN_CLIENT_ID!.trim(),
              clientSecret: settings.LINKEDIN_CLIENT_SECRET!.trim(),
              refreshToken: settings.LINKEDIN_REFRESH_TOKEN!.trim(),
            }
          : undefined,
        apiVersion,
        baseUrl: baseUrlSetting(settings, 'LINKEDIN_API_BASE_URL', DEFAULT_BASE_URL),
      },
    };
  },


  async prepare(config, transport, now) {
    if (!config.refresh) return config;
    return { ...config, accessToken: await refreshedAccessToken(config.refresh, transport, now) };
  },

  buildRequest(conversions, config, now) {
    return {
      method: 'POST',
      url: `${config?.baseUrl ?? DEFAULT_BASE_URL}/rest/conversionEvents`,
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${config?.accessToken ?? '<LINKEDIN_ACCESS_TOKEN>'}`,
        'linkedin-version': config?.apiVersion ?? DEFAULT_API_VERSION,
        'x-restli-protocol-version': '2.0.0',
        'x-restli-method': 'BATCH_CREATE',
      },
      body: { elements: conversions.map((c: Conversion) => toLinkedInElement(c, config?.rules[c.eventName] ?? '<LINKEDIN_CONVERSION_RULE_ID>', now)) },
    };
  },

  classify(res, config) {
    if (res.status === 401 && config?.refresh) forgetAccessToken(config.accessToken);
    return classifyLinkedInResponse(res, Boolean(config?.refresh));
  },

  signals(c) {
    const ids = linkedInUserIds(c).map((id) => id.idType);
    return c.user.externalId ? [...ids, 'externalIds'] : ids;
  },
};

export default linkedinDestination;
