import { createHash } from 'node:crypto';
import { normalizeEmail, normalizeEmailMicrosoft, normalizeEmailReddit } from '#core/normalize-portable.ts';
import type { ConversionApiFake, FailReply } from '../fakes/conversion-api-fake.ts';
import { linkedInError, startLinkedInFake } from '../fakes/linkedin-server.ts';
import { startPinterestFake } from '../fakes/pinterest-server.ts';
import { startMicrosoftFake } from '../fakes/microsoft-server.ts';
import { redditInvalid, startRedditFake } from '../fakes/reddit-server.ts';
import { snapchatInvalid, startSnapchatFake } from '../fakes/snapchat-server.ts';
import { startXFake, xErrorBody } from '../fakes/x-server.ts';

/**
 * The destinations whose fakes are built on test/fakes/conversion-api-fake.ts (issue 12's platforms), in one table
 * the shared suites read (all-platforms e2e, faults, PII audit, bad input, bench): adding a platform to every suite is
 * one entry here. Each entry says how to start its fake and point the destination at it, what a landing carries for it
 * (its click ID parameter, its pixel's cookies), how to read an event the fake accepted, and how the platform refuses
 * an event permanently.
 */
export interface ConversionApiPlatform {
  /** The destination's name in functions/registry.ts. */
  name: string;
  /** The landing URL parameter of its click ID. */
  clickParam: string;
  /** The click ID a landing carries for it, made from a suite's value where the platform insists on a format. */
  clickValue?: (value: string) => string;
  /** Its pixel's first-party cookies a landing carries (read by /collect from the Cookie header). */
  cookies?: Record<string, string>;
  /** The e-mail form the platform hashes (the oracle for the hashed e-mail it must receive). */
  emailForm: (raw: string) => string | undefined;
  start(): Promise<StartedPlatform>;
}

export interface StartedPlatform {
  fake: ConversionApiFake<any>;
  /** Settings that make the destination send to the fake. */
  env: Record<string, string>;
  /** Credentials among `env`: never to be found in a log, table or queue. */
  secrets: string[];
  /** The ID the platform keys an event on: the Conversion's event ID. */
  eventId(e: any): string;
  /** The click ID an event carries (what `clickParam` brought). */
  clickId(e: any): string | undefined;
  /** The hashed e-mail an event carries. */
  email(e: any): string | undefined;
  /** The platform's permanent refusal of an event, and the reason the DLQ must then give. */
  refusal: { reply: FailReply; reason: RegExp };
}

