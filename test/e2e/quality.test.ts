import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calibrateMetaWeights, metaScore } from '../../functions/core/match-quality.ts';
import { toPinterestEvent } from '../../functions/destinations/pinterest/payload.ts';
import { startMetaFake, type MetaFake } from '../fakes/meta-server.ts';
import { startPinterestEqsFake } from '../fakes/pinterest-eqs.ts';
import { conversionFactory } from '../support/factories.ts';
import { cli } from '../support/cli.ts';
import { collectVisit } from '../support/flows.ts';
import { startRelay, type RelayProcess } from '../support/relay-process.ts';
import { driverEnv, send, sourceDrivers, startDriverFakes } from '../support/source-requests.ts';

/**
 * `conversion-relay quality` end to end, through the real local runner: purchases with varied signals (a visitor who
 * came from a Meta + Google ad click, a returning buyer never seen on the site, one without an e-mail) reach Meta
 * (live, against its fake) and the other destinations (dry-run); the report's figures are those the mix implies,
 * and Meta's own verdict comes from its (fake) Dataset Quality API — or a clear message when the token lacks the
 * permission.
 */
const PIXEL_ID = '4455667788990';
const META_TOKEN = 'EAAB-quality-test-token';
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36';
const stripe = sourceDrivers.stripe;

