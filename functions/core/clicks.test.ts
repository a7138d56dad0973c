import { describe, expect, it } from 'vitest';
import { CollectBodySchema, mergeForwardedCookies, parseCookies, readLanding, scrubUrl } from './clicks.ts';
import { ClicksSchema } from './conversion.ts';

// Formats from Meta's fbp-and-fbc page (platforms.md §1.5): fbc = fb.{subdomainIndex}.{creation time, ms}.{fbclid},
// fbp = fb.{subdomainIndex}.{creation time, ms}.{random number}; subdomain index 1 when generated server-side.
const NOW_MS = Date.parse('2026-03-02T12:00:00.000Z');
const EARLIER_MS = Date.parse('2026-02-20T08:15:00.000Z');
const META_FBP_FORMAT = /^fb\.1\.\d{13}\.\d+$/;

/** What the browser snippet posts, parsed the way the collect handler parses it. */
const body = (url: string, extra: Record<string, unknown> = {}) => CollectBodySchema.parse({ url, ...extra });

describe('readLanding: fbc from fbclid', () => {
  it('builds fbc as fb.1.<click time ms>.<fbclid> on the first click and asks to set the _fbc cookie', () => {
    // Act
    const landing = readLanding(body('https://shop.example/?fbclid=IwAR2abc_DEF-123'), {}, NOW_MS);

    // Assess
    expect(landing.clicks.fbc).toEqual({ value: `fb.1.${NOW_MS}.IwAR2abc_DEF-123`, capturedAt: NOW_MS });
    expect(landing.setCookies._fbc).toBe(`fb.1.${NOW_MS}.IwAR2abc_DEF-123`);
  });

  it('keeps the original click time when the same fbclid comes back with an _fbc cookie', () => {
    // Prepare
    const cookie = `fb.1.${EARLIER_MS}.IwAR2abc`;

    // Act
    const landing = readLanding(body('https://shop.example/p?fbclid=IwAR2abc'), { _fbc: cookie }, NOW_MS);

    // Assess
    expect(landing.clicks.fbc).toEqual({ value: cookie, capturedAt: EARLIER_MS });
    expect(landing.setCookies._fbc).toBeUndefined(); // the cookie is already right
  });

  it('replaces the cookie’s fbc when a different fbclid arrives', () => {
    const landing = readLanding(body('https://shop.example/?fbclid=IwAR2new'), { _fbc: `fb.1.${EARLIER_MS}.IwAR2old` }, NOW_MS);

    expect(landing.clicks.fbc).toEqual({ value: `fb.1.${NOW_MS}.IwAR2new`, capturedAt: NOW_MS });
    expect(landing.setCookies._fbc).toBe(`fb.1.${NOW_MS}.IwAR2new`);
  });

  it('preserves the fbclid’s case exactly (Meta: fbclid is case-sensitive)', () => {
    const landing = readLanding(body('https://shop.example/?fbclid=IwAR2AbCdEfGhIj'), {}, NOW_MS);

    expect(landing.clicks.fbc?.value).toBe(`fb.1.${NOW_MS}.IwAR2AbCdEfGhIj`);
  });

  it('treats an fbclid differing only in case as a new click', () => {
    const landing = readLanding(body('https://shop.example/?fbclid=iwar2abc'), { _fbc: `fb.1.${EARLIER_MS}.IwAR2abc` }, NOW_MS);

    expect(landing.clicks.fbc).toEqual({ value: `fb.1.${NOW_MS}.iwar2abc`, capturedAt: NOW_MS });
  });

  it('keeps a valid _fbc cookie, with its own time, on a landing without fbclid', () => {
    const cookie = `fb.1.${EARLIER_MS}.IwAR2abc`;

    const landing = readLanding(body('https://shop.example/cart'), { _fbc: cookie }, NOW_MS);

    expect(landing.clicks.fbc).toEqual({ value: cookie, capturedAt: EARLIER_MS });
    expect(landing.setCookies._fbc).toBeUndefined();
  });

  it.each([
    ['not Meta’s shape', 'garbage'],
    ['a seconds timestamp', `fb.1.${Math.floor(EARLIER_MS / 1000)}.IwAR2abc`],
    ['a bad subdomain index', `fb.7.${EARLIER_MS}.IwAR2abc`],
    ['a wrong prefix', `xx.1.${EARLIER_MS}.IwAR2abc`],
  ])('ignores an _fbc cookie with %s', (_why, cookie) => {
    const landing = readLanding(body('https://shop.example/'), { _fbc: cookie }, NOW_MS);

    expect(landing.clicks.fbc).toBeUndefined();
    expect(landing.setCookies._fbc).toBeUndefined();
  });

  it('builds a fresh fbc from fbclid when the _fbc cookie is invalid', () => {
    const landing = readLanding(body('https://shop.example/?fbclid=IwAR2abc'), { _fbc: 'fb.1.12.IwAR2abc' }, NOW_MS);

    expect(landing.clicks.fbc).toEqual({ value: `fb.1.${NOW_MS}.IwAR2abc`, capturedAt: NOW_MS });
  });
});