export const CONVERSION_API_PLATFORMS: readonly ConversionApiPlatform[] = [
  {
    name: 'linkedin',
    clickParam: 'li_fat_id',
    emailForm: normalizeEmail,
    async start() {
      const accessToken = 'li-suite-token';
      const fake = await startLinkedInFake({ accessToken });
      return {
        fake,
        env: { LINKEDIN_CONVERSION_RULES: 'Purchase=104012', LINKEDIN_ACCESS_TOKEN: accessToken, LINKEDIN_API_BASE_URL: fake.baseUrl },
        secrets: [accessToken],
        eventId: (e) => e.eventId,
        clickId: (e) => e.user?.userIds?.find((id: any) => id.idType === 'LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID')?.idValue,
        email: (e) => e.user?.userIds?.find((id: any) => id.idType === 'SHA256_EMAIL')?.idValue,
        refusal: { reply: { status: 422, body: linkedInError(422, 'UNPROCESSABLE_ENTITY', 'Index: 0, ERROR :: /conversion :: rule not found\n') }, reason: /rule not found/ },
      };
    },
  },
  {
    name: 'pinterest',
    clickParam: 'epik',
    emailForm: normalizeEmail,
    async start() {
      const opts = { adAccountId: '549755885175', accessToken: 'pin-suite-token' };
      const fake = await startPinterestFake(opts);
      return {
        fake,
        env: { PINTEREST_AD_ACCOUNT_ID: opts.adAccountId, PINTEREST_ACCESS_TOKEN: opts.accessToken, PINTEREST_API_BASE_URL: fake.baseUrl },
        secrets: [opts.accessToken],
        eventId: (e) => e.event_id,
        clickId: (e) => e.user_data?.click_id,
        email: (e) => e.user_data?.em?.[0],
        refusal: { reply: { status: 400, body: { code: 4196, message: 'Invalid event: custom_data.currency is invalid' } }, reason: /currency is invalid/ },
      };
    },
  },
  {
    name: 'snapchat',
    clickParam: 'ScCid',
    cookies: { _scid: 'c2a1f0e4-1b2c-4d5e-8f90-a1b2c3d4e5f6' },
    emailForm: normalizeEmail,
    async start() {
      const opts = { pixelId: '5f3b1c2a-1d2e-4f5a-8b9c-0d1e2f3a4b5c', accessToken: 'snap-suite-token' };
      const fake = await startSnapchatFake(opts);
      return {
        fake,
        env: { SNAPCHAT_PIXEL_ID: opts.pixelId, SNAPCHAT_ACCESS_TOKEN: opts.accessToken, SNAPCHAT_API_BASE_URL: fake.baseUrl },
        secrets: [opts.accessToken],
        eventId: (e) => e.event_id,
        clickId: (e) => e.user_data?.sc_click_id,
        email: (e) => e.user_data?.em?.[0],
        refusal: { reply: { status: 400, body: snapchatInvalid('event_time is invalid') }, reason: /event_time is invalid/ },
      };
    },
  },
  {
    name: 'reddit',
    clickParam: 'rdt_cid',
    cookies: { _rdt_uuid: '1772450000000.7c73f2ae-a433-4d7b-9838-f467da98f48e' },
    emailForm: normalizeEmailReddit,
    async start() {
      const opts = { pixelId: 'a2_i9bj8x87t8ki', accessToken: 'rdt-suite-token' };
      const fake = await startRedditFake(opts);
      return {
        fake,
        env: { REDDIT_PIXEL_ID: opts.pixelId, REDDIT_ACCESS_TOKEN: opts.accessToken, REDDIT_API_BASE_URL: fake.baseUrl },
        secrets: [opts.accessToken],
        eventId: (e) => e.metadata?.conversion_id,
        clickId: (e) => e.click_id,
        email: (e) => e.user?.email,
        refusal: { reply: { status: 400, body: redditInvalid(['metadata.currency is invalid']) }, reason: /currency is invalid/ },
      };
    },
  },
  {
    name: 'microsoft',
    clickParam: 'msclkid',
    // The relay sends msclkid only when it is a GUID (what Microsoft issues).
    clickValue: (value) => createHash('sha256').update(value).digest('hex').slice(0, 32),
    cookies: { _uetvid: 'b171a9b06ce011ecafcd1b209be8601b' },
    emailForm: normalizeEmailMicrosoft,
    async start() {
      const opts = { tagId: '187012345', capiToken: 'uet-suite-token' };
      const fake = await startMicrosoftFake(opts);
      return {
        fake,
        env: { MICROSOFT_UET_TAG_ID: opts.tagId, MICROSOFT_CAPI_TOKEN: opts.capiToken, MICROSOFT_CAPI_BASE_URL: fake.baseUrl },
        secrets: [opts.capiToken],
        eventId: (e) => e.eventId,
        clickId: (e) => e.userData?.msclkid,
        email: (e) => e.userData?.em,
        // A 400 naming no event index: the sender splits the batch until the refused event stands alone.
        refusal: { reply: { status: 400, body: { error: { code: 'ValidationError', message: 'eventName does not match a goal of this tag' } } }, reason: /does not match a goal/ },
      };
    },
  },
  {
    name: 'x',
    clickParam: 'twclid',
    emailForm: normalizeEmail,
    async start() {
      const credentials = { consumerKey: 'x-suite-ck', consumerSecret: 'x-suite-cs', token: '18ce55-x-suite-at', tokenSecret: 'x-suite-ats' };
      // X needs an event ID per conversion name: every name the suites send.
      const eventIds = { Purchase: 'o87ne', Subscribe: 'o87nf', Lead: 'o87ng', CompleteRegistration: 'o87nh' };
      const fake = await startXFake({ pixelId: 'o8z6j', eventIds: Object.values(eventIds), credentials });
      return {
        fake,
        env: {
          X_CONSUMER_KEY: credentials.consumerKey,
          X_CONSUMER_SECRET: credentials.consumerSecret,
          X_ACCESS_TOKEN: credentials.token,
          X_ACCESS_TOKEN_SECRET: credentials.tokenSecret,
          X_PIXEL_ID: 'o8z6j',
          X_EVENT_IDS: Object.entries(eventIds).map(([k, v]) => `${k}=${v}`).join(','),
          X_API_BASE_URL: fake.baseUrl,
        },
        secrets: [credentials.consumerSecret, credentials.tokenSecret],
        // X's own event_id is the Events Manager event type; the relay's event ID is conversion_id.
        eventId: (e) => e.conversion_id,
        clickId: (e) => e.identifiers?.find((i: any) => i.twclid)?.twclid,
        email: (e) => e.identifiers?.find((i: any) => i.hashed_email)?.hashed_email,
        refusal: { reply: { status: 400, body: xErrorBody([{ code: 'INVALID_PARAMETER', message: 'value (abc) is not a valid number', parameter: 'value' }]) }, reason: /not a valid number/ },
      };
    },
  },
];

export interface StartedPlatforms {
  /** By destination name, each with its table entry. */
  byName: Record<string, StartedPlatform & { platform: ConversionApiPlatform }>;
  all(): (StartedPlatform & { platform: ConversionApiPlatform })[];
  /** Every started platform's settings, to spread into the relay's environment. */
  env: Record<string, string>;
  secrets: string[];
  /** A landing URL's query carrying every started platform's click ID (`value(param)` gives each its value). */
  clickQuery(value: (param: string) => string): string;
  /** A Cookie header value with every started platform's pixel cookies. */
  cookieHeader(): string;
  close(): Promise<void>;
}

/** The click ID a landing made with `value` carries for platform `p` (what `clickId(event)` must then give). */
export const clickFor = (p: ConversionApiPlatform, value: (param: string) => string) => (p.clickValue ? p.clickValue(value(p.clickParam)) : value(p.clickParam));

/** Starts the fakes of the table's platforms (all, or the ones named). */
export async function startConversionApiPlatforms(names?: readonly string[]): Promise<StartedPlatforms> {
  const chosen = CONVERSION_API_PLATFORMS.filter((p) => !names || names.includes(p.name));
  const started = await Promise.all(chosen.map(async (platform) => ({ ...(await platform.start()), platform })));
  const byName = Object.fromEntries(started.map((s) => [s.platform.name, s]));
  return {
    byName,
    all: () => started,
    env: Object.assign({}, ...started.map((s) => s.env)),
    secrets: started.flatMap((s) => s.secrets),
    clickQuery: (value) => chosen.map((p) => `${p.clickParam}=${encodeURIComponent(clickFor(p, value))}`).join('&'),
    cookieHeader: () => chosen.flatMap((p) => Object.entries(p.cookies ?? {}).map(([k, v]) => `${k}=${v}`)).join('; '),
    close: async () => {
      await Promise.all(started.map((s) => s.fake.close()));
    },
  };
}
