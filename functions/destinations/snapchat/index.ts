import { baseUrlSetting, missingSettings, optionalSetting } from '#destinations/settings.ts';
import type { Destination } from '#destinations/types.ts';
import { classifySnapchatResponse } from './classify.ts';
import { snapchatUserData, toSnapchatEvent } from './payload.ts';
import { snapchatRoute } from './route.ts';

export interface SnapchatConfig {
  pixelId: string;
  accessToken: string;
  /** Send to `/events/validate` (Snap's test endpoint: validated, not counted) instead of `/events`. */
  validateOnly: boolean;
  baseUrl: string;
}

const DEFAULT_BASE_URL = 'https://tr.snapchat.com';

/** Snapchat Conversions API v3: https://developers.snap.com/api/marketing-api/Conversions-API/UsingTheAPI */
export const snapchatDestination: Destination<SnapchatConfig> = {
  ...snapchatRoute,
  // Not in Snap's docs; RudderStack and Tealium batch 2000 (platforms-more.md §3).
  maxBatchSize: 2000,
  settingKeys: ['SNAPCHAT_PIXEL_ID', 'SNAPCHAT_ACCESS_TOKEN', 'SNAPCHAT_VALIDATE_ONLY', 'SNAPCHAT_API_BASE_URL'],

  configure(settings) {
    const missing = missingSettings(settings, ['SNAPCHAT_PIXEL_ID', 'SNAPCHAT_ACCESS_TOKEN']);
    if (missing.length) return { config: undefined, missing };
    const pixelId = settings.SNAPCHAT_PIXEL_ID!.trim();
    // Snap pixel IDs are UUIDs.
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(pixelId)) throw new Error('SNAPCHAT_PIXEL_ID must be the Snap Pixel ID (a UUID) from Events Manager');
    return {
      missing: [],
      config: {
        pixelId,
        accessToken: settings.SNAPCHAT_ACCESS_TOKEN!.trim(),
        validateOnly: optionalSetting(settings, 'SNAPCHAT_VALIDATE_ONLY') === 'true',
        baseUrl: baseUrlSetting(settings, 'SNAPCHAT_API_BASE_URL', DEFAULT_BASE_URL),
      },
    };
  },



  buildRequest(conversions, config, now) {
    const base = config?.baseUrl ?? DEFAULT_BASE_URL;
    const path = `/v3/${config?.pixelId ?? '<SNAPCHAT_PIXEL_ID>'}/events${config?.validateOnly ? '/validate' : ''}`;
    // Snap documents the token as the `access_token` query parameter only; nothing in the relay logs request URLs.
    return {
      method: 'POST',
      url: `${base}${path}?access_token=${encodeURIComponent(config?.accessToken ?? '<SNAPCHAT_ACCESS_TOKEN>')}`,
      headers: { 'content-type': 'application/json' },
      body: { data: conversions.map((c) => toSnapchatEvent(c, now)) },
    };
  },

  classify: classifySnapchatResponse,

  signals(c) {
    return Object.keys(snapchatUserData(c));
  },
};

export default snapchatDestination;