describe('readLanding: values fit the Conversion', () => {
  // A click value the Conversion schema refuses would make every later conversion of this visitor fail at ingest.
  it('never returns an fbc longer than a Conversion can carry, even for a 500-character fbclid', () => {
    const fbclid = 'A'.repeat(500);

    const landing = readLanding(body(`https://shop.example/?fbclid=${fbclid}`), {}, NOW_MS);

    expect(ClicksSchema.safeParse(landing.clicks).success).toBe(true);
    expect(landing.setCookies._fbc).toBe(landing.clicks.fbc?.value);
  });

  it('ignores an over-long fbc or fbp from the snippet or the cookies', () => {
    const longFbc = `fb.1.${EARLIER_MS}.${'B'.repeat(560)}`;
    const longFbp = `fb.1.${EARLIER_MS}.123456.${'C'.repeat(600)}`;

    const landing = readLanding(body('https://shop.example/', { fbc: longFbc }), { _fbp: longFbp }, NOW_MS);

    expect(ClicksSchema.safeParse(landing.clicks).success).toBe(true);
    expect(landing.clicks.fbc).toBeUndefined();
    expect(landing.clicks.fbp?.value).not.toBe(longFbp);
  });

  it('returns clicks that satisfy the Conversion’s ClicksSchema for a typical landing', () => {
    const url = 'https://shop.example/?fbclid=IwAR2abc&gclid=Cj0KCQiA&ttclid=E.C.P.abc';

    const landing = readLanding(body(url), { _ga: 'GA1.1.123.456', _ttp: 'abc' }, NOW_MS);

    expect(ClicksSchema.safeParse(landing.clicks).success).toBe(true);
  });
});

describe('readLanding: fbp', () => {
  it('keeps an existing valid _fbp cookie and does not reset it', () => {
    const cookie = `fb.1.${EARLIER_MS}.1098115397`;

    const landing = readLanding(body('https://shop.example/'), { _fbp: cookie }, NOW_MS);

    expect(landing.clicks.fbp).toEqual({ value: cookie, capturedAt: EARLIER_MS });
    expect(landing.setCookies._fbp).toBeUndefined();
  });

  it('creates a missing fbp in Meta’s format (fb.1.<13-digit ms>.<digits>) and returns it to be set as _fbp', () => {
    // Act
    const landing = readLanding(body('https://shop.example/'), {}, NOW_MS);

    // Assess
    const fbp = landing.clicks.fbp!;
    expect(fbp.value).toMatch(META_FBP_FORMAT);
    expect(fbp.value.startsWith(`fb.1.${NOW_MS}.`)).toBe(true);
    expect(fbp.capturedAt).toBe(NOW_MS);
    expect(landing.setCookies._fbp).toBe(fbp.value);
  });

  it('draws the random part of a new fbp from the random source', () => {
    const a = readLanding(body('https://shop.example/'), {}, NOW_MS, () => 0.1).clicks.fbp!.value;
    const b = readLanding(body('https://shop.example/'), {}, NOW_MS, () => 0.9).clicks.fbp!.value;

    expect(a).not.toBe(b);
    expect(a).toMatch(META_FBP_FORMAT);
    expect(b).toMatch(META_FBP_FORMAT);
  });

  it('replaces an invalid _fbp cookie with a new one', () => {
    const landing = readLanding(body('https://shop.example/'), { _fbp: 'fb.1.abc.123' }, NOW_MS);

    expect(landing.clicks.fbp!.value).not.toBe('fb.1.abc.123');
    expect(landing.clicks.fbp!.value).toMatch(META_FBP_FORMAT);
    expect(landing.setCookies._fbp).toBe(landing.clicks.fbp!.value);
  });

  it('uses an fbp the snippet read from the pixel’s cookie', () => {
    const fbp = `fb.1.${EARLIER_MS}.555666777`;

    const landing = readLanding(body('https://shop.example/', { fbp }), {}, NOW_MS);

    expect(landing.clicks.fbp).toEqual({ value: fbp, capturedAt: EARLIER_MS });
  });
});