describe('conversion-relay quality against the local runner', () => {
  let meta: MetaFake;
  let relay: RelayProcess;
  let dataDir: string;
  let stopFakes: (() => Promise<void>) | undefined;
  const run = Date.now();
  const ids = { clickA: `cs_q_click_a_${run}`, clickB: `cs_q_click_b_${run}`, unseen: `cs_q_unseen_${run}`, noEmail: `cs_q_noemail_${run}` };
  const metaEnv = () => ({ META_PIXEL_ID: PIXEL_ID, META_ACCESS_TOKEN: META_TOKEN, META_API_BASE_URL: meta.baseUrl });

  beforeAll(async () => {
    meta = await startMetaFake({ pixelId: PIXEL_ID, accessToken: META_TOKEN });
    dataDir = mkdtempSync(path.join(tmpdir(), 'relay-quality-'));
    stopFakes = await startDriverFakes();
    relay = await startRelay({ ...driverEnv(), ...metaEnv() }, dataDir);

    for (const [i, id] of [ids.clickA, ids.clickB].entries()) {
      const { visitorId } = await collectVisit(relay, `https://shop.example/landing?fbclid=IwAR_quality_${i}_${run}&gclid=Cj0KCQ_quality_${i}_${run}`, { userAgent: UA });
      expect((await send(relay.url, stripe.purchase({ id, visitorId, customer: { email: `buyer.${i}.${run}@example.com` } }))).status).toBe(200);
    }
    expect((await send(relay.url, stripe.purchase({ id: ids.unseen, customer: { email: `unseen.${run}@example.com` } }))).status).toBe(200);
    expect((await send(relay.url, stripe.purchase({ id: ids.noEmail, customer: { email: undefined, phone: '+1 650 555 0199' } }))).status).toBe(200);
    for (const id of Object.values(ids)) {
      for (const d of ['meta', 'google-ads', 'tiktok', 'ga4']) {
        await relay.waitFor(async () => ['delivered', 'dry_run', 'skipped', 'dead_lettered'].includes((await relay.ledgerFor(id, d))[0]?.status), 20_000, `${d} row of ${id}`);
      }
    }
  }, 120_000);
  afterAll(async () => {
    await relay?.stop();
    await meta?.close();
    await stopFakes?.();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('writes a compact match record on each delivered and dry-run row: key names, click, consent tier, score; no values', async () => {
    const [row] = await relay.ledgerFor(ids.clickA, 'meta');
    expect(row.status).toBe('delivered');
    expect(row.m).toMatchObject({ c: 'fbc', t: 'm' });
    expect(row.m.k.split(' ')).toEqual(expect.arrayContaining(['em', 'ip', 'ua', 'fbc', 'fbp', 'xid']));
    expect(row.m.s).toBeGreaterThan(5);
    const [google] = await relay.ledgerFor(ids.clickA, 'google-ads');
    expect(google.m).toMatchObject({ c: 'gclid' });
    const [unseen] = await relay.ledgerFor(ids.unseen, 'meta');
    expect(unseen.m.w).toContain('no_click_unseen');
    expect(JSON.stringify(row.m)).not.toMatch(/IwAR_quality|@example\.com|[0-9a-f]{64}/);
  });

  it('tabulates per destination and event: events, key shares, click-attach rate, click age, score, reasons', async () => {
    const res = await cli(['quality', '--since', '1h', '--json'], dataDir, metaEnv());
    expect(res.code).toBe(0);
    const report = JSON.parse(res.stdout);
    const m = report.destinations.find((d: any) => d.destination === 'meta');
    // Four purchases reached Meta: two after an ad click, three with an e-mail, one with a phone only.
    expect(m).toMatchObject({ delivered: 4, dryRun: 0, skipped: 0, failed: 0 });
    const purchase = m.byEvent.find((r: any) => r.eventName === 'Purchase');
    expect(purchase).toMatchObject({ events: 4, clickRate: 50 });
    expect(purchase.keys).toMatchObject({ fbc: 50, fbp: 50, em: 75, ph: 25, ua: 50 });
    expect(purchase.medianClickAgeHours).toBeGreaterThanOrEqual(0);
    expect(purchase.medianClickAgeHours).toBeLessThan(0.1); // the clicks were seconds before the purchases
    const scores = await Promise.all(Object.values(ids).map(async (id) => (await relay.ledgerFor(id, 'meta'))[0].m.s as number));
    expect(purchase.score).toBeCloseTo(scores.reduce((a, b) => a + b, 0) / 4, 1);
    expect(m.weakReasons.find((w: any) => w.code === 'no_click_unseen')).toMatchObject({ count: 2, share: 50 });
    expect(m.weakReasons.find((w: any) => w.code === 'no_em')).toMatchObject({ count: 1, share: 25 });

    const google = report.destinations.find((d: any) => d.destination === 'google-ads');
    const googleClicks = google.byEvent.reduce((n: number, r: any) => n + r.events * r.clickRate / 100, 0);
    expect(Math.round(googleClicks)).toBe(2);
    const reasons = [...google.weakReasons.map((w: any) => w.reason), ...google.skipReasons.map((s: any) => s.reason)].join('\n');
    expect(reasons).toMatch(/no click ID: visitor never seen/);
    // GA4 has no click IDs to miss; its two events without a client ID were skipped, with the reason.
    const ga4 = report.destinations.find((d: any) => d.destination === 'ga4');
    expect(ga4.weakReasons.map((w: any) => w.code)).not.toContain('no_click');
    expect(ga4.skipReasons).toEqual([{ reason: expect.stringMatching(/^GA4 needs a client ID/), count: 2 }]);

    // Meta's own verdict, beside ours: its fake scores the events it accepted.
    expect(m.remote.ok).toBe(true);
    const remote = m.remote.events.find((e: any) => e.eventName === 'Purchase');
    expect(remote.compositeScore).toBeGreaterThan(0);
    expect(remote.matchKeys.find((k: any) => k.identifier === 'email')).toMatchObject({ upliftPercent: 58.96 });
    expect(meta.datasetQuality.requests.at(-1)).toMatchObject({ status: 200, query: { dataset_id: PIXEL_ID } });

    // Our score again, with Meta's uplift figures for Purchase as the weights: phone, fbc and external_id weigh less
    // on this (fake) account than the defaults say, so the calibrated score is lower.
    const weights = calibrateMetaWeights(remote.matchKeys);
    const records = await Promise.all(Object.values(ids).map(async (id) => (await relay.ledgerFor(id, 'meta'))[0].m));
    const calibrated = Math.round((records.reduce((sum, rec) => sum + metaScore(rec, weights), 0) / records.length) * 10) / 10;
    expect(purchase.calibratedScore).toBe(calibrated);
    expect(purchase.calibratedScore).toBeLessThan(purchase.score);

    const table = await cli(['quality', '--since', '1h', '--destination', 'meta'], dataDir, metaEnv());
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^meta: \d+ delivered/m);
    expect(table.stdout).toMatch(new RegExp(`Purchase\\s+${purchase.events}\\s+${purchase.score.toFixed(1)}\\s+\\S+\\s+${purchase.clickRate}\\s`));
    expect(table.stdout).toMatch(/META EMQ\s+RELAY SCORE\s+CALIBRATED/);
    expect(table.stdout).toMatch(new RegExp(`Purchase\\s+${remote.compositeScore}\\s+${purchase.score.toFixed(1)}\\s+${purchase.calibratedScore.toFixed(1)}\\s`));
    expect(table.stdout).toMatch(/email \d+(\.\d)?% \(\+58\.96%\)/);
    expect(table.stdout).not.toMatch(/google-ads:/);
  });

  it('a token without the dataset-quality permission gives a clear message, and the local report still prints', async () => {
    meta.datasetQuality.denyPermission();
    try {
      const res = await cli(['quality', '--since', '1h', '--destination', 'meta'], dataDir, metaEnv());
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/Purchase\s+\d/);
      expect(res.stdout).toMatch(/code 10: \(#10\) Application does not have permission.*Use events dataset.*ads_read/);
    } finally {
      meta.datasetQuality.denyPermission(false);
    }
  });

  it('asks Pinterest for its Event Quality Score with the destination’s credentials; a token without ads:read gets a clear message', async () => {
    const account = '549755885175';
    const token = 'pina_quality_test_token';
    const eqs = await startPinterestEqsFake({ adAccountId: account, accessToken: token, events: () => [toPinterestEvent(conversionFactory(), new Date())] });
    const env = { PINTEREST_AD_ACCOUNT_ID: account, PINTEREST_ACCESS_TOKEN: token, PINTEREST_API_BASE_URL: eqs.baseUrl };
    try {
      const json = await cli(['quality', '--since', '1h', '--destination', 'pinterest', '--json'], dataDir, env);
      expect(json.code).toBe(0);
      const [p] = JSON.parse(json.stdout).destinations;
      expect(p.remote).toMatchObject({ platform: 'Pinterest Event Quality Score API', ok: true, scores: [{ overallStatus: 'GOOD', ingestionSource: 'CONVERSIONS_API', lookbackPeriod: '1d' }] });
      expect(p.remote.scores[0].components).toContainEqual(expect.objectContaining({ parameter: 'hashed_email', eventType: 'checkout', coverage: 100 }));
      expect(eqs.requests.at(-1)).toMatchObject({ status: 200, query: { lookback_period: '1d' }, authorization: `Bearer ${token}` });

      const table = await cli(['quality', '--since', '1h', '--destination', 'pinterest'], dataDir, env);
      expect(table.stdout).toMatch(/Pinterest Event Quality Score API \(WEB, CONVERSIONS_API, 1d\): GOOD/);
      expect(table.stdout).toMatch(/EVENT TYPE\s+hashed_email%/);
      expect(table.stdout).toMatch(/^checkout\s+100\s/m);

      eqs.denyScope();
      const denied = await cli(['quality', '--since', '7d', '--destination', 'pinterest'], dataDir, env);
      expect(denied.code).toBe(0);
      expect(denied.stdout).toMatch(/^pinterest: /m);
      expect(denied.stdout).toMatch(new RegExp(`HTTP 401, code 3: Your token does not have sufficient permissions.*ads:read scope and access to ad account ${account}`));
      expect(eqs.requests.at(-1)?.query.lookback_period).toBe('14d');
    } finally {
      await eqs.close();
    }
  });

  it('writes one self-contained HTML page with the charts', async () => {
    const file = path.join(dataDir, 'report.html');
    const res = await cli(['quality', '--since', '1h', '--html', file, '--offline'], dataDir);
    expect(res.code).toBe(0);
    const html = readFileSync(file, 'utf8');
    expect(html).toMatch(/<svg/);
    expect(html).not.toMatch(/<script|https?:\/\/(?!shop\.example)[^"' ]*\.(js|css)|<link /);
    expect(html).not.toMatch(/@example\.com|[0-9a-f]{64}/);
  });
});
