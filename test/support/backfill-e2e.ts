import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startGa4Fake, type Ga4Fake } from '../fakes/ga4-server.ts';
import { startGoogleAdsFake, type GoogleAdsFake } from '../fakes/google-ads-server.ts';
import { startMetaFake, type MetaFake } from '../fakes/meta-server.ts';
import { startTikTokFake, type TikTokFake } from '../fakes/tiktok-server.ts';
import { coreDestinationEnv } from './flows.ts';
import { startRelay, type RelayProcess } from './relay-process.ts';

/**
 * What the backfill e2e suites (Stripe, ClickBank) run against: the local runner with Meta, TikTok, Google Ads and GA4
 * live against their fakes, and a visitor who came from an ad (/collect stored its fbclid, gclid and GA cookie) before
 * the purchases the backfill is to find.
 */
export const BACKFILL_DESTINATIONS = ['meta', 'tiktok', 'google-ads', 'ga4'];
/** The user agent of the landing's browser: a backfilled conversion joined to the visitor carries it. */
export const BACKFILL_UA = 'Mozilla/5.0 (X11; Linux x86_64) conversion-relay-e2e-backfill';
const META = { pixelId: '2233445566778', accessToken: 'EAAB-e2e-backfill-meta' };
const TIKTOK = { pixelCode: 'C9Q2MJ3C77U4P674BKF1', accessToken: 'tt-e2e-backfill-token' };
const GA4 = { measurementId: 'G-E2EBACK01', apiSecret: 'ga4-e2e-backfill-secret' };
const GOOGLE = { customerId: '9876543210', clientId: 'e2e-backfill.apps.googleusercontent.com', clientSecret: 'GOCSPX-e2e-backfill', refreshToken: '1//e2e-backfill-refresh' };
const GA_COOKIE = 'GA1.1.1180343295.1772450000';
const FINAL = ['delivered', 'skipped', 'dead_lettered', 'dry_run'];

export interface BackfillE2e {
  meta: MetaFake;
  tiktok: TikTokFake;
  google: GoogleAdsFake;
  ga4: Ga4Fake;
  relay: RelayProcess;
  dataDir: string;
  /** The visitor ID /collect set for the landing. */
  visitorId: string;
  /** How many times each platform received this event ID. */
  received(id: string): Record<string, number>;
  /** The conversion's ledger rows once every destination's is final. */
  settled(id: string): ReturnType<RelayProcess['ledgerFor']>;
  close(): Promise<void>;
}

export async function startBackfillE2e(opts: { name: string; sourceEnv: Record<string, string>; landingUrl: string }): Promise<BackfillE2e> {
  const [meta, tiktok, google, ga4] = await Promise.all([startMetaFake(META), startTikTokFake(TIKTOK), startGoogleAdsFake({ ...GOOGLE, conversionActions: ['111'] }), startGa4Fake(GA4)]);
  const dataDir = mkdtempSync(path.join(tmpdir(), `relay-e2e-${opts.name}-`));
  const relay = await startRelay(
    {
      ...opts.sourceEnv,
      ...coreDestinationEnv({ meta: { creds: META, baseUrl: meta.baseUrl }, tiktok: { creds: TIKTOK, baseUrl: tiktok.baseUrl }, google: { creds: GOOGLE, baseUrl: google.baseUrl, tokenUrl: google.tokenUrl }, ga4: { creds: GA4, baseUrl: ga4.baseUrl } }),
      RELAY_RETRY_BASE_SECONDS: '1',
    },
    dataDir,
  );
  const res = await fetch(`${relay.url}/collect`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': BACKFILL_UA, cookie: `_ga=${GA_COOKIE}` },
    body: JSON.stringify({ url: opts.landingUrl }),
  });
  if (res.status !== 200) throw new Error(`/collect answered ${res.status}: ${await res.text()}`);
  const { visitorId } = (await res.json()) as { visitorId: string };
  const received = (id: string) => ({
    meta: meta.events().filter((e) => e.event_id === id).length,
    tiktok: tiktok.events().filter((e) => e.event_id === id).length,
    'google-ads': google.conversions().filter((c) => c.orderId === id).length,
    ga4: ga4.hits().filter((h) => h.event.params?.transaction_id === id).length,
  });
  const settled = (id: string) =>
    relay.waitFor(async () => {
      const rows = await relay.ledgerFor(id);
      return BACKFILL_DESTINATIONS.every((d) => FINAL.includes(rows.find((r) => r.sk === `D#${d}`)?.status)) && rows;
    }, 60_000, `every destination's final row for ${id}`);
  return {
    meta,
    tiktok,
    google,
    ga4,
    relay,
    dataDir,
    visitorId,
    received,
    settled,
    async close() {
      await relay.stop();
      await Promise.all([meta.close(), tiktok.close(), google.close(), ga4.close()]);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