describe('readLanding: other click IDs and browser IDs', () => {
  it('reads gclid, gbraid, wbraid, ttclid and msclkid from the URL with the landing time', () => {
    const url = 'https://shop.example/?gclid=Cj0KCQiA&gbraid=0AAAAAo&wbraid=CkEKCAiA&ttclid=E.C.P.abc123&msclkid=7b2f3a9c';

    const { clicks } = readLanding(body(url), {}, NOW_MS);

    expect(clicks.gclid).toEqual({ value: 'Cj0KCQiA', capturedAt: NOW_MS });
    expect(clicks.gbraid).toEqual({ value: '0AAAAAo', capturedAt: NOW_MS });
    expect(clicks.wbraid).toEqual({ value: 'CkEKCAiA', capturedAt: NOW_MS });
    expect(clicks.ttclid).toEqual({ value: 'E.C.P.abc123', capturedAt: NOW_MS });
    expect(clicks.msclkid).toEqual({ value: '7b2f3a9c', capturedAt: NOW_MS });
  });

  it('ignores a click ID with characters no platform issues', () => {
    const { clicks } = readLanding(body('https://shop.example/?gclid=%3Cscript%3E'), {}, NOW_MS);

    expect(clicks.gclid).toBeUndefined();
  });

  it('reads TikTok’s _ttp cookie', () => {
    const { clicks } = readLanding(body('https://shop.example/'), { _ttp: '2Z5nB3xQe1aBcD' }, NOW_MS);

    expect(clicks.ttp).toEqual({ value: '2Z5nB3xQe1aBcD', capturedAt: NOW_MS });
  });

  it('reads the GA client ID from the _ga cookie (GA1.1.123.456 → 123.456)', () => {
    const { clicks } = readLanding(body('https://shop.example/'), { _ga: 'GA1.1.123.456' }, NOW_MS);

    expect(clicks.gaClientId).toEqual({ value: '123.456', capturedAt: NOW_MS });
  });

  it('ignores a _ga cookie that is not Google’s format', () => {
    const { clicks } = readLanding(body('https://shop.example/'), { _ga: 'hello' }, NOW_MS);

    expect(clicks.gaClientId).toBeUndefined();
  });
});

