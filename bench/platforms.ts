import { startMetaFake } from '../test/fakes/meta-server.ts';

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
export const EXPECTED_DESTINATIONS = ['meta', 'tiktok', 'google-ads', 'ga4'];

export const platformFakes: Record<string, () => Promise<PlatformFake>> = {
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
};
