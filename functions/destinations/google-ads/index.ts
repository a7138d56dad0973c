import type { Conversion } from '#core/conversion.ts';
import { afterOriginalUpload, originalEventIds } from '#destinations/adjustments.ts';
import type { Destination, PlatformRequest, PlatformResponse } from '#destinations/types.ts';
import { classifyGoogleAdsResponse } from './classify.ts';
import { classifyDataManagerResponse } from './data-manager/classify.ts';
import { dataManagerSignals, MAX_EVENTS, toDataManagerEvent } from './data-manager/payload.ts';
import { classifyRequestStatus } from './data-manager/status.ts';
import { accessToken, forgetAccessToken, parseServiceAccountKey, type ServiceAccountKey } from './oauth.ts';
import {
  assertTimeZone,
  clickIdOf,
  googleUserIdentifiers,
  parseConversionActions,
  toClickConversion,
  toConversionAdjustment,
  type PayloadContext,
} from './payload.ts';
import { googleAdsRoute } from './route.ts';

/**
 * Which Google API uploads: the Data Manager API (default: what a new developer token can use since 2026-06-15,
 * when the Google Ads API stopped taking offline click conversions from tokens that had not used it — Google Ads
 * developer blog 2026-05-15) or the Google Ads API (`uploadClickConversions`, for allowlisted tokens).
 */
export const UPLOAD_API_SETTING = 'GOOGLE_ADS_UPLOAD_API';
export type UploadApi = 'data-manager' | 'google-ads-api';

export interface GoogleAdsConfig {
  uploadApi: UploadApi;
  /** Data Manager API base URL (a fake or a proxy in tests). */
  dataManagerBaseUrl: string;
  /** The account the conversions belong to, digits only. */
  customerId: string;
  /** The manager account the OAuth user signs in through, digits only. */
  loginCustomerId?: string;
  developerToken?: string;
  /** OAuth by service account (GOOGLE_SERVICE_ACCOUNT_KEY); otherwise by the refresh token below. */
  serviceAccount?: ServiceAccountKey;
  clientId?: string;
  clientSecret?: string;
  refreshToken?: string;
  /** Conversion name → conversion action ID. */
  conversionActions: Record<string, string>;
  baseUrl: string;
  apiVersion: string;
  tokenUrl: string;
  /** The account's time zone (IANA), for conversion date-times. */
  timeZone: string;
  /** Google's test mode: every request is validated, nothing is recorded. */
  validateOnly: boolean;
  /** Override of Google's "retry after 6 h / 24 h" for too-recent answers (tests). */
  tooRecentRetrySeconds?: number;
  /** Seconds before Google is first asked what it made of an accepted request (Google: 30 min). */
  statusCheckSeconds: number;
  /** Set by `prepare`: the OAuth access token for this batch. */
  accessToken?: string;
}

const DEFAULT_BASE_URL = 'https://googleads.googleapis.com';
/** The latest version per Google's doc banners (platforms.md §3.1); each version lives about a year. */
const DEFAULT_API_VERSION = 'v26';
const DEFAULT_TOKEN_URL = 'https://oauth2.googleapis.com/token';
/** devguides: `POST https://datamanager.googleapis.com/v1/events:ingest`. */
const DEFAULT_DATA_MANAGER_URL = 'https://datamanager.googleapis.com';
/** Older conversions cannot be adjusted: CONVERSION_EXPIRED (platforms.md §3.8, conversion_adjustment_upload_error.proto). */
const MAX_ADJUSTABLE_AGE_MS = 54 * 24 * 3600_000;
/** A click Google refuses as too recent until it is 6 h old (TOO_RECENT_CLICK / the Google Ads API's TOO_RECENT_EVENT). */
const TOO_RECENT_CLICK_MS = 6 * 3600_000;
const TOO_RECENT_MARGIN_MS = 10 * 60_000;
const CREDENTIAL_KEYS = ['GOOGLE_ADS_CUSTOMER_ID', 'GOOGLE_ADS_CLIENT_ID', 'GOOGLE_ADS_CLIENT_SECRET', 'GOOGLE_ADS_REFRESH_TOKEN', 'GOOGLE_ADS_CONVERSION_ACTIONS'];
/** A service account's JSON key file: replaces client ID, client secret and refresh token (Data Manager API path). */
export const SERVICE_ACCOUNT_SETTING = 'GOOGLE_SERVICE_ACCOUNT_KEY';
const REFRESH_TOKEN_KEYS = new Set(['GOOGLE_ADS_CLIENT_ID', 'GOOGLE_ADS_CLIENT_SECRET', 'GOOGLE_ADS_REFRESH_TOKEN']);

