/**
 * The browser snippet (served as /t.js): on every page view it posts the page URL (the relay reads every
 * platform's click ID and the UTMs from it), the platforms' first-party cookies and the consent state to
 * `<relay>/collect`; it creates Meta's `_fbp` / `_fbc` when Meta's pixel has not, follows single-page-app
 * navigation, and carries the visitor ID into payment links and forms. Public API: `window.conversionRelay`
 * (README "Click capture in the browser"). Calls queued before it loads (`conversionRelay = [['consent', {...}]]`)
 * run before the first page view is sent. identify's hashing and the decoding of a stored TC string live in a second
 * part (extra.ts, `/t.js?part=extra`), loaded from the relay only when a page needs them.
 */
import { FORWARDED_COOKIES } from '../core/click-sources.ts';
import { eventIdFor } from '../core/event-id.ts';
import { GCM_FIELDS, consentFromDataLayer, consentFromPurposes, type ConsentState } from './consent-signals.ts';
import { decorateHref } from './decorate.ts';
import type { HashedIdentity } from './identify.ts';
import { EXTRA_GLOBAL, type Extra } from './parts.ts';

/** The extra part's version (its content hash), set by the build. */
declare const __EXTRA_VERSION__: string;

type ConsentInput = Record<string, boolean | 'granted' | 'denied' | undefined>;

const w = window as any;
const doc = document;
const script = doc.currentScript as HTMLScriptElement | null;
/** The relay is where the script came from, unless a self-hosted copy says otherwise (`data-relay`). */
const relay = (script?.dataset.relay || new URL(script?.src || location.href).origin).replace(/\/$/, '');
const endpoint = relay + '/collect';
const loadedAt = Date.now();
const landingHref = location.href;
const queued: unknown[][] = Array.isArray(w.conversionRelay) ? w.conversionRelay : [];

let visitorId: string | undefined;
let explicit: ConsentState = {};
let tcf: ConsentState = {};
let started = false;
let sentConsent = '';
let lastPage = location.pathname + location.search;
let identity: HashedIdentity | undefined;
/** identify's hashing and TC-string decoding: the snippet's second part (extra.ts), fetched from the relay when needed. */
let extra: Promise<Extra> | undefined;
/** The first answer sets the visitor cookie: later sends wait for it, so one landing never makes two visitors. */
let ready: Promise<unknown> | undefined;

/** `data-consent-default="denied"` on the tag: an EU site's default until the page says otherwise (as CONSENT_DEFAULT on the relay). */
const fallback: ConsentState = script?.dataset.consentDefault == 'denied' ? consentFromPurposes(() => false) : {};
const consentNow = (): ConsentState => ({ ...fallback, ...consentFromDataLayer(w.dataLayer), ...tcf, ...explicit });
const denied = () => consentNow().marketing === false;

function readCookie(name: string): string | undefined {
  const m = doc.cookie.match('(^|; )' + name + '=([^;]*)');
  return m ? decodeURIComponent(m[2]) : undefined;
}

/** Meta's pixel sets its cookies on the registrable domain: the shortest suffix of the host that takes a cookie. */
function setSiteCookie(name: string, value: string) {
  const labels = location.hostname.split('.');
  for (let i = labels.length - 2; i >= -1 && readCookie(name) != value; i--) {
    doc.cookie = `${name}=${value};path=/;max-age=7776000;samesite=lax` + (i < 0 ? '' : ';domain=' + labels.slice(i).join('.'));
  }
}

/** Meta's formats (subdomain index 1: the registrable domain); `_fbc` carries the landing time, not the send time. */
function ensureMetaCookies() {
  const fbclid = new URL(landingHref).searchParams.get('fbclid');
  if (!readCookie('_fbp')) setSiteCookie('_fbp', `fb.1.${loadedAt}.${Math.floor(1e9 + Math.random() * 9e9)}`);
  if (fbclid && readCookie('_fbc')?.split('.')[3] != fbclid) setSiteCookie('_fbc', `fb.1.${loadedAt}.${fbclid}`);
}

/** A failed load is not retried on this page: the relay is blocked or down then, and /collect with it. */
function loadExtra() {
  return (extra ??= new Promise((resolve, reject) => {
    doc.head.append(
      Object.assign(doc.createElement('script'), {
        src: `${relay}/t.js?part=extra&v=${__EXTRA_VERSION__}`,
        onload: () => resolve(w[EXTRA_GLOBAL]),
        onerror: reject,
      }),
    );
  }));
}

const request = (body: string) => fetch(endpoint, { method: 'POST', body, credentials: 'include', keepalive: true });

function post(body: string): Promise<unknown> | void {
  // The first request of a page reads the answer (the visitor ID), which a beacon cannot.
  if (!visitorId) {
    return request(body)
      .then((r) => r.json())
      .then((j) => decorate((visitorId = j.visitorId)))
      .catch(() => undefined);
  }
  if (!navigator.sendBeacon?.(endpoint, body)) request(body).catch(() => undefined);
}

