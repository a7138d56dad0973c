import type { Conversion } from '#core/conversion.ts';
import type { Settings } from '#sources/types.ts';
// The OAuth refresh-token flow is one shared implementation: Microsoft's identity platform speaks it too (with a scope).
import { accessToken as refreshedAccessToken, forgetAccessToken, type OAuthClient } from '#destinations/google-ads/oauth.ts';
import { afterOriginalUpload, originalEventIds } from '#destinations/adjustments.ts';
import { baseUrlSetting, missingSettings, optionalSetting } from '#destinations/settings.ts';
import type { Destination, PlatformRequest } from '#destinations/types.ts';
import { classifyUetResponse } from './classify.ts';
import { classifyOfflineResponse } from './offline/classify.ts';
import { MAX_OFFLINE_CONVERSIONS, offlineIdentifiers, toOfflineAdjustment, toOfflineConversion } from './offline/payload.ts';
import { toUetEvent, uetEventName, uetUserData } from './payload.ts';
import { CAPI_MAX_AGE_MS, OFFLINE_MAX_AGE_MS, UPLOAD_API_SETTING, microsoftRoute } from './route.ts';

export type UploadApi = 'capi' | 'offline';

export interface MicrosoftConfig {
  uploadApi: UploadApi;
  /** Conversion name → UET event action (MICROSOFT_EVENT_NAMES), over the standard mapping. */
  eventNames: Record<string, string>;
  capi?: { tagId: string; token: string; baseUrl: string };
  offline?: {
    developerToken: string;
    /** The manager account (CustomerId header) and the ad account (CustomerAccountId header), digits. */
    customerId: string;
    accountId: string;
    /** Conversion name → offline conversion goal name. */
    goals: Record<string, string>;
    baseUrl: string;
    oauth: OAuthClient;
    /** Set by `prepare`: the OAuth access token for this batch. */
    accessToken?: string;
  };
}

const CAPI_BASE_URL = 'https://capi.uet.microsoft.com';
/** Production; the sandbox is https://campaign.api.sandbox.bingads.microsoft.com (with a sandbox developer token). */
const CAMPAIGN_API_BASE_URL = 'https://campaign.api.bingads.microsoft.com';
const TOKEN_URL = 'https://login.microsoftonline.com/common/oauth2/v2.0/token';
/** The Bing Ads API scope, and offline_access so the answer keeps a refresh token (authentication-oauth-get-tokens.md). */
const OAUTH_SCOPE = 'https://ads.microsoft.com/msads.manage offline_access';
/** `dataProvider` is "required for third-party senders" (CAPI guide): the relay names itself. */
export const DATA_PROVIDER = 'conversion-relay';

const CAPI_KEYS = ['MICROSOFT_UET_TAG_ID', 'MICROSOFT_CAPI_TOKEN'];
const OFFLINE_KEYS = ['MICROSOFT_DEVELOPER_TOKEN', 'MICROSOFT_CUSTOMER_ID', 'MICROSOFT_ACCOUNT_ID', 'MICROSOFT_CLIENT_ID', 'MICROSOFT_REFRESH_TOKEN', 'MICROSOFT_CONVERSION_GOALS'];

/** `Purchase=Offline purchase, Lead=qualified_lead` → { Purchase: 'Offline purchase', Lead: 'qualified_lead' }. */
function parseNameMap(key: string, raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (raw ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([A-Za-z]\w*)\s*=\s*(\S(?:.*\S)?)$/.exec(pair);
    if (!m) throw new Error(`${key} must look like Purchase=<name>,Lead=<name>, got "${pair}"`);
    out[m[1]] = m[2];
  }
  return out;
}

function digits(settings: Settings, key: string, what: string): string {
  const v = settings[key]!.trim();
  if (!/^\d+$/.test(v)) throw new Error(`${key} must be ${what} (digits only), got "${v}"`);
  return v;
}

const isSet = (settings: Settings, key: string) => missingSettings(settings, [key]).length === 0;

/**
 * Microsoft Advertising: the UET Conversions API
 * (https://learn.microsoft.com/en-us/advertising/guides/uet-conversion-api-integration), or offline conversions
 * through the Campaign Management API where the account has no CAPI access (MICROSOFT_UPLOAD_API=offline).
 */
