import type { Conversion } from '#core/conversion.ts';
import { oauth1Authorization, oauthNonce, type OAuth1Credentials } from '#destinations/oauth1.ts';
import { baseUrlSetting, eventNameMap, missingSettings, optionalSetting } from '#destinations/settings.ts';
import type { Destination } from '#destinations/types.ts';
import { classifyXResponse } from './classify.ts';
import { toXConversion, xIdentifiers } from './payload.ts';
import { xRoute } from './route.ts';

export interface XConfig {
  /** The Base Tag (X Pixel event source) ID, base 36, e.g. `o8z6j`. */
  pixelId: string;
  /** Conversion event name → the Events Manager event ID (base 36, or `tw-{pixel}-{event}`). */
  events: Record<string, string>;
  /** OAuth 1.0a: the developer app's consumer key/secret, the access token/secret of a user with ad-account access. */
  credentials: OAuth1Credentials;
  apiVersion: string;
  baseUrl: string;
}

const DEFAULT_BASE_URL = 'https://ads-api.x.com';
/** Ads API v12 is current (11 still answers); X runs two versions at once and deprecates with 6 months' notice. */
const DEFAULT_API_VERSION = '12';
const CREDENTIAL_KEYS = ['X_CONSUMER_KEY', 'X_CONSUMER_SECRET', 'X_ACCESS_TOKEN', 'X_ACCESS_TOKEN_SECRET'] as const;
const EVENT_ID = /^([0-9a-z]+|tw-[0-9a-z]+-[0-9a-z]+)$/;


/** What dry-run shows in place of the signed header: the signature exists only at send time, from the secrets. */
const UNSIGNED = 'OAuth oauth_consumer_key="<X_CONSUMER_KEY>", oauth_token="<X_ACCESS_TOKEN>", oauth_signature_method="HMAC-SHA1", oauth_signature="<signed when sent>"';

/** X Conversion API: https://docs.x.com/x-ads-api/measurement/web-conversions */
export const xDestination: Destination<XConfig> = {
  ...xRoute,
  // "Up to 500 conversion events may be provided"; more draws 400 "Conversion count limit is 500".
  maxBatchSize: 500,
  settingKeys: [...CREDENTIAL_KEYS, 'X_PIXEL_ID', 'X_EVENT_IDS', 'X_API_VERSION', 'X_API_BASE_URL'],

  configure(settings) {
    const missing = missingSettings(settings, [...CREDENTIAL_KEYS, 'X_PIXEL_ID', 'X_EVENT_IDS']);
    if (missing.length) return { config: undefined, missing };
    const pixelId = settings.X_PIXEL_ID!.trim();
    if (!/^[0-9a-z]+$/.test(pixelId)) throw new Error('X_PIXEL_ID must be the base-36 Pixel ID from Events Manager (e.g. o8z6j)');
    const apiVersion = optionalSetting(settings, 'X_API_VERSION') ?? DEFAULT_API_VERSION;
    if (!/^\d+$/.test(apiVersion)) throw new Error(`X_API_VERSION must be the Ads API version number (e.g. 12), got "${apiVersion}"`);
    return {
      missing: [],
      config: {
        pixelId,
        events: eventNameMap(settings.X_EVENT_IDS!, 'X_EVENT_IDS', EVENT_ID, 'Purchase=o87ne,Lead=o87nf'),
        credentials: {
          consumerKey: settings.X_CONSUMER_KEY!.trim(),
          consumerSecret: settings.X_CONSUMER_SECRET!.trim(),
          token: settings.X_ACCESS_TOKEN!.trim(),
          tokenSecret: settings.X_ACCESS_TOKEN_SECRET!.trim(),
        },
        apiVersion,
        baseUrl: baseUrlSetting(settings, 'X_API_BASE_URL', DEFAULT_BASE_URL),
      },
    };
  },


  // One event_id per request: an event ID X refuses (not a single event tag, another account's) then fails only the
  // conversions of that event.
  groupKey: (c) => c.eventName,

  buildRequest(conversions, config, now) {
    const url = `${config?.baseUrl ?? DEFAULT_BASE_URL}/${config?.apiVersion ?? DEFAULT_API_VERSION}/measurement/conversions/${config?.pixelId ?? '<X_PIXEL_ID>'}`;
    // The JSON body is not signed (OAuth 1.0a signs query and form parameters only); a fresh nonce per request.
    const authorization = config ? oauth1Authorization({ method: 'POST', url }, config.credentials, { timestamp: Math.floor(now.getTime() / 1000), nonce: oauthNonce() }) : UNSIGNED;
    return {
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', authorization },
      body: { conversions: conversions.map((c: Conversion) => toXConversion(c, config?.events[c.eventName] ?? '<X_EVENT_ID>', now)) },
    };
  },

  classify: (res) => classifyXResponse(res),

  signals(c) {
    return xIdentifiers(c).flatMap((id) => Object.keys(id));
  },
};

export default xDestination;