describe('readLanding: UTM, URL, referrer and consent', () => {
  it('collects the utm_* parameters and nothing else', () => {
    const url = 'https://shop.example/?utm_source=facebook&utm_medium=paid&utm_campaign=spring%20sale&ref=x&utm_term=';

    const { utm } = readLanding(body(url), {}, NOW_MS);

    expect(utm).toEqual({ utm_source: 'facebook', utm_medium: 'paid', utm_campaign: 'spring sale' });
  });

  it('returns the landing URL and the referrer', () => {
    const landing = readLanding(body('https://shop.example/a?b=1', { referrer: 'https://www.facebook.com/' }), {}, NOW_MS);

    expect(landing.landingUrl).toBe('https://shop.example/a?b=1');
    expect(landing.referrer).toBe('https://www.facebook.com/');
  });

  it('drops personal data from the landing URL and the referrer, keeping click IDs and UTM parameters', () => {
    const url = 'https://shop.example/a?fbclid=IwAR1&utm_source=fb&email=jane%40example.com&Phone=%2B14155550100&first_name=Jane&q=shoes';
    const landing = readLanding(body(url, { referrer: 'https://mail.example/inbox?to=jane@example.com&x=1' }), {}, NOW_MS);

    expect(landing.landingUrl).toBe('https://shop.example/a?fbclid=IwAR1&utm_source=fb&q=shoes');
    expect(landing.referrer).toBe('https://mail.example/inbox?x=1');
    expect(landing.clicks.fbc?.value).toMatch(/\.IwAR1$/);
  });

  it('scrubUrl leaves a URL without personal data exactly as it was, and removes credentials in the URL', () => {
    expect(scrubUrl('https://shop.example')).toBe('https://shop.example');
    expect(scrubUrl('https://shop.example/?b=1&a=%20')).toBe('https://shop.example/?b=1&a=%20');
    expect(scrubUrl('https://jane:pw@shop.example/')).toBe('https://shop.example/');
    expect(scrubUrl('not a url with jane@example.com')).toBe('');
  });

  it('maps consent booleans to the Conversion’s consent names', () => {
    const consent = { marketing: true, ad_user_data: false, ad_personalization: true, analytics: false };

    const landing = readLanding(body('https://shop.example/', { consent }), {}, NOW_MS);

    expect(landing.consent).toEqual({ marketing: true, adUserData: false, adPersonalization: true, analytics: false });
  });

  it('accepts Google consent-mode words: granted → true, denied → false', () => {
    const consent = { marketing: 'granted', ad_user_data: 'denied', ad_personalization: 'denied', analytics: 'granted' };

    const landing = readLanding(body('https://shop.example/', { consent }), {}, NOW_MS);

    expect(landing.consent).toEqual({ marketing: true, adUserData: false, adPersonalization: false, analytics: true });
  });

  it('reports no consent when the browser sent none (the site default then applies)', () => {
    expect(readLanding(body('https://shop.example/'), {}, NOW_MS).consent).toBeUndefined();
  });
});

describe('CollectBodySchema', () => {
  it.each(['javascript:alert(1)', 'ftp://shop.example/file', 'data:text/html,hi', 'mailto:a@shop.example', 'not a url'])(
    'rejects the non-http(s) URL %j',
    (url) => {
      expect(CollectBodySchema.safeParse({ url }).success).toBe(false);
    },
  );

  it('accepts http and https URLs', () => {
    expect(CollectBodySchema.safeParse({ url: 'https://shop.example/' }).success).toBe(true);
    expect(CollectBodySchema.safeParse({ url: 'http://localhost:3000/' }).success).toBe(true);
  });

  it('ignores unknown keys, so old and new snippets keep working', () => {
    const parsed = CollectBodySchema.parse({ url: 'https://shop.example/', snippetVersion: 9, screen: { w: 1 } });

    expect(parsed).toEqual({ url: 'https://shop.example/' });
  });

  it('rejects a consent value that is neither boolean nor granted/denied', () => {
    expect(CollectBodySchema.safeParse({ url: 'https://shop.example/', consent: { marketing: 'yes' } }).success).toBe(false);
  });
});