/**
 * What is missing for the chosen path, as the dry-run line and log name it: the account (operating account on the Data
 * Manager path), the conversion actions, and the credentials — on the Data Manager path a refresh token for its scope
 * OR a service account key, named as one alternative so a user does not set both.
 */
function missingFor(uploadApi: UploadApi, get: (k: string) => string | undefined, serviceAccount: boolean): string[] {
  const refreshToken = [...REFRESH_TOKEN_KEYS].filter((k) => !get(k));
  let credentials: string[] = [];
  if (!serviceAccount && refreshToken.length > 0) {
    credentials =
      uploadApi === 'google-ads-api'
        ? refreshToken
        : [`${refreshToken.join(' + ')} (OAuth refresh token for the scope https://www.googleapis.com/auth/datamanager) or ${SERVICE_ACCOUNT_SETTING}`];
  }
  const account = uploadApi === 'google-ads-api' ? 'GOOGLE_ADS_CUSTOMER_ID' : 'GOOGLE_ADS_CUSTOMER_ID (operating account: the one that owns the conversion actions)';
  return [
    ...(get('GOOGLE_ADS_CUSTOMER_ID') ? [] : [account]),
    ...credentials,
    ...(get('GOOGLE_ADS_CONVERSION_ACTIONS') ? [] : ['GOOGLE_ADS_CONVERSION_ACTIONS']),
  ];
}

/** "123-456-7890" → "1234567890"; Google wants customer IDs without dashes. */
function customerIdOf(key: string, raw: string): string {
  const id = raw.replace(/-/g, '').trim();
  if (!/^\d{10}$/.test(id)) throw new Error(`${key} must be a 10-digit Google Ads customer ID (dashes allowed), got "${raw}"`);
  return id;
}

function payloadContext(config: GoogleAdsConfig | undefined): PayloadContext {
  const customer = config?.customerId ?? '<GOOGLE_ADS_CUSTOMER_ID>';
  return {
    timeZone: config?.timeZone ?? 'UTC',
    actionFor: (name) => {
      const id = config ? config.conversionActions[name] : `<GOOGLE_ADS_CONVERSION_ACTIONS[${name}]>`;
      return id ? `customers/${customer}/conversionActions/${id}` : undefined;
    },
  };
}

/**
 * Google Ads API: click conversions (gclid / gbraid / wbraid and enhanced conversions for leads) through
 * `customers/{id}:uploadClickConversions`, refunds and chargebacks through `:uploadConversionAdjustments`.
 * https://developers.google.com/google-ads/api/docs/conversions/upload-clicks
 */