function send(event: string, url = location.href, extra?: object) {
  const consent = consentNow();
  sentConsent = JSON.stringify(consent);
  const cookies: Record<string, string> = {};
  if (consent.marketing !== false) for (const name of FORWARDED_COOKIES) {
    const v = readCookie(name);
    if (v) cookies[name] = v;
  }
  const body = JSON.stringify({ url, referrer: doc.referrer, event, consent: sentConsent == '{}' ? undefined : consent, cookies, ...extra });
  ready = ready ? ready.then(() => post(body)) : (post(body) as Promise<unknown>);
}

/** A consent change: send it with the landing URL, so clicks held back until now are captured with their landing time. */
function recheck() {
  if (!started || JSON.stringify(consentNow()) == sentConsent) return;
  if (!denied()) ensureMetaCookies();
  send('consent', landingHref);
  if (identity && !denied()) send('identify', landingHref, { identify: identity });
}

function decorate(_?: unknown) {
  if (!visitorId) return;
  doc.querySelectorAll<HTMLAnchorElement>('a[href]').forEach((a) => {
    const href = decorateHref(a.href, visitorId!, a.dataset.visitorParam);
    if (href) a.href = href;
  });
  // Forms marked data-visitor-field="name" (default visitor_id) get a hidden field with the visitor ID.
  doc.querySelectorAll<HTMLFormElement>('form[data-visitor-field]').forEach((form) => {
    const name = form.dataset.visitorField || 'visitor_id';
    let input = form.elements.namedItem(name) as HTMLInputElement | null;
    if (!input) form.append((input = Object.assign(doc.createElement('input'), { type: 'hidden', name })));
    input.value = visitorId!;
  });
}

function pageView() {
  const page = location.pathname + location.search;
  if (page == lastPage) return;
  lastPage = page;
  send('page_view');
  decorate();
}

const api: Record<string, (...args: any[]) => unknown> = {
  /** `consent({ marketing, ad_user_data, ad_personalization, analytics })`: booleans or 'granted' / 'denied'; Consent Mode names too. */
  consent(input: ConsentInput) {
    for (const k in input) {
      const v = input[k];
      if (v !== undefined) (explicit as Record<string, boolean>)[GCM_FIELDS[k] || k] = v === true || v == 'granted';
    }
    recheck();
  },
  /** `identify({ email, phone })`: hashed here; only the SHA-256 digests are sent (never against a refusal). */
  async identify(input: { email?: string; phone?: string }) {
    identity = await (await loadExtra()).hash(input);
    if (started && !denied() && (identity.email || identity.phone)) send('identify', location.href, { identify: identity });
  },
  /** The event ID the server will use for this order (pass it to fbq / ttq / gtag for de-duplication). */
  eventId: (orderId: string, eventName?: string) => eventIdFor(`${orderId}`, eventName),
  visitorId: () => visitorId,
  decorate,
};
w.conversionRelay = api;

function start() {
  for (const [method, ...args] of queued) api[method as string]?.(...args);
  started = true;
  if (!denied()) ensureMetaCookies();
  // The landing URL (with its click IDs) even if a router rewrote it while the extra part loaded.
  send('page_view', landingHref);
}

const tcfApi = w.__tcfapi;
const tcString = readCookie('euconsent-v2');
if (tcfApi) {
  // Called at once with the stored choice (tcloaded) and again on every change (useractioncomplete).
  tcfApi('addEventListener', 2, (tc: any, ok: boolean) => {
    if (ok && tc.gdprApplies !== false && tc.eventStatus != 'cmpuishown') {
      tcf = consentFromPurposes((n) => !!tc.purpose?.consents?.[n]);
      recheck();
    }
  });
}
// A stored TC string without the CMP's API: decoded by the extra part before the first send. Should that part not
// load, the string is taken as a refusal: it may be one, and nothing is sent against a refusal.
if (!tcfApi && tcString) {
  loadExtra()
    .then((x) => (tcf = x.tcf(tcString) || {}))
    .catch(() => (tcf = consentFromPurposes(() => false)))
    .then(start);
} else start();

/** Runs `then` after every call of `obj[method]`. */
function after(obj: any, method: string, then: () => void) {
  const original = obj?.[method];
  if (original) {
    obj[method] = (...args: unknown[]) => {
      const result = original.apply(obj, args);
      then();
      return result;
    };
  }
}
// Single-page apps: each route change is one page view, however many history calls the router makes for it.
const routeChanged = () => setTimeout(pageView);
after(history, 'pushState', routeChanged);
after(history, 'replaceState', routeChanged);
addEventListener('popstate', routeChanged);
// Consent Mode updates after landing (gtag('consent', 'update', ...)) go through dataLayer.push.
after(w.dataLayer, 'push', recheck);
// Links and forms added after load are decorated just before they are used.
addEventListener('click', decorate, true);
addEventListener('submit', decorate, true);