describe('parseCookies', () => {
  it('parses the cookie pairs HTTP API v2 delivers, each possibly holding several', () => {
    expect(parseCookies(['_fbp=fb.1.1700000000000.123; cr_vid=abcd1234', '_ga=GA1.1.123.456'])).toEqual({
      _fbp: 'fb.1.1700000000000.123',
      cr_vid: 'abcd1234',
      _ga: 'GA1.1.123.456',
    });
  });

  it('URL-decodes values and keeps an undecodable value as sent', () => {
    expect(parseCookies(['a=x%7Cy; b=%E0%A4%A'])).toEqual({ a: 'x|y', b: '%E0%A4%A' });
  });

  it('keeps "=" inside a value', () => {
    expect(parseCookies(['token=abc==; x=1'])).toEqual({ token: 'abc==', x: '1' });
  });

  it('keeps the first of two cookies with the same name', () => {
    expect(parseCookies(['a=1', 'a=2'])).toEqual({ a: '1' });
  });

  it('skips fragments without a name', () => {
    expect(parseCookies(['=orphan; justtext; b=2'])).toEqual({ b: '2' });
  });

  it('returns an empty object when there are no cookies', () => {
    expect(parseCookies(undefined)).toEqual({});
    expect(parseCookies([])).toEqual({});
  });
});

describe('readLanding: every platform’s click IDs and cookies', () => {
  it('reads LinkedIn, Snapchat, Pinterest, Reddit and X click IDs from the URL as fresh clicks', () => {
    const landing = readLanding(body('https://shop.example/?li_fat_id=li-1&ScCid=sc-2&epik=ep-3&rdt_cid=rd-4&twclid=tw-5&msclkid=ms-6'), {}, NOW_MS);
    expect(landing.clicks).toMatchObject({
      liFatId: { value: 'li-1', capturedAt: NOW_MS },
      scCid: { value: 'sc-2', capturedAt: NOW_MS },
      epik: { value: 'ep-3', capturedAt: NOW_MS },
      rdtCid: { value: 'rd-4', capturedAt: NOW_MS },
      twclid: { value: 'tw-5', capturedAt: NOW_MS },
      msclkid: { value: 'ms-6', capturedAt: NOW_MS },
    });
    expect(landing.fromUrl.sort()).toEqual(['epik', 'liFatId', 'msclkid', 'rdtCid', 'scCid', 'twclid']);
    expect(ClicksSchema.safeParse(landing.clicks).success).toBe(true);
  });

  it('falls back to Google Ads’ _gcl_aw / _gcl_gb cookies with the click time they carry', () => {
    const seconds = Math.floor(EARLIER_MS / 1000);
    const landing = readLanding(body('https://shop.example/next'), { _gcl_aw: `GCL.${seconds}.Cj0KCQ-from-cookie`, _gcl_gb: `GCL.${seconds}.GB-1` }, NOW_MS);
    expect(landing.clicks.gclid).toEqual({ value: 'Cj0KCQ-from-cookie', capturedAt: seconds * 1000 });
    expect(landing.clicks.gbraid).toEqual({ value: 'GB-1', capturedAt: seconds * 1000 });
    expect(landing.fromUrl).toEqual([]);
  });

  it('prefers the URL’s gclid over the cookie’s', () => {
    const landing = readLanding(body('https://shop.example/?gclid=FRESH'), { _gcl_aw: 'GCL.1700000000.STALE' }, NOW_MS);
    expect(landing.clicks.gclid).toEqual({ value: 'FRESH', capturedAt: NOW_MS });
  });

  it('reads Microsoft’s _uetmsclkid, Pinterest’s _epik and LinkedIn’s li_fat_id cookies', () => {
    const landing = readLanding(body('https://shop.example/'), { _uetmsclkid: '_uetabc123', _epik: 'dj0yJnU9', li_fat_id: 'li-cookie' }, NOW_MS);
    expect(landing.clicks).toMatchObject({ msclkid: { value: 'abc123' }, epik: { value: 'dj0yJnU9' }, liFatId: { value: 'li-cookie' } });
  });

  it('reads X’s _twclid cookie (Cookie header only, never from the forwarded body) when the URL has no twclid', () => {
    const fromCookie = readLanding(body('https://shop.example/next'), { _twclid: '23opevjt88psuo13lu8d020qkn' }, NOW_MS);
    expect(fromCookie.clicks.twclid).toEqual({ value: '23opevjt88psuo13lu8d020qkn', capturedAt: NOW_MS });
    expect(fromCookie.fromUrl).toEqual([]);
    const fresh = readLanding(body('https://shop.example/?twclid=fresh-click'), { _twclid: 'older-click' }, NOW_MS);
    expect(fresh.clicks.twclid?.value).toBe('fresh-click');
    expect(mergeForwardedCookies({}, { _twclid: 'from-body' })).toEqual({});
  });

  it('reads UET’s _uetvid visitor cookie as a browser ID (the UET Conversions API’s anonymousId), not a click', () => {
    const landing = readLanding(body('https://shop.example/'), { _uetvid: 'b171a9b06ce011ecafcd1b209be8601b' }, NOW_MS);
    expect(landing.clicks.uetvid).toEqual({ value: 'b171a9b06ce011ecafcd1b209be8601b', capturedAt: NOW_MS });
    expect(landing.fromUrl).not.toContain('uetvid');
  });

  it('reads the Reddit Pixel’s _rdt_uuid (whole) and _rdt_cid cookies; the URL’s rdt_cid wins over the cookie', () => {
    const uuid = '1677712978045.b8f7eb7d-b357-437b-8bd3-e1c8166c7132';
    const fromCookies = readLanding(body('https://shop.example/'), { _rdt_uuid: uuid, _rdt_cid: 'cookie-cid' }, NOW_MS);
    expect(fromCookies.clicks).toMatchObject({ rdtUuid: { value: uuid }, rdtCid: { value: 'cookie-cid' } });
    const fromUrl = readLanding(body('https://shop.example/?rdt_cid=url-cid'), { _rdt_uuid: uuid, _rdt_cid: 'cookie-cid' }, NOW_MS);
    expect(fromUrl.clicks.rdtCid).toEqual({ value: 'url-cid', capturedAt: NOW_MS });
    expect(fromUrl.fromUrl).toContain('rdtCid');
  });
});