export const googleAdsDestination: Destination<GoogleAdsConfig> = {
  ...googleAdsRoute,
  // TOO_MANY_CONVERSIONS_IN_REQUEST / TOO_MANY_ADJUSTMENTS_IN_REQUEST above 2,000.
  maxBatchSize: 2000,
  settingKeys: [
    ...CREDENTIAL_KEYS,
    SERVICE_ACCOUNT_SETTING,
    UPLOAD_API_SETTING,
    'GOOGLE_ADS_LOGIN_CUSTOMER_ID',
    'GOOGLE_ADS_DEVELOPER_TOKEN',
    'GOOGLE_ADS_TIME_ZONE',
    'GOOGLE_ADS_VALIDATE_ONLY',
    'GOOGLE_ADS_API_BASE_URL',
    'GOOGLE_DATA_MANAGER_API_BASE_URL',
    'GOOGLE_ADS_API_VERSION',
    'GOOGLE_OAUTH_TOKEN_URL',
    'GOOGLE_ADS_TOO_RECENT_RETRY_SECONDS',
    'GOOGLE_ADS_STATUS_CHECK_SECONDS',
  ],

  configure(settings) {
    const get = (k: string) => settings[k]?.trim() || undefined;
    const apiVersion = get('GOOGLE_ADS_API_VERSION') ?? DEFAULT_API_VERSION;
    if (!/^v\d+$/.test(apiVersion)) throw new Error(`GOOGLE_ADS_API_VERSION must look like v26, got "${apiVersion}"`);
    const timeZone = get('GOOGLE_ADS_TIME_ZONE') ?? 'UTC';
    try {
      assertTimeZone(timeZone);
    } catch {
      throw new Error(`GOOGLE_ADS_TIME_ZONE must be an IANA time zone such as America/New_York (the account's time zone), got "${timeZone}"`);
    }
    const validateOnly = (get('GOOGLE_ADS_VALIDATE_ONLY') ?? 'false').toLowerCase();
    if (validateOnly !== 'true' && validateOnly !== 'false') throw new Error(`GOOGLE_ADS_VALIDATE_ONLY must be true or false, got "${validateOnly}"`);
    const tooRecent = get('GOOGLE_ADS_TOO_RECENT_RETRY_SECONDS');
    if (tooRecent !== undefined && !/^\d+$/.test(tooRecent)) throw new Error('GOOGLE_ADS_TOO_RECENT_RETRY_SECONDS must be a whole number of seconds');
    const uploadApi = (get(UPLOAD_API_SETTING) ?? 'data-manager').toLowerCase();
    if (uploadApi !== 'data-manager' && uploadApi !== 'google-ads-api') {
      throw new Error(`${UPLOAD_API_SETTING} must be data-manager (default) or google-ads-api, got "${uploadApi}"`);
    }
    // A developer token means a setup made for the Google Ads API path: its refresh token carries the adwords scope,
    // which the Data Manager API refuses. Say which way to go rather than fail every upload.
    if (!get(UPLOAD_API_SETTING) && get('GOOGLE_ADS_DEVELOPER_TOKEN')) {
      throw new Error(
        `GOOGLE_ADS_DEVELOPER_TOKEN is set but ${UPLOAD_API_SETTING} is not: uploads now go through the Data Manager API by default. ` +
          `Set ${UPLOAD_API_SETTING}=google-ads-api to keep the Google Ads API (allowlisted developer tokens only), or ${UPLOAD_API_SETTING}=data-manager ` +
          'with a refresh token for the scope https://www.googleapis.com/auth/datamanager (then the developer token is not needed).',
      );
    }
    const statusCheck = get('GOOGLE_ADS_STATUS_CHECK_SECONDS') ?? '1800';
    if (!/^\d+$/.test(statusCheck) || Number(statusCheck) < 1) throw new Error('GOOGLE_ADS_STATUS_CHECK_SECONDS must be a whole number of seconds (default 1800)');
    const serviceAccountRaw = get(SERVICE_ACCOUNT_SETTING);
    if (serviceAccountRaw && uploadApi !== 'data-manager') {
      throw new Error(`${SERVICE_ACCOUNT_SETTING} is supported with ${UPLOAD_API_SETTING}=data-manager only; the Google Ads API path needs GOOGLE_ADS_CLIENT_ID, GOOGLE_ADS_CLIENT_SECRET and GOOGLE_ADS_REFRESH_TOKEN`);
    }
    const missing = missingFor(uploadApi, get, !!serviceAccountRaw);
    if (missing.length) return { config: undefined, missing };
    const serviceAccount = serviceAccountRaw ? parseServiceAccountKey(SERVICE_ACCOUNT_SETTING, serviceAccountRaw) : undefined;
    const login = get('GOOGLE_ADS_LOGIN_CUSTOMER_ID');
    return {
      missing: [],
      config: {
        uploadApi,
        dataManagerBaseUrl: (get('GOOGLE_DATA_MANAGER_API_BASE_URL') ?? DEFAULT_DATA_MANAGER_URL).replace(/\/+$/, ''),
        customerId: customerIdOf('GOOGLE_ADS_CUSTOMER_ID', get('GOOGLE_ADS_CUSTOMER_ID')!),
        loginCustomerId: login ? customerIdOf('GOOGLE_ADS_LOGIN_CUSTOMER_ID', login) : undefined,
        developerToken: get('GOOGLE_ADS_DEVELOPER_TOKEN'),
        serviceAccount,
        clientId: serviceAccount ? undefined : get('GOOGLE_ADS_CLIENT_ID'),
        clientSecret: serviceAccount ? undefined : get('GOOGLE_ADS_CLIENT_SECRET'),
        refreshToken: serviceAccount ? undefined : get('GOOGLE_ADS_REFRESH_TOKEN'),
        conversionActions: parseConversionActions(get('GOOGLE_ADS_CONVERSION_ACTIONS')!),
        baseUrl: (get('GOOGLE_ADS_API_BASE_URL') ?? DEFAULT_BASE_URL).replace(/\/+$/, ''),
        apiVersion,
        tokenUrl: get('GOOGLE_OAUTH_TOKEN_URL') ?? DEFAULT_TOKEN_URL,
        timeZone,
        validateOnly: validateOnly === 'true',
        tooRecentRetrySeconds: tooRecent === undefined ? undefined : Number(tooRecent),
        statusCheckSeconds: Number(statusCheck),
      },
    };
  },


  // Uploads and adjustments go to different Google Ads API methods; a Data Manager request names one destination
  // (conversion action) for all its events.
  groupKey: (c) => `${c.adjustment ? 'adjustments' : 'clicks'}:${c.adjustment ? (c.adjustment.originalEventName ?? 'Purchase') : c.eventName}`,

  // Only Data Manager requests carry a request ID, so only they are followed up.
  followUp: {
    firstCheckSeconds: (config) => config.statusCheckSeconds,
    // 30 min, 1 h, 2 h, … capped at 12 h: about three days of asking.
    maxChecks: 10,
    buildRequest: (requestId, config) => ({
      method: 'GET',
      url: `${config.dataManagerBaseUrl}/v1/requestStatus:retrieve?requestId=${encodeURIComponent(requestId)}`,
      headers: { accept: 'application/json', authorization: `Bearer ${config.accessToken ?? ''}` },
      body: undefined,
    }),
    classify: classifyRequestStatus,
    // PROCESSING_ERROR_REASON_TOO_RECENT_CLICK says only "the click occurred too recently"; the Google Ads API's
    // sibling TOO_RECENT_EVENT says "less than 6 hours ago. Retry after 6 hours have passed" — so: 6 h after the click.
    retryAt(c, config, sentAt, now, certain) {
      const id = clickIdOf(c);
      const clickAt = id ? c.clicks[id.key]?.capturedAt : undefined;
      // Google counts per reason only: a conversion whose click was old enough when sent is not one of the too-recent.
      if (!certain && (clickAt === undefined || (sentAt && sentAt.getTime() - clickAt >= TOO_RECENT_CLICK_MS))) return undefined;
      if (config.tooRecentRetrySeconds !== undefined) return new Date(now.getTime() + config.tooRecentRetrySeconds * 1000);
      return new Date(Math.max(now.getTime(), (clickAt ?? now.getTime()) + TOO_RECENT_CLICK_MS) + TOO_RECENT_MARGIN_MS);
    },
  },

  deliveryNote(c, config) {
    if (config?.uploadApi === 'google-ads-api' || !c.adjustment?.full) return undefined;
    return `the Data Manager API cannot retract a conversion (its adjustments restate the value or add user data): the ${c.adjustment.kind} restated the value to 0 and the conversion still counts once; ${UPLOAD_API_SETTING}=google-ads-api (allowlisted developer token) retracts instead`;
  },

  async prepare(config, transport, now) {
    return { ...config, accessToken: await accessToken(config, transport, now) };
  },

  buildRequest(conversions, config, now) {
    // Dry-run (no config) shows the default path's request: the Data Manager API's.
    return config?.uploadApi === 'google-ads-api' ? buildGoogleAdsApiRequest(conversions, config) : buildDataManagerRequest(conversions, config, now);
  },

  classify(res: PlatformResponse, config?: GoogleAdsConfig) {
    // An expired or revoked access token: the next attempt gets a new one.
    if (res.status === 401) forgetAccessToken(config?.accessToken);
    if (config?.uploadApi === 'google-ads-api') return classifyGoogleAdsResponse(res, { tooRecentRetrySeconds: config?.tooRecentRetrySeconds });
    return classifyDataManagerResponse(res);
  },


  // A refund waits for its original upload, looked up by the original's event ID when the source knows it, else by
  // the event IDs an order's conversion gets (eventIdFor: the order ID for a Purchase, `order:name` otherwise) for
  // every conversion name that has an action — the only ones that can have been uploaded.
  dependsOn(c, config) {
    return c.adjustment ? originalEventIds(c, Object.keys(config?.conversionActions ?? {})) : undefined;
  },

  afterDependencies(c, originals) {
    return afterOriginalUpload('Google Ads', c, originals, (delivered) => {
      const age = delivered.occurredAt ? Date.parse(c.occurredAt) - Date.parse(delivered.occurredAt) : 0;
      if (age > MAX_ADJUSTABLE_AGE_MS) {
        return { skip: `Google Ads adjusts conversions up to 54 days old; ${delivered.eventId} is ${Math.floor(age / 86400_000)} days older than this ${c.adjustment!.kind}` };
      }
      const originalEventName = c.adjustment!.originalEventName ?? delivered.eventName;
      return { send: { ...c, adjustment: { ...c.adjustment!, ...(originalEventName && { originalEventName }) } } };
    });
  },

  signals(c: Conversion, config?: GoogleAdsConfig) {
    if (config?.uploadApi !== 'google-ads-api') return dataManagerSignals(c);
    if (c.adjustment) return ['orderId'];
    const click = clickIdOf(c);
    const ids = googleUserIdentifiers(c).map((u) => ('hashedEmail' in u ? 'hashedEmail' : 'hashedPhoneNumber'));
    return [...(click ? [click.key] : []), ...ids, ...(c.orderId ? ['orderId'] : [])];
  },
};

