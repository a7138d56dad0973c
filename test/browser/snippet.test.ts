import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMetaFake, type MetaFake } from '../fakes/meta-server.ts';
import { PROJECT_ROOT, startRelay, type RelayProcess } from '../support/relay-process.ts';

/**
 * The snippet in real headless Chromium, against the relay as `npm start` runs it: a shop page on one origin embeds
 * `<script src="{relay}/t.js">` from another (same site, as a subdomain deployment is); the visitor lands from
 * ads, browses a single-page app, identifies, consents or not; Stripe then reports the payment and the fake Meta
 * Conversions API receives what the relay sends. Skipped where Chromium is not installed (CI installs it).
 */
const CHROMIUM = '/usr/bin/chromium';
const STRIPE_SECRET = 'whsec_browser_e2e';
const PIXEL_ID = '998877665544';
const META_TOKEN = 'EAAB-browser-e2e';
const RAW_EMAIL = 'Jane.Doe@Example.com';
const RAW_PHONE = '+1 (415) 555-0100';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The shop: any /app/* path is the same single-page app. Query `pre=denied` queues a refusal before the snippet loads; `gcm=denied` sets a Consent Mode default. */
function shopPage(relayUrl: string, query: URLSearchParams): string {
  const pre =
    query.get('pre') === 'denied'
      ? `window.conversionRelay = [['consent', { marketing: false, ad_user_data: false, ad_personalization: false, analytics: false }]];`
      : '';
  const gcm =
    query.get('gcm') === 'denied'
      ? `window.dataLayer = window.dataLayer || []; function gtag(){ dataLayer.push(arguments); }
         gtag('consent', 'default', { ad_storage: 'denied', ad_user_data: 'denied', ad_personalization: 'denied', analytics_storage: 'denied' });`
      : '';
  // A CMP speaking the IAB TCF v2 API: the stored choice (nothing consented) at once, the visitor's later via window.tcfUserChoice.
  const tcf = query.get('tcf')
    ? `window.__tcfapi = function (command, version, callback) {
         if (command !== 'addEventListener') return;
         window.tcfUserChoice = function (consents) { callback({ gdprApplies: true, eventStatus: 'useractioncomplete', purpose: { consents: consents } }, true); };
         callback({ gdprApplies: true, eventStatus: 'tcloaded', purpose: { consents: {} } }, true);
       };`
    : '';
  return `<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
<script>${pre}${gcm}${tcf}</script>
<script async src="https://connect.facebook.net/en_US/fbevents.js"></script>
<script async src="${relayUrl}/t.js"${query.get('eu') ? ' data-consent-default="denied"' : ''}></script>
</head><body>
<a id="pay" href="https://buy.stripe.com/test_e2e_link">Buy now</a>
<a id="hop" href="https://hop.clickbank.net/?affiliate=aff1&vendor=ven1">Vendor offer</a>
<a id="about" href="/app/about">About</a>
<form id="lead" action="/lead" data-visitor-field><input name="email"></form>
</body></html>`;
}

interface SeenRequest {
  url: string;
  body: string;
}

const fixture = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/stripe/checkout.session.json'), 'utf8'));
let sessions = 0;
function checkoutCompleted(overrides: Record<string, unknown>) {
  const sessionId = `cs_test_browser_${Date.now()}_${++sessions}`;
  // Stripe purchases are keyed on the PaymentIntent (one ID for every Stripe event about the same payment).
  const id = `pi_browser_${Date.now()}_${sessions}`;
  const session = {
    ...fixture,
    id: sessionId,
    payment_intent: id,
    amount_total: 12900,
    amount_subtotal: 12900,
    currency: 'eur',
    payment_status: 'paid',
    status: 'complete',
    client_reference_id: null,
    customer_details: { ...fixture.customer_details, email: 'buyer@example.org', phone: null, name: 'Bo Buyer', address: null },
    ...overrides,
  };
  const payload = JSON.stringify({
    id: `evt_browser_${sessionId}`,
    object: 'event',
    api_version: '2026-10-28.endive',
    created: Math.floor(Date.now() / 1000),
    livemode: true,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'checkout.session.completed',
    data: { object: session },
  });
  return { id, payload };
}