export const microsoftDestination: Destination<MicrosoftConfig> = {
  ...microsoftRoute,
  // CAPI: "The maximum number of events per batch upload is 1,000"; offline: "a maximum of 1,000 offline conversions per service request".
  maxBatchSize: Math.min(1000, MAX_OFFLINE_CONVERSIONS),
  maxEventAgeMsFor: (config) => (config.uploadApi === 'offline' ? OFFLINE_MAX_AGE_MS : CAPI_MAX_AGE_MS),
  settingKeys: [
    ...CAPI_KEYS,
    UPLOAD_API_SETTING,
    'MICROSOFT_DEVELOPER_TOKEN',
    'MICROSOFT_CUSTOMER_ID',
    'MICROSOFT_ACCOUNT_ID',
    'MICROSOFT_CLIENT_ID',
    'MICROSOFT_CLIENT_SECRET',
    'MICROSOFT_REFRESH_TOKEN',
    'MICROSOFT_CONVERSION_GOALS',
    'MICROSOFT_EVENT_NAMES',
    'MICROSOFT_CAPI_BASE_URL',
    'MICROSOFT_CAMPAIGN_API_BASE_URL',
    'MICROSOFT_OAUTH_TOKEN_URL',
  ],

  configure(settings) {
    const uploadApi = (optionalSetting(settings, UPLOAD_API_SETTING) ?? 'capi').toLowerCase();
    if (uploadApi !== 'capi' && uploadApi !== 'offline') throw new Error(`${UPLOAD_API_SETTING} must be capi (default: the UET Conversions API) or offline, got "${uploadApi}"`);
    const required = uploadApi === 'capi' ? CAPI_KEYS : OFFLINE_KEYS;
    const missing = missingSettings(settings, required);
    if (missing.length === required.length) {
      // Offline credentials without the switch: say which way to go rather than run the default path in dry-run.
      const offlineSet = OFFLINE_KEYS.filter((k) => isSet(settings, k));
      if (uploadApi === 'capi' && offlineSet.length) {
        throw new Error(
          `${offlineSet.join(', ')} ${offlineSet.length > 1 ? 'are' : 'is'} set but ${UPLOAD_API_SETTING} is not: the UET Conversions API is the default. ` +
            `Set ${UPLOAD_API_SETTING}=offline to upload offline conversions, or set ${CAPI_KEYS.join(' and ')} for the Conversions API.`,
        );
      }
      return { config: undefined, missing };
    }
    // Part of a path configured: a typo or a forgotten secret field, not a wish for dry-run.
    if (missing.length) {
      const path = uploadApi === 'capi' ? 'the UET Conversions API' : 'offline conversions';
      throw new Error(`Microsoft Advertising (${path}) is configured only in part: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing`);
    }
    const eventNames = parseNameMap('MICROSOFT_EVENT_NAMES', settings.MICROSOFT_EVENT_NAMES);
    if (uploadApi === 'capi') {
      return {
        missing: [],
        config: {
          uploadApi,
          eventNames,
          capi: {
            tagId: digits(settings, 'MICROSOFT_UET_TAG_ID', 'the UET tag ID from Tools → UET tag'),
            token: settings.MICROSOFT_CAPI_TOKEN!.trim(),
            baseUrl: baseUrlSetting(settings, 'MICROSOFT_CAPI_BASE_URL', CAPI_BASE_URL),
          },
        },
      };
    }
    const goals = parseNameMap('MICROSOFT_CONVERSION_GOALS', settings.MICROSOFT_CONVERSION_GOALS);
    return {
      missing: [],
      config: {
        uploadApi,
        eventNames,
        offline: {
          developerToken: settings.MICROSOFT_DEVELOPER_TOKEN!.trim(),
          customerId: digits(settings, 'MICROSOFT_CUSTOMER_ID', 'the manager account (customer) ID'),
          accountId: digits(settings, 'MICROSOFT_ACCOUNT_ID', 'the ad account ID'),
          goals,
          baseUrl: baseUrlSetting(settings, 'MICROSOFT_CAMPAIGN_API_BASE_URL', CAMPAIGN_API_BASE_URL),
          oauth: {
            tokenUrl: optionalSetting(settings, 'MICROSOFT_OAUTH_TOKEN_URL') ?? TOKEN_URL,
            clientId: settings.MICROSOFT_CLIENT_ID!.trim(),
            // Web apps have a secret; native (public) clients must not send one.
            clientSecret: optionalSetting(settings, 'MICROSOFT_CLIENT_SECRET'),
            refreshToken: settings.MICROSOFT_REFRESH_TOKEN!.trim(),
            scope: OAUTH_SCOPE,
          },
        },
      },
    };
  },

  // Offline uploads and adjustments are two operations.
  groupKey: (c) => (c.adjustment ? 'adjustments' : 'conversions'),

  async prepare(config, transport, now) {
    if (!config.offline) return config;
    return { ...config, offline: { ...config.offline, accessToken: await refreshedAccessToken(config.offline.oauth, transport, now) } };
  },

  buildRequest(conversions, config, now) {
    // Dry-run (no config) shows the default path, except for a refund, which only the offline path takes.
    const offline = config ? config.uploadApi === 'offline' : conversions[0]?.adjustment !== undefined;
    return offline ? buildOfflineRequest(conversions, config, now) : buildCapiRequest(conversions, config, now);
  },

  classify(res, config) {
    if (config?.uploadApi !== 'offline') return classifyUetResponse(res);
    // An expired or revoked access token: the next attempt gets a new one.
    if (res.status === 401) forgetAccessToken(config.offline?.accessToken);
    return classifyOfflineResponse(res);
  },

  // A refund waits for its original upload (looked up as Google Ads does: the original's event ID when the source
  // knows it, else the IDs an order's conversion gets for every name that has a goal).
  dependsOn(c, config) {
    return c.adjustment && config?.uploadApi === 'offline' ? originalEventIds(c, Object.keys(config.offline?.goals ?? {})) : undefined;
  },

  afterDependencies(c, originals) {
    return afterOriginalUpload('Microsoft', c, originals, (delivered) => {
      // Microsoft names the conversion to adjust by its time: without it in the ledger there is nothing to name.
      if (!delivered.occurredAt) return { skip: `the ledger has no conversion time for ${delivered.eventId}, which Microsoft needs to find the conversion to adjust` };
      const age = Date.parse(c.occurredAt) - Date.parse(delivered.occurredAt);
      if (age > OFFLINE_MAX_AGE_MS) return { skip: `Microsoft adjusts offline conversions up to 90 days old; ${delivered.eventId} is ${Math.floor(age / 86400_000)} days older than this ${c.adjustment!.kind}` };
      const originalEventName = c.adjustment!.originalEventName ?? delivered.eventName;
      return { send: { ...c, adjustment: { ...c.adjustment!, originalOccurredAt: delivered.occurredAt, ...(originalEventName && { originalEventName }) } } };
    });
  },

  signals(c, config) {
    return Object.keys(config?.uploadApi === 'offline' || (!config && c.adjustment) ? offlineIdentifiers(c) : uetUserData(c));
  },
};