/** Google Ads API: `customers/{id}:uploadClickConversions` or `:uploadConversionAdjustments`. */
function buildGoogleAdsApiRequest(conversions: Conversion[], config: GoogleAdsConfig): PlatformRequest {
    const ctx = payloadContext(config);
    const customer = config?.customerId ?? '<GOOGLE_ADS_CUSTOMER_ID>';
    const adjustments = conversions[0]?.adjustment !== undefined;
    const body: Record<string, unknown> = adjustments
      ? { conversionAdjustments: conversions.map((c) => toConversionAdjustment(c, ctx)) }
      : { conversions: conversions.map((c) => toClickConversion(c, ctx)) };
    // Row errors come back in a 200's partialFailureError instead of failing the whole request (Google: "should always
    // be set to true").
    body.partialFailure = true;
    if (config?.validateOnly) body.validateOnly = true;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      authorization: `Bearer ${config?.accessToken ?? '<OAuth access token from GOOGLE_ADS_REFRESH_TOKEN>'}`,
    };
    if (config?.loginCustomerId) headers['login-customer-id'] = config.loginCustomerId;
    // Since September 2026 Google ignores the developer token (access belongs to the OAuth client's Cloud project);
    // still sent when configured, for accounts and proxies that look at it.
    // A request built without a prepared token is only recorded (dry-run, test events): no credential in it.
    if (config?.developerToken) headers['developer-token'] = config.accessToken ? config.developerToken : '<GOOGLE_ADS_DEVELOPER_TOKEN>';
    return {
      method: 'POST',
      url: `${config?.baseUrl ?? DEFAULT_BASE_URL}/${config?.apiVersion ?? DEFAULT_API_VERSION}/customers/${customer}:${adjustments ? 'uploadConversionAdjustments' : 'uploadClickConversions'}`,
      headers,
      body,
    };
}

