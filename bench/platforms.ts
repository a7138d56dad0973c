import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../lib/constructs/relay-function.ts';
import { startMetaFake } from '../test/fakes/meta-server.ts';
import { CONVERSION_API_PLATFORMS } from '../test/support/platforms.ts';

/** A fake built on another branch (test/fakes/<file>), loaded by path so this file compiles before it is merged. */
const loadFake = (file: string): Promise<any> => import(pathToFileURL(path.join(PROJECT_ROOT, 'test/fakes', file)).href);

/**
 * The fake platform server each destination in functions/registry.ts is benchmarked against (test/fakes/), with the
 * settings that point the destination at it. A destination registered without an entry here is reported as
 * "no fake platform"; add one next to it.
 */
export interface PlatformFake {
  /** Settings (credentials, base URL) that make the destination send to this fake. */
  settings: Record<string, string>;
  /** HTTP requests the fake received so far. */
  requests(): number;
  /** Each accepted event's ID and when (ms) the fake received it. */
  arrivals(): { eventId: string; at: number }[];
  reset(): void;
  close(): Promise<void>;
}

/** Destinations the issue names that are built on other branches: "not yet available" until they are registered. */
export const EXPECTED_DESTINATIONS = ['meta', 'tiktok', 'google-ads', 'ga4', ...CONVERSION_API_PLATFORMS.map((p) => p.name)];

/** A platform of test/support/platforms.ts (LinkedIn, Pinterest, Snapchat, Reddit, …): its fake, read the one way they share. */
const conversionApiPlatformFake = (platform: (typeof CONVERSION_API_PLATFORMS)[number]) => async (): Promise<PlatformFake> => {
  const started = await platform.start();
  return {
    settings: started.env,
    requests: () => started.fake.requests().length,
    arrivals: () => started.fake.arrivals().map((a) => ({ eventId: started.eventId(a.event), at: a.at })),
    reset: () => started.fake.reset(),
    close: () => started.fake.close(),
  };
};

export const platformFakes: Record<string, () => Promise<PlatformFake>> = {
  ...Object.fromEntries(CONVERSION_API_PLATFORMS.map((p) => [p.name, conversionApiPlatformFake(p)])),
  async meta() {
    const pixelId = '1234567890123';
    const accessToken = 'EAAB-bench-token';
    const fake = await startMetaFake({ pixelId, accessToken });
    return {
      settings: { META_PIXEL_ID: pixelId, META_ACCESS_TOKEN: accessToken, META_API_BASE_URL: fake.baseUrl },
      requests: () => fake.requests.length,
      arrivals: () => fake.requests.filter((r) => r.status === 200).flatMap((r) => (r.body.data as { event_id: string }[]).map((e) => ({ eventId: e.event_id, at: r.at }))),
      reset: () => fake.reset(),
      close: () => fake.close(),
    };
  },
  async tiktok() {
    const pixelCode = 'C9Q2MJ3C77U4P674RPG0';
    const accessToken = 'tt-bench-access-token';
    const { startTikTokFake } = await loadFake('tiktok-server.ts');
    const fake = await startTikTokFake({ pixelCode, accessToken });
    return {
      settings: { TIKTOK_PIXEL_CODE: pixelCode, TIKTOK_ACCESS_TOKEN: accessToken, TIKTOK_API_BASE_URL: fake.baseUrl },
      requests: () => fake.requests.length,
      arrivals: () => fake.accepted().map((a: { event: { event_id: string }; at: number }) => ({ eventId: a.event.event_id, at: a.at })),
      reset: () => fake.reset(),
      close: () => fake.close(),
    };
  },
  async 'google-ads'() {
    // The default upload path, the Data Manager API (≤2,000 events a request): an OAuth client through a manager
    // account, and the conversion action the bench's Purchase conversions map to.
    const oauth = { clientId: 'bench-client.apps.googleusercontent.com', clientSecret: 'GOCSPX-bench-client-secret', refreshToken: '1//bench-refresh-token' };
    const { startDataManagerFake } = await loadFake('data-manager-server.ts');
    const fake = await startDataManagerFake({ accountId: '1234567890', loginAccountId: '9876543210', ...oauth, conversionActions: ['111'] });
    return {
      settings: {
        GOOGLE_ADS_CUSTOMER_ID: '123-456-7890',
        GOOGLE_ADS_LOGIN_CUSTOMER_ID: '987-654-3210',
        GOOGLE_ADS_CLIENT_ID: oauth.clientId,
        GOOGLE_ADS_CLIENT_SECRET: oauth.clientSecret,
        GOOGLE_ADS_REFRESH_TOKEN: oauth.refreshToken,
        GOOGLE_ADS_CONVERSION_ACTIONS: 'Purchase=111',
        GOOGLE_DATA_MANAGER_API_BASE_URL: fake.baseUrl,
        GOOGLE_OAUTH_TOKEN_URL: fake.tokenUrl,
      },
      // Upload calls only (events:ingest): token refreshes and later status checks are not conversion requests.
      requests: () => fake.requests.filter((r: { path: string }) => r.path === '/v1/events:ingest').length,
      // Each event Google kept carries its transaction ID: the order ID, the conversion's event ID for the bench's conversions.
      arrivals: () => fake.events().map((k: { event: { transactionId: string }; at: number }) => ({ eventId: k.event.transactionId, at: k.at })),
      reset: () => fake.reset(),
      close: () => fake.close(),
    };
  },
  async ga4() {
    const measurementId = 'G-BENCH0001';
    const apiSecret = 'ga4-bench-api-secret';
    const { startGa4Fake } = await loadFake('ga4-server.ts');
    const fake = await startGa4Fake({ measurementId, apiSecret });
    return {
      settings: { GA4_MEASUREMENT_ID: measurementId, GA4_API_SECRET: apiSecret, GA4_API_BASE_URL: fake.baseUrl },
      requests: () => fake.requests.length,
      // A purchase's transaction_id is its order ID, which is the conversion's event ID for the bench's conversions.
      arrivals: () => fake.hits().map((h: { event: { params?: { transaction_id?: string } }; at: number }) => ({ eventId: String(h.event.params?.transaction_id), at: h.at })),
      reset: () => fake.reset(),
      close: () => fake.close(),
    };
  },
};