describe('readLanding: marketing consent denied', () => {
  it('keeps no ad identifier, sets no ad cookie and drops the query string of the landing URL', () => {
    const landing = readLanding(
      body('https://shop.example/p?fbclid=IwAR1&gclid=G1&utm_source=fb', { consent: { marketing: false, analytics: true } }),
      { _fbp: `fb.1.${EARLIER_MS}.123`, _ga: 'GA1.1.111.222', _ttp: 'ttp-1' },
      NOW_MS,
    );
    expect(landing.clicks).toEqual({ gaClientId: { value: '111.222', capturedAt: NOW_MS } });
    expect(landing.setCookies).toEqual({});
    expect(landing.landingUrl).toBe('https://shop.example/p');
    expect(landing.consent).toMatchObject({ marketing: false, analytics: true });
  });

  it('keeps not even the GA client ID without analytics consent', () => {
    const landing = readLanding(body('https://shop.example/?gclid=G1', { consent: { marketing: 'denied', analytics: 'denied' } }), { _ga: 'GA1.1.111.222' }, NOW_MS);
    expect(landing.clicks).toEqual({});
  });
});

describe('mergeForwardedCookies', () => {
  it('overlays the platform cookies the snippet forwarded, and nothing else', () => {
    const merged = mergeForwardedCookies({ cr_vid: 'from-header', _ga: 'GA1.1.1.1' }, { _ga: 'GA1.1.2.2', _ttp: 't', cr_vid: 'forged', other: 'x' });
    expect(merged).toEqual({ cr_vid: 'from-header', _ga: 'GA1.1.2.2', _ttp: 't' });
  });
});

describe('CollectBodySchema: identify', () => {
  const hash = 'a'.repeat(64);
  it('accepts lowercase SHA-256 hex digests', () => {
    expect(CollectBodySchema.safeParse({ url: 'https://shop.example/', identify: { email: hash, phone: hash } }).success).toBe(true);
  });
  it('refuses a raw e-mail, an upper-case digest or an unknown field', () => {
    for (const identify of [{ email: 'jane@example.com' }, { email: hash.toUpperCase() }, { email: hash, name: hash }]) {
      expect(CollectBodySchema.safeParse({ url: 'https://shop.example/', identify }).success).toBe(false);
    }
  });
});