describe.skipIf(!existsSync(CHROMIUM))('the snippet in headless Chromium', () => {
  let meta: MetaFake;
  let relay: RelayProcess;
  let shop: Server;
  let shopUrl: string;
  let browser: Browser;
  let dataDir: string;
  let ddb: DynamoDBDocumentClient;
  /** Every request any page made, to prove raw PII never left the browser. */
  const everything: SeenRequest[] = [];

  const visitorItem = async (pk: string) => (await ddb.send(new GetCommand({ TableName: 'visitors', Key: { pk } }))).Item;

  async function postStripe(payload: string) {
    const res = await fetch(`${relay.url}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: STRIPE_SECRET }) },
      body: payload,
    });
    expect(res.status).toBe(200);
    return res.json() as Promise<any>;
  }

  const metaEvent = (eventId: string) =>
    relay.waitFor(() => meta.events().find((e) => e.event_id === eventId), 15_000, `the Meta event ${eventId}`);

  /** A fresh browser profile with Meta's pixel blocked (as ad blockers do) and its collect requests recorded. */
  async function visitor(): Promise<{ context: BrowserContext; page: Page; collects: SeenRequest[]; pixelBlocked: Promise<boolean> }> {
    const context = await browser.newContext();
    let blocked!: (v: boolean) => void;
    const pixelBlocked = new Promise<boolean>((r) => (blocked = r));
    await context.route('https://connect.facebook.net/**', (route) => {
      blocked(true);
      return route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    const collects: SeenRequest[] = [];
    page.on('request', (r) => {
      const seen = { url: r.url(), body: r.postData() ?? '' };
      everything.push(seen);
      if (r.url() === `${relay.url}/collect`) collects.push(seen);
    });
    return { context, page, collects, pixelBlocked };
  }

  const bodies = (collects: SeenRequest[], event?: string) => collects.map((c) => JSON.parse(c.body)).filter((b) => !event || b.event === event);
  const visitorIdOf = (page: Page) => page.waitForFunction(() => (window as any).conversionRelay?.visitorId?.()).then((h) => h.jsonValue() as Promise<string>);

  beforeAll(async () => {
    // The shop's port must be known before the relay starts: it is the one origin the relay accepts.
    let relayUrl = '';
    shop = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://shop');
      if (!url.pathname.startsWith('/app/')) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(shopPage(relayUrl, url.searchParams));
    });
    await new Promise<void>((r) => shop.listen(0, '127.0.0.1', r));
    shopUrl = `http://127.0.0.1:${(shop.address() as AddressInfo).port}`;

    meta = await startMetaFake({ pixelId: PIXEL_ID, accessToken: META_TOKEN });
    dataDir = mkdtempSync(path.join(tmpdir(), 'relay-browser-'));
    relay = await startRelay(
      {
        STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
        META_PIXEL_ID: PIXEL_ID,
        META_ACCESS_TOKEN: META_TOKEN,
        META_API_BASE_URL: meta.baseUrl,
        RELAY_ALLOWED_ORIGINS: shopUrl,
        CONSENT_DEFAULT: 'granted',
        RELAY_RETRY_BASE_SECONDS: '1',
      },
      dataDir,
    );
    relayUrl = relay.url;
    ddb = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint: relay.dynamodbUrl, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await relay?.stop();
    await meta?.close();
    await new Promise((r) => shop?.close(r));
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  describe('a visitor who lands from ads with full consent', () => {
    let v: Awaited<ReturnType<typeof visitor>>;
    let visitorId: string;
    let landedFrom: number;
    let landedBy: number;
    let userAgent: string;

    beforeAll(async () => {
      v = await visitor();
      landedFrom = Date.now();
      await v.page.goto(`${shopUrl}/app/landing?fbclid=IwAR_browser-Click_1&gclid=Cj0KCQ_browser&ttclid=E.C.P.browser_tt&utm_source=facebook&utm_campaign=spring`);
      visitorId = await visitorIdOf(v.page);
      landedBy = Date.now();
      userAgent = await v.page.evaluate(() => navigator.userAgent);
    });
    afterAll(() => v?.context.close());

    it('sets the HttpOnly visitor cookie and Meta’s _fbc (with the landing time) and _fbp, though Meta’s pixel was blocked', async () => {
      expect(await v.pixelBlocked).toBe(true);
      const cookies = Object.fromEntries((await v.context.cookies()).map((c) => [c.name, c]));
      expect(cookies.cr_vid).toMatchObject({ value: visitorId, httpOnly: true, secure: true, sameSite: 'Lax' });
      expect(visitorId).toMatch(/^[0-9a-f-]{36}$/);
      const fbc = /^fb\.1\.(\d{13})\.IwAR_browser-Click_1$/.exec(cookies._fbc.value);
      expect(fbc).not.toBeNull();
      expect(Number(fbc![1])).toBeGreaterThanOrEqual(landedFrom);
      expect(Number(fbc![1])).toBeLessThanOrEqual(landedBy);
      expect(cookies._fbc.httpOnly).toBe(false);
      expect(cookies._fbp.value).toMatch(/^fb\.1\.\d{13}\.\d{10}$/);
    });

    it('stores every click of the landing with its time, the browser’s IP and user agent', async () => {
      const item = (await visitorItem(`V#${visitorId}`))!;
      expect(item.click_gclid).toMatchObject({ value: 'Cj0KCQ_browser' });
      expect(item.click_ttclid).toMatchObject({ value: 'E.C.P.browser_tt' });
      expect(item.click_fbc.value).toBe((await v.context.cookies()).find((c) => c.name === '_fbc')!.value);
      expect(item.clickHistory.map((c: any) => c.key).sort()).toEqual(['fbc', 'gclid', 'ttclid']);
      for (const click of item.clickHistory) {
        expect(click).toMatchObject({ ip: '127.0.0.1', userAgent });
        expect(click.capturedAt).toBeGreaterThanOrEqual(landedFrom);
        expect(click.capturedAt).toBeLessThanOrEqual(landedBy);
      }
      expect(item.utm).toEqual({ utm_source: 'facebook', utm_campaign: 'spring' });
    });

    it('carries the visitor ID into the Stripe Payment Link, the ClickBank hop link and the lead form', async () => {
      const hrefs = await v.page.evaluate(() => ({
        pay: (document.getElementById('pay') as HTMLAnchorElement).href,
        hop: (document.getElementById('hop') as HTMLAnchorElement).href,
        about: (document.getElementById('about') as HTMLAnchorElement).href,
        field: (document.querySelector('#lead input[name="visitor_id"]') as HTMLInputElement | null)?.value,
      }));
      expect(hrefs.pay).toBe(`https://buy.stripe.com/test_e2e_link?client_reference_id=${visitorId}`);
      expect(hrefs.hop).toBe(`https://hop.clickbank.net/?affiliate=aff1&vendor=ven1&tid=${visitorId.replaceAll('-', '')}`);
      expect(hrefs.about).toBe(`${shopUrl}/app/about`);
      expect(hrefs.field).toBe(visitorId);
    });

    it('counts each single-page-app route change once, however many history calls it takes', async () => {
      expect(bodies(v.collects, 'page_view')).toHaveLength(1);
      await v.page.evaluate(() => {
        history.pushState({}, '', '/app/pricing');
        history.replaceState({ scroll: 1 }, '', '/app/pricing'); // routers often do this right after
      });
      await relay.waitFor(() => bodies(v.collects, 'page_view').length >= 2, 5_000, 'the SPA page view');
      await v.page.goBack();
      await relay.waitFor(() => bodies(v.collects, 'page_view').length >= 3, 5_000, 'the popstate page view');
      await v.page.waitForTimeout(500); // room for a double fire to show up
      const views = bodies(v.collects, 'page_view').map((b) => new URL(b.url).pathname);
      expect(views).toEqual(['/app/landing', '/app/pricing', '/app/landing']);
    });

    it('identify sends only SHA-256 digests, and links them to the visitor', async () => {
      await v.page.evaluate(([email, phone]) => (window as any).conversionRelay.identify({ email, phone }), [RAW_EMAIL, RAW_PHONE]);
      await relay.waitFor(() => bodies(v.collects, 'identify').length > 0, 5_000, 'the identify request');
      const [sent] = bodies(v.collects, 'identify');
      expect(sent.identify).toEqual({ email: sha256('jane.doe@example.com'), phone: sha256('14155550100') });
      await relay.waitFor(async () => (await visitorItem(`E#${sha256('jane.doe@example.com')}`))?.visitorId === visitorId, 5_000, 'the e-mail link');
      expect((await visitorItem(`P#${sha256('14155550100')}`))?.visitorId).toBe(visitorId);

      const wire = JSON.stringify(everything).toLowerCase();
      for (const raw of ['jane.doe@example.com', 'jane.doe%40example.com', '4155550100', '415) 555']) expect(wire).not.toContain(raw);
    });

    it('gives the same event ID the server uses', async () => {
      expect(await v.page.evaluate(() => (window as any).conversionRelay.eventId('cs_test_123'))).toBe('cs_test_123');
      expect(await v.page.evaluate(() => (window as any).conversionRelay.eventId('cs_test_123', 'Lead'))).toBe('cs_test_123:lead');
    });

    it('a Stripe payment through the decorated link reaches Meta with the landing’s fbc, and the browser’s IP and user agent', async () => {
      const { id, payload } = checkoutCompleted({ client_reference_id: visitorId });
      await postStripe(payload);
      const event = await metaEvent(id);
      const cookies = Object.fromEntries((await v.context.cookies()).map((c) => [c.name, c.value]));
      expect(event.user_data).toMatchObject({ fbc: cookies._fbc, fbp: cookies._fbp, client_ip_address: '127.0.0.1', client_user_agent: userAgent });
      const clickTime = Number(event.user_data.fbc.split('.')[2]);
      expect(clickTime).toBeGreaterThanOrEqual(landedFrom);
      expect(clickTime).toBeLessThanOrEqual(landedBy);
      expect(event).toMatchObject({ event_name: 'Purchase', action_source: 'website', custom_data: { value: 129, currency: 'EUR' } });
      expect(event.data_processing_options).toBeUndefined();
    });

    it('a payment that carries only the identified e-mail still finds the landing’s clicks', async () => {
      const { id, payload } = checkoutCompleted({ customer_details: { ...fixture.customer_details, email: RAW_EMAIL, phone: null, name: null, address: null } });
      await postStripe(payload);
      const event = await metaEvent(id);
      expect(event.user_data.fbc).toMatch(/\.IwAR_browser-Click_1$/);
      expect(event.user_data.em).toEqual([sha256('jane.doe@example.com')]);
    });
  });

  describe('consent', () => {
    it('refused before landing: no ad cookie, no click stored, and the payment is recorded but not sent; granted later: the landing’s clicks count', async () => {
      const v = await visitor();
      try {
        const landedFrom = Date.now();
        await v.page.goto(`${shopUrl}/app/landing?pre=denied&fbclid=IwAR_refused&gclid=Cj0_refused`);
        const visitorId = await visitorIdOf(v.page);
        const landedBy = Date.now();
        const names = (await v.context.cookies()).map((c) => c.name);
        expect(names).toEqual(['cr_vid']);
        const [first] = bodies(v.collects, 'page_view');
        expect(first.consent).toEqual({ marketing: false, ad_user_data: false, ad_personalization: false, analytics: false });
        expect(first.cookies).toEqual({});
        let item = (await visitorItem(`V#${visitorId}`))!;
        expect(item.click_fbc).toBeUndefined();
        expect(item.click_gclid).toBeUndefined();
        expect(item.consent).toMatchObject({ marketing: false });

        const refused = checkoutCompleted({ client_reference_id: visitorId });
        const answer = await postStripe(refused.payload);
        expect(answer.conversions[0].routes).toContainEqual({ destination: 'meta', status: 'skipped', reason: expect.stringMatching(/^consent: /) });
        const [row] = await relay.ledgerFor(refused.id, 'meta');
        expect(row).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/^consent: .*recorded, not sent/) });

        // The visitor changes their mind on the same page.
        await v.page.evaluate(() => (window as any).conversionRelay.consent({ marketing: true, ad_user_data: true, ad_personalization: true, analytics: true }));
        await relay.waitFor(async () => (await visitorItem(`V#${visitorId}`))?.click_fbc, 5_000, 'the clicks after consent');
        item = (await visitorItem(`V#${visitorId}`))!;
        expect(item.consent).toMatchObject({ marketing: true });
        expect(item.click_gclid.value).toBe('Cj0_refused');
        // _fbc carries the landing time, not the time of the consent.
        const fbcTime = Number(/^fb\.1\.(\d{13})\.IwAR_refused$/.exec(item.click_fbc.value)![1]);
        expect(fbcTime).toBeGreaterThanOrEqual(landedFrom);
        expect(fbcTime).toBeLessThanOrEqual(landedBy);
        expect((await v.context.cookies()).find((c) => c.name === '_fbc')?.value).toBe(item.click_fbc.value);

        const granted = checkoutCompleted({ client_reference_id: visitorId });
        await postStripe(granted.payload);
        expect((await metaEvent(granted.id)).user_data.fbc).toBe(item.click_fbc.value);
        expect(meta.events().some((e) => e.event_id === refused.id)).toBe(false);
      } finally {
        await v.context.close();
      }
    });

    it('follows Google Consent Mode: a denied default holds the clicks back, a gtag update releases them', async () => {
      const v = await visitor();
      try {
        await v.page.goto(`${shopUrl}/app/landing?gcm=denied&gclid=Cj0_gcm`);
        const visitorId = await visitorIdOf(v.page);
        expect(bodies(v.collects, 'page_view')[0].consent).toEqual({ marketing: false, ad_user_data: false, ad_personalization: false, analytics: false });
        expect((await visitorItem(`V#${visitorId}`))!.click_gclid).toBeUndefined();

        await v.page.evaluate(() => (window as any).gtag('consent', 'update', { ad_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'denied', analytics_storage: 'granted' }));
        await relay.waitFor(async () => (await visitorItem(`V#${visitorId}`))?.click_gclid, 5_000, 'the clicks after the Consent Mode update');
        expect((await visitorItem(`V#${visitorId}`))!.consent).toEqual({ marketing: true, adUserData: true, adPersonalization: false, analytics: true });
      } finally {
        await v.context.close();
      }
    });

    it('follows the IAB TCF CMP: nothing consented holds the clicks back, the visitor’s choice of purposes releases them', async () => {
      const v = await visitor();
      try {
        await v.page.goto(`${shopUrl}/app/landing?tcf=1&gclid=Cj0_tcf`);
        const visitorId = await visitorIdOf(v.page);
        expect(bodies(v.collects, 'page_view')[0].consent).toEqual({ marketing: false, ad_user_data: false, ad_personalization: false, analytics: false });
        expect((await visitorItem(`V#${visitorId}`))!.click_gclid).toBeUndefined();

        await v.page.evaluate(() => (window as any).tcfUserChoice({ 1: true, 7: true, 8: true }));
        await relay.waitFor(async () => (await visitorItem(`V#${visitorId}`))?.click_gclid, 5_000, 'the clicks after the TCF choice');
        expect((await visitorItem(`V#${visitorId}`))!.consent).toEqual({ marketing: true, adUserData: true, adPersonalization: false, analytics: true });
      } finally {
        await v.context.close();
      }
    });

    it('withdrawn after landing: the payment is recorded, not sent', async () => {
      const v = await visitor();
      try {
        await v.page.goto(`${shopUrl}/app/landing?fbclid=IwAR_withdrawn`);
        const visitorId = await visitorIdOf(v.page);
        expect((await visitorItem(`V#${visitorId}`))!.click_fbc.value).toMatch(/\.IwAR_withdrawn$/);
        await v.page.evaluate(() => (window as any).conversionRelay.consent({ marketing: 'denied', analytics: 'denied' }));
        await relay.waitFor(async () => (await visitorItem(`V#${visitorId}`))?.consent?.marketing === false, 5_000, 'the withdrawal');
        const { id, payload } = checkoutCompleted({ client_reference_id: visitorId });
        const answer = await postStripe(payload);
        expect(answer.conversions[0].routes.find((r: { destination: string }) => r.destination === 'meta')).toMatchObject({ destination: 'meta', status: 'skipped', reason: expect.stringMatching(/^consent: /) });
        await new Promise((r) => setTimeout(r, 500));
        expect(meta.events().some((e) => e.event_id === id)).toBe(false);
      } finally {
        await v.context.close();
      }
    });

    it('an EU site’s data-consent-default="denied" holds everything back until the visitor agrees', async () => {
      const v = await visitor();
      try {
        await v.page.goto(`${shopUrl}/app/landing?eu=1&gclid=Cj0_eu&fbclid=IwAR_eu`);
        const visitorId = await visitorIdOf(v.page);
        expect((await v.context.cookies()).map((c) => c.name)).toEqual(['cr_vid']);
        expect((await visitorItem(`V#${visitorId}`))!.click_gclid).toBeUndefined();
        await v.page.evaluate(() => (window as any).conversionRelay.consent({ marketing: true, ad_user_data: true, ad_personalization: true, analytics: true }));
        await relay.waitFor(async () => (await visitorItem(`V#${visitorId}`))?.click_gclid, 5_000, 'the clicks after consent');
      } finally {
        await v.context.close();
      }
    });
  });

  describe('the extra part (/t.js?part=extra: identify’s hashing, a stored TC string’s decoding)', () => {
    const isExtra = (url: string) => url.startsWith(`${relay.url}/t.js?`) && new URL(url).searchParams.get('part') === 'extra';
    /** A TCF v2 core segment (version 2 in the first 6 bits); purposes 1–10 all consented (bits 152–161) or none. */
    const tcString = (consented: boolean) => {
      const bytes = Buffer.alloc(30);
      bytes[0] = 2 << 2;
      if (consented) [bytes[19], bytes[20]] = [0xff, 0xc0];
      return bytes.toString('base64url');
    };
    const withTcCookie = (v: Awaited<ReturnType<typeof visitor>>, consented: boolean) =>
      v.context.addCookies([{ name: 'euconsent-v2', value: tcString(consented), url: shopUrl }]);
    const allFalse = { marketing: false, ad_user_data: false, ad_personalization: false, analytics: false };
    /** The extra part's requests this visitor's page makes. */
    const extraRequests = (v: Awaited<ReturnType<typeof visitor>>) => {
      const seen: string[] = [];
      v.page.on('request', (r) => void (isExtra(r.url()) && seen.push(r.url())));
      return seen;
    };

    it('is not loaded by a page view that needs neither', async () => {
      const v = await visitor();
      const extras = extraRequests(v);
      try {
        await v.page.goto(`${shopUrl}/app/landing?gclid=Cj0_plain`);
        await visitorIdOf(v.page);
        await v.page.waitForTimeout(300);
        expect(v.collects.length).toBeGreaterThan(0);
        expect(extras).toEqual([]);
      } finally {
        await v.context.close();
      }
    });

    it('identify queued before the snippet (so called before the part arrives) still sends only the digests; the part is versioned and immutable', async () => {
      const v = await visitor();
      const extras = extraRequests(v);
      try {
        const extraResponse = v.page.waitForResponse((r) => isExtra(r.url()));
        await v.page.addInitScript(
          ([email, phone]) => ((window as any).conversionRelay = [['identify', { email, phone }]]),
          ['  Queued.Buyer@Example.com ', '+44 20 7946 0000'],
        );
        await v.page.goto(`${shopUrl}/app/landing?gclid=Cj0_queued`);
        const visitorId = await visitorIdOf(v.page);
        await relay.waitFor(() => bodies(v.collects, 'identify').length > 0, 5_000, 'the queued identify');
        expect(bodies(v.collects, 'identify')[0].identify).toEqual({ email: sha256('queued.buyer@example.com'), phone: sha256('442079460000') });
        await relay.waitFor(async () => (await visitorItem(`E#${sha256('queued.buyer@example.com')}`))?.visitorId === visitorId, 5_000, 'the e-mail link');

        const response = await extraResponse;
        expect(response.status()).toBe(200);
        expect(new URL(response.url()).searchParams.get('v')).toMatch(/^[0-9a-f]{12}$/);
        expect(response.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
        // A second identify on the same page reuses the loaded part.
        await v.page.evaluate(() => (window as any).conversionRelay.identify({ email: 'second@example.com' }));
        await relay.waitFor(() => bodies(v.collects, 'identify').length > 1, 5_000, 'the second identify');
        expect(bodies(v.collects, 'identify')[1].identify).toEqual({ email: sha256('second@example.com') });
        expect(extras).toHaveLength(1);
        const wire = JSON.stringify(everything).toLowerCase();
        for (const raw of ['queued.buyer', 'second@example', '7946']) expect(wire).not.toContain(raw);
      } finally {
        await v.context.close();
      }
    });

    it('a stored TC string without a CMP API is decoded before the first page view: refusal holds the clicks back, consent lets them through', async () => {
      const refused = await visitor();
      const granted = await visitor();
      try {
        await withTcCookie(refused, false);
        await refused.page.goto(`${shopUrl}/app/landing?fbclid=IwAR_tc_refused&gclid=Cj0_tc_refused`);
        const refusedId = await visitorIdOf(refused.page);
        expect(bodies(refused.collects, 'page_view')[0].consent).toEqual(allFalse);
        expect((await refused.context.cookies()).map((c) => c.name).sort()).toEqual(['cr_vid', 'euconsent-v2']);
        expect((await visitorItem(`V#${refusedId}`))!.click_gclid).toBeUndefined();

        await withTcCookie(granted, true);
        await granted.page.goto(`${shopUrl}/app/landing?fbclid=IwAR_tc_granted&gclid=Cj0_tc_granted`);
        const grantedId = await visitorIdOf(granted.page);
        expect(bodies(granted.collects, 'page_view')[0].consent).toEqual({ marketing: true, ad_user_data: true, ad_personalization: true, analytics: true });
        expect((await visitorItem(`V#${grantedId}`))!.click_gclid).toMatchObject({ value: 'Cj0_tc_granted' });
        expect((await granted.context.cookies()).find((c) => c.name === '_fbc')?.value).toMatch(/\.IwAR_tc_granted$/);
      } finally {
        await refused.context.close();
        await granted.context.close();
      }
    });

    it('a stored TC string counts as a refusal when the part cannot load', async () => {
      const v = await visitor();
      try {
        await v.context.route((url) => isExtra(url.href), (route) => route.abort('blockedbyclient'));
        await withTcCookie(v, true);
        await v.page.goto(`${shopUrl}/app/landing?gclid=Cj0_tc_blocked`);
        const visitorId = await visitorIdOf(v.page);
        expect(bodies(v.collects, 'page_view')[0].consent).toEqual(allFalse);
        expect((await visitorItem(`V#${visitorId}`))!.click_gclid).toBeUndefined();
      } finally {
        await v.context.close();
      }
    });
  });
});