function buildCapiRequest(conversions: Conversion[], config: MicrosoftConfig | undefined, now: Date): PlatformRequest {
  const capi = config?.capi;
  return {
    method: 'POST',
    url: `${capi?.baseUrl ?? CAPI_BASE_URL}/v1/${capi?.tagId ?? '<MICROSOFT_UET_TAG_ID>'}/events`,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${capi?.token ?? '<MICROSOFT_CAPI_TOKEN>'}` },
    body: {
      data: conversions.map((c) => toUetEvent(c, uetEventName(c.eventName, config?.eventNames), now)),
      // All or nothing, so a 400 names exactly the events that failed (see classify.ts).
      continueOnValidationError: false,
      dataProvider: DATA_PROVIDER,
    },
  };
}

/** `OfflineConversions/Apply` or, for refunds and chargebacks, `OfflineConversionAdjustments/Apply` (batches are grouped so). */
function buildOfflineRequest(conversions: Conversion[], config: MicrosoftConfig | undefined, now: Date): PlatformRequest {
  const offline = config?.offline;
  const goalFor = (name: string) => (offline ? (offline.goals[name] ?? `<no goal for ${name}>`) : `<MICROSOFT_CONVERSION_GOALS[${name}]>`);
  const adjustments = conversions[0]?.adjustment !== undefined;
  const body = adjustments
    ? { OfflineConversionAdjustments: conversions.map((c) => toOfflineAdjustment(c, goalFor(c.adjustment!.originalEventName ?? 'Purchase'), now)) }
    : { OfflineConversions: conversions.map((c) => toOfflineConversion(c, goalFor(c.eventName), now)) };
  // A request built without a prepared token is only recorded (dry-run, test events): no credential in it.
  const token = offline?.accessToken;
  return {
    method: 'POST',
    url: `${offline?.baseUrl ?? CAMPAIGN_API_BASE_URL}/CampaignManagement/v13/${adjustments ? 'OfflineConversionAdjustments' : 'OfflineConversions'}/Apply`,
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${token ?? '<OAuth access token from MICROSOFT_REFRESH_TOKEN>'}`,
      developertoken: token && offline ? offline.developerToken : '<MICROSOFT_DEVELOPER_TOKEN>',
      customerid: offline?.customerId ?? '<MICROSOFT_CUSTOMER_ID>',
      customeraccountid: offline?.accountId ?? '<MICROSOFT_ACCOUNT_ID>',
    },
    body,
  };
}

export default microsoftDestination;
