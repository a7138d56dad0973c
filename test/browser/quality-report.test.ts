import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { calibrateMetaWeights, matchRecord } from '#core/match-quality.ts';
import { destinationDefinitions as destinations } from '../../functions/destinations/definitions.ts';
import { renderQualityHtml } from '../../lib/ops/quality-html.ts';
import { summarize, tallyRequests, type DestinationQuality, type QualityReport } from '../../lib/ops/quality.ts';
import { NOW, conversionFactory } from '../support/factories.ts';
import { PROJECT_ROOT } from '../support/relay-process.ts';

/**
 * The `quality --html` page as a marketer opens it: in headless Chromium, from a file, with no network. The charts
 * must be there and visible (non-zero size), the bars sized by the figures, and a screenshot is kept for people
 * (test/browser/.artifacts/quality-report.png).
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(PROJECT_ROOT, 'test/browser/.artifacts');

function destinationQuality(name: string, convs: ReturnType<typeof conversionFactory>[]): DestinationQuality {
  const dest = destinations.find((d) => d.name === name)!;
  const matches = convs.map((c) => matchRecord(name, c, dest.signals(c)));
  // Meta: also the score calibrated to Meta's (example) uplift figures.
  const weights = name === 'meta' ? () => calibrateMetaWeights([{ identifier: 'email', upliftPercent: 58.96 }, { identifier: 'ip_address', upliftPercent: 20.65 }, { identifier: 'phone', upliftPercent: 5.9 }]) : undefined;
  const total = summarize('all', matches, weights);
  return {
    destination: name,
    delivered: convs.length,
    dryRun: 0,
    skipped: 1,
    failed: 0,
    unscored: 0,
    total,
    byEvent: [summarize('Purchase', matches.slice(0, 3), weights), summarize('Lead', matches.slice(3), weights)],
    // Google: two of four Purchase requests succeeded, one failed (3 records, click not found), one is pending.
    requests:
      name === 'google-ads'
        ? tallyRequests([
            { eventName: 'Purchase', requestId: 'r1', status: 'succeeded' },
            { eventName: 'Purchase', requestId: 'r2', status: 'succeeded' },
            { eventName: 'Purchase', requestId: 'r3', status: 'failed', reasons: [{ reason: 'PROCESSING_ERROR_REASON_CLICK_NOT_FOUND', count: 3 }] },
            { eventName: 'Purchase', requestId: 'r4', status: 'pending' },
            { eventName: 'Lead', requestId: 'r5', status: 'succeeded' },
          ])
        : undefined,
    skipReasons: [{ reason: 'consent', count: 1 }],
    weakReasons: [{ code: 'no_click_unseen', reason: 'no click ID: visitor never seen (no visitor ID on the order)', count: 2, share: 40 }],
    remote:
      name === 'meta'
        ? { platform: 'Meta Dataset Quality API', ok: true, events: [{ eventName: 'Purchase', compositeScore: 7.4, matchKeys: [{ identifier: 'email', coverage: 80, upliftPercent: 58.96 }], diagnostics: [{ name: 'Server sending mismatched IP addresses', percentage: 61.5 }], dedupe: [] }] }
        : undefined,
  };
}

describe.skipIf(!existsSync(CHROMIUM))('the quality report in headless Chromium', () => {
  let browser: Browser;
  const full = conversionFactory();
  const convs = [
    full,
    full,
    conversionFactory({ clicks: {}, visitorId: undefined }),
    conversionFactory({ clicks: {}, visitorId: undefined, user: { phone: full.user.phone, userAgent: full.user.userAgent } }),
    conversionFactory({ clicks: { gclid: { value: 'Cj0_x', capturedAt: NOW.getTime() - 3600_000 } } }),
  ];
  const report: QualityReport = {
    since: '2026-02-23T12:00:00.000Z',
    generatedAt: NOW.toISOString(),
    target: 'local relay',
    destinations: [destinationQuality('meta', convs), destinationQuality('google-ads', convs)],
  };

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('shows gauges and bar charts, sized by the figures, without fetching anything', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, 'quality-report.html');
    writeFileSync(file, renderQualityHtml(report));
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    await page.goto(pathToFileURL(file).href);

    expect(requested).toEqual([pathToFileURL(file).href]);
    const svgs = page.locator('svg');
    // Per destination: a relay gauge (+ the calibrated one and Meta's own for Meta), key coverage, score per event,
    // reasons (+ Google's verdict per request and its failure reasons for Google).
    expect(await svgs.count()).toBe(4 + 2 + 4 + 2);
    for (let i = 0; i < (await svgs.count()); i++) {
      const box = await svgs.nth(i).boundingBox();
      expect(box, `svg ${i}`).not.toBeNull();
      expect(box!.width).toBeGreaterThan(50);
      expect(box!.height).toBeGreaterThan(10);
      expect(await svgs.nth(i).isVisible()).toBe(true);
    }
    // Bars of Meta's key chart, 360 px = 100 %: phone on all five, e-mail on four (80 %), fbc on two (40 %).
    const meta = page.locator('section').first();
    const keyChart = meta.locator('figure.chart').first();
    expect(await keyChart.locator('figcaption').textContent()).toMatch(/Share of events carrying each identifier/);
    const barWidth = async (label: string) => {
      const rows = await keyChart.locator('text').allTextContents();
      const index = rows.filter((_, i) => i % 2 === 0).indexOf(label);
      return Number(await keyChart.locator('rect.bar').nth(index).getAttribute('width'));
    };
    expect(await barWidth('Phone')).toBeCloseTo(360, 0);
    expect(await barWidth('E-mail')).toBeCloseTo(360 * 0.8, 0);
    expect(await barWidth('Meta click (fbc)')).toBeCloseTo(360 * 0.4, 0);
    expect(await page.getByText('Server sending mismatched IP addresses').isVisible()).toBe(true);
    expect(await meta.locator('svg[aria-label^="Meta’s own score: 7.4"]').count()).toBe(1);
    expect(await meta.locator(`svg[aria-label^="Relay score, Meta-calibrated: ${report.destinations[0].total.calibratedScore}"]`).count()).toBe(1);

    // Google's verdict: the Purchase bar is half green (2 of 4 requests succeeded), a quarter red (failed).
    const google = page.locator('section').nth(1);
    const verdict = google.locator('figure.requests');
    expect(await verdict.locator('figcaption').textContent()).toMatch(/Google’s verdict on its requests/);
    const purchaseBars = verdict.locator('rect.bar');
    expect(Number(await purchaseBars.nth(0).getAttribute('width'))).toBeCloseTo(210, 0);
    expect(await purchaseBars.nth(0).getAttribute('fill')).toBe('#1a7f37');
    expect(Number(await purchaseBars.nth(1).getAttribute('width'))).toBeCloseTo(105, 0);
    expect(await purchaseBars.nth(1).getAttribute('fill')).toBe('#cf222e');
    expect(await google.getByText('PROCESSING_ERROR_REASON_CLICK_NOT_FOUND').isVisible()).toBe(true);

    await page.screenshot({ path: path.join(ARTIFACTS, 'quality-report.png'), fullPage: true });
    await page.close();
  }, 60_000);
});