/**
 * Data Manager API: `POST /v1/events:ingest`, one destination (the conversion action of this batch's conversion name:
 * batches are grouped by it) and up to 2,000 events. No developer token, no login-customer-id header: a manager
 * account is `loginAccount`.
 */
function buildDataManagerRequest(conversions: Conversion[], config: GoogleAdsConfig | undefined, _now: Date): PlatformRequest {
  const first = conversions[0];
  const name = first?.adjustment ? (first.adjustment.originalEventName ?? 'Purchase') : (first?.eventName ?? 'Purchase');
  const actionId = config ? config.conversionActions[name] : `<GOOGLE_ADS_CONVERSION_ACTIONS[${name}]>`;
  const reference = `action-${actionId ?? 'none'}`;
  const account = (accountId: string) => ({ accountType: 'GOOGLE_ADS' as const, accountId });
  const destination = {
    reference,
    operatingAccount: account(config?.customerId ?? '<GOOGLE_ADS_CUSTOMER_ID>'),
    ...(config?.loginCustomerId && { loginAccount: account(config.loginCustomerId) }),
    productDestinationId: actionId ?? `<no conversion action for ${name}>`,
  };
  const events = conversions.slice(0, MAX_EVENTS).map((c) => toDataManagerEvent(c, { referenceFor: () => reference }));
  const body: Record<string, unknown> = { destinations: [destination], events };
  // Required whenever userData is present (the upgrade guide's field mappings): every hash here is hex.
  if (events.some((e) => e.userData)) body.encoding = 'HEX';
  if (config?.validateOnly) body.validateOnly = true;
  return {
    method: 'POST',
    url: `${config?.dataManagerBaseUrl ?? DEFAULT_DATA_MANAGER_URL}/v1/events:ingest`,
    headers: {
      'content-type': 'application/json',
      // A request built without a prepared token is only recorded (dry-run, test events): no credential in it.
      authorization: `Bearer ${config?.accessToken ?? '<OAuth access token (scope https://www.googleapis.com/auth/datamanager)>'}`,
    },
    body,
  };
}

export default googleAdsDestination;
