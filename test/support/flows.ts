/**
 * Steps the end-to-end tests share, each done as the real sender does it: a browser landing on /collect, Stripe
 * posting a signed event, a test waiting for what a fake platform received or for the ledger to say an outcome.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Stripe from 'stripe';
import { afterAll, beforeAll, expect } from 'vitest';
import { stripeEvent } from './factories.ts';
import { startRelay, type RelayProcess } from './relay-process.ts';
import { stripeSession } from './stripe-objects.ts';

/** A relay started on a fresh data directory of its own; `stop` stops it and removes the directory. */
export interface TempRelay {
  relay: RelayProcess;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startTempRelay(prefix: string, env: Record<string, string | undefined>): Promise<TempRelay> {
  const dataDir = mkdtempSync(path.join(tmpdir(), prefix));
  const handle: TempRelay = {
    dataDir,
    relay: undefined as unknown as RelayProcess,
    async stop() {
      await handle.relay?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    handle.relay = await startRelay(env, dataDir);
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return handle;
}

/** The relay of a test suite (see useTempRelay): the running process, its data directory, and a restart. */
export interface SuiteRelay extends RelayProcess {
  readonly dataDir: string;
  /** Starts a runner again on the same data directory (after `kill` or `stop`), with `env`. */
  restart(env: Record<string, string | undefined>): Promise<void>;
}

/**
 * Registers the suite's hooks for one relay on a data directory of its own: started before the suite's tests with
 * `env()` (called then, so it can read the URLs of fakes that hooks registered earlier started), stopped and its
 * directory removed after them (after hooks run in reverse: before those fakes close). The returned object stands
 * for whichever runner is current, so a test may `kill` it and `restart` it.
 */
export function useTempRelay(prefix: string, env: () => Record<string, string | undefined>): SuiteRelay {
  let run: TempRelay | undefined;
  beforeAll(async () => {
    run = await startTempRelay(prefix, env());
  });
  afterAll(async () => {
    await run?.stop();
  });
  const started = () => {
    if (!run) throw new Error('the relay starts in beforeAll: use it inside tests and hooks');
    return run;
  };
  const own = {
    get dataDir() {
      return started().dataDir;
    },
    async restart(restartEnv: Record<string, string | undefined>) {
      const current = started();
      current.relay = await startRelay(restartEnv, current.dataDir);
    },
  };
  return new Proxy(own, {
    get: (target, key) => (key in target ? Reflect.get(target, key) : Reflect.get(started().relay, key)),
  }) as unknown as SuiteRelay;
}

/**
 * A browser landing on `url`: the page's script posts to /collect. Answers the visitor ID and the first-party
 * cookies /collect set (name → value).
 */
export async function collectVisit(relay: RelayProcess, url: string, browser: { userAgent: string; referrer?: string; cookie?: string }) {
  const headers: Record<string, string> = { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': browser.userAgent };
  if (browser.cookie !== undefined) headers.cookie = browser.cookie;
  const body = browser.referrer === undefined ? { url } : { url, referrer: browser.referrer };
  const res = await fetch(`${relay.url}/collect`, { method: 'POST', headers, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  const cookies = Object.fromEntries(res.headers.getSetCookie().map((c) => c.split(';')[0].split('=') as [string, string]));
  return { visitorId: ((await res.json()) as { visitorId: string }).visitorId, cookies };
}

/** A Stripe event envelope around `object`, created now, as the JSON text Stripe posts (and signs). */
export function stripeEventPayload(type: string, object: object, id: string): string {
  return JSON.stringify(stripeEvent(type, object, { id, created: Math.floor(Date.now() / 1000) }));
}

/**
 * Stripe's published checkout.session fixture, completed and paid for `amount_total` (also the subtotal) in USD by
 * `customer` (merged over the fixture's customer_details), with `overrides` last.
 */
export function paidCheckoutSession(amountTotal: number, customer: object, overrides: Record<string, unknown> = {}) {
  return stripeSession({
    amount_total: amountTotal,
    amount_subtotal: amountTotal,
    currency: 'usd',
    payment_status: 'paid',
    status: 'complete',
    customer_details: { ...stripeSession().customer_details, ...customer },
    ...overrides,
  });
}

let checkouts = 0;
/**
 * A checkout.session.completed event (`payload`, JSON text) for a fresh checkout paid by `customer`. The purchase is
 * keyed on the PaymentIntent (what payment_intent.succeeded reports too), so each checkout gets its own: `id`.
 */
export function checkoutCompleted(idPrefix: string, amountTotal: number, customer: object, overrides: Record<string, unknown> = {}) {
  const id = `pi_${idPrefix}_${Date.now()}_${++checkouts}`;
  const session = paidCheckoutSession(amountTotal, customer, { id: `cs_test_${id}`, payment_intent: id, ...overrides });
  return { id, payload: stripeEventPayload('checkout.session.completed', session, `evt_${id}`) };
}

/** The `Stripe-Signature` header Stripe would send for `payload`, made by the stripe package's own test helper. */
export const stripeSignature = (payload: string, secret: string) => Stripe.webhooks.generateTestHeaderString({ payload, secret });

/** Posts `payload` to the relay's Stripe webhook with `signature` (by default a valid one for `secret`). */
export function postStripe(relay: RelayProcess, payload: string, signing: { secret: string } | { signature: string }) {
  const signature = 'signature' in signing ? signing.signature : stripeSignature(payload, signing.secret);
  return fetch(`${relay.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body: payload });
}

/** Sends `times` deliveries of one webhook (each made afresh by `send`) and answers each one's [HTTP status, body status]. */
export async function redeliver(times: number, send: (attempt: number) => Promise<Response>): Promise<[number, string][]> {
  const answers: [number, string][] = [];
  for (let attempt = 1; attempt <= times; attempt++) {
    const res = await send(attempt);
    answers.push([res.status, ((await res.json()) as { status: string }).status]);
  }
  return answers;
}

/** The events a fake platform accepted whose `event_id` is `eventId`. */
export const eventsWithId = <E extends { event_id?: unknown }>(events: E[], eventId: string) => events.filter((e) => e.event_id === eventId);

/** The requests a fake platform received whose body mentions `eventId` (accepted or refused). */
export const requestsMentioning = <R extends { body?: unknown }>(requests: R[], eventId: string) => requests.filter((r) => JSON.stringify(r.body ?? '').includes(eventId));

/** Waits until the fake platform (`events` reads what it accepted so far) has at least one event `eventId`, and answers them. */
export function waitForEvents<E extends { event_id?: unknown }>(relay: RelayProcess, events: () => E[], eventId: string, timeoutMs: number, what: string): Promise<E[]> {
  return relay.waitFor(() => {
    const mine = eventsWithId(events(), eventId);
    return mine.length > 0 && mine;
  }, timeoutMs, what);
}

/** Waits until the conversion has a ledger row in `status` (for `destination` only, when given), and answers it. */
export function waitForLedgerRow(relay: RelayProcess, eventId: string, status: string, opts: { destination?: string; timeoutMs?: number } = {}) {
  return relay.waitFor(
    async () => (await relay.ledgerFor(eventId, opts.destination)).find((r) => r.status === status),
    opts.timeoutMs ?? 15_000,
    `${opts.destination ?? 'a'} ledger row ${status} for ${eventId}`,
  );
}

/** Credentials a suite gives the fakes of the first four destinations, and the fakes it started with them. */
export interface CoreDestinationFakes {
  meta: { creds: { pixelId: string; accessToken: string }; baseUrl: string };
  tiktok: { creds: { pixelCode: string; accessToken: string }; baseUrl: string };
  google: { creds: { customerId: string; clientId: string; clientSecret: string; refreshToken: string }; baseUrl: string; tokenUrl: string };
  ga4: { creds: { measurementId: string; apiSecret: string }; baseUrl: string };
}

/** The relay settings that point Meta, TikTok, Google Ads (the Google Ads API path, action 111) and GA4 at their fakes. */
export function coreDestinationEnv(f: CoreDestinationFakes): Record<string, string> {
  return {
    META_PIXEL_ID: f.meta.creds.pixelId,
    META_ACCESS_TOKEN: f.meta.creds.accessToken,
    META_API_BASE_URL: f.meta.baseUrl,
    TIKTOK_PIXEL_CODE: f.tiktok.creds.pixelCode,
    TIKTOK_ACCESS_TOKEN: f.tiktok.creds.accessToken,
    TIKTOK_API_BASE_URL: f.tiktok.baseUrl,
    // These suites exercise the Google Ads API path (the Data Manager API is the default).
    GOOGLE_ADS_UPLOAD_API: 'google-ads-api',
    GOOGLE_ADS_CUSTOMER_ID: f.google.creds.customerId,
    GOOGLE_ADS_CLIENT_ID: f.google.creds.clientId,
    GOOGLE_ADS_CLIENT_SECRET: f.google.creds.clientSecret,
    GOOGLE_ADS_REFRESH_TOKEN: f.google.creds.refreshToken,
    GOOGLE_ADS_CONVERSION_ACTIONS: 'Purchase=111',
    GOOGLE_ADS_API_BASE_URL: f.google.baseUrl,
    GOOGLE_OAUTH_TOKEN_URL: f.google.tokenUrl,
    GA4_MEASUREMENT_ID: f.ga4.creds.measurementId,
    GA4_API_SECRET: f.ga4.creds.apiSecret,
    GA4_API_BASE_URL: f.ga4.baseUrl,
  };
}
