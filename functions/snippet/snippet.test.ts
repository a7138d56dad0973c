import { gunzipSync } from 'node:zlib';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { hashUser } from '#core/normalize.ts';
import { eventIdFor } from '#core/event-id.ts';
import { handler } from '#handlers/snippet.ts';
import { buildSnippet } from './build.ts';
import { consentFromDataLayer, consentFromTcString } from './consent-signals.ts';
import { decorateHref } from './decorate.ts';
import { hashIdentity } from './identify.ts';

/** A TC string (core segment) with the given purposes consented, laid out as the TCF v2 spec says. */
function tcString(purposes: number[], version = 2): string {
  const bits = new Array(30 * 8).fill(0);
  const put = (offset: number, width: number, value: number) => {
    for (let i = 0; i < width; i++) bits[offset + i] = (value >> (width - 1 - i)) & 1;
  };
  put(0, 6, version);
  put(6, 36, 16_000_000_00 % 2 ** 32); // Created (deciseconds), any value
  put(78, 12, 7); // CmpId
  for (const p of purposes) bits[152 + p - 1] = 1;
  const bytes = Buffer.from(Array.from({ length: 30 }, (_, i) => parseInt(bits.slice(i * 8, i * 8 + 8).join(''), 2)));
  return `${bytes.toString('base64url')}.YAAAAAAAAAAA`;
}

describe('Google Consent Mode in dataLayer', () => {
  it('applies default then update, in order, from gtag’s arguments objects', () => {
    function gtagArgs(..._a: unknown[]) {
      return arguments; // what gtag() pushes
    }
    const dataLayer = [
      { event: 'gtm.js' },
      gtagArgs('consent', 'default', { ad_storage: 'denied', ad_user_data: 'denied', ad_personalization: 'denied', analytics_storage: 'denied' }),
      gtagArgs('consent', 'update', { ad_storage: 'granted', ad_user_data: 'granted', analytics_storage: 'granted' }),
    ];
    expect(consentFromDataLayer(dataLayer)).toEqual({ marketing: true, ad_user_data: true, ad_personalization: false, analytics: true });
  });

  it('gives nothing when there is no dataLayer or no consent command', () => {
    expect(consentFromDataLayer(undefined)).toEqual({});
    expect(consentFromDataLayer([['config', 'G-1']])).toEqual({});
  });
});

describe('IAB TCF v2 string', () => {
  it('reads purpose consents: 1+7 → marketing and ad_user_data, 3+4 → ad_personalization, 1+8 → analytics', () => {
    expect(consentFromTcString(tcString([1, 2, 3, 4, 7, 8, 9, 10]))).toEqual({ marketing: true, ad_user_data: true, ad_personalization: true, analytics: true });
    expect(consentFromTcString(tcString([1, 8]))).toEqual({ marketing: false, ad_user_data: false, ad_personalization: false, analytics: true });
    expect(consentFromTcString(tcString([]))).toEqual({ marketing: false, ad_user_data: false, ad_personalization: false, analytics: false });
  });

  it('ignores anything that is not a version-2 string', () => {
    expect(consentFromTcString(tcString([1, 7], 1))).toBeUndefined();
    expect(consentFromTcString('not base64 !!')).toBeUndefined();
    expect(consentFromTcString(undefined)).toBeUndefined();
  });
});

describe('decorateHref', () => {
  const vid = '0b7e5a52-8f1c-4c47-9d4e-3a2b1c0d9e8f';
  const compact = '0b7e5a528f1c4c479d4e3a2b1c0d9e8f';
  it('puts the visitor ID in a Stripe Payment Link’s client_reference_id', () => {
    expect(decorateHref('https://buy.stripe.com/test_abc?prefilled_email=x%40y.z', vid)).toBe(
      `https://buy.stripe.com/test_abc?prefilled_email=x%40y.z&client_reference_id=${vid}`,
    );
  });
  it('puts it in a ClickBank hop link’s tid without hyphens (ClickBank allows letters, digits, underscores), old and new forms', () => {
    expect(decorateHref('https://hop.clickbank.net/?affiliate=aff&vendor=ven', vid)).toBe(`https://hop.clickbank.net/?affiliate=aff&vendor=ven&tid=${compact}`);
    expect(decorateHref('http://aff.ven.hop.clickbank.net/', vid)).toBe(`http://aff.ven.hop.clickbank.net/?tid=${compact}`);
  });
  it('uses the parameter a link names with data-visitor-param', () => {
    expect(decorateHref('https://shop.example.com/checkout', vid, 'visitor_id')).toBe(`https://shop.example.com/checkout?visitor_id=${vid}`);
  });
  it('leaves other links and values already set alone', () => {
    expect(decorateHref('https://shop.example.com/about', vid)).toBeUndefined();
    expect(decorateHref('https://fakehop.clickbank.net.evil.test/', vid)).toBeUndefined();
    expect(decorateHref('https://buy.stripe.com/x?client_reference_id=already', vid)).toBeUndefined();
  });
});

describe('identify hashes as the server does', () => {
  it('gives the very hashes hashUser gives for the same e-mail and international phone', async () => {
    for (const [email, phone] of [
      ['  Jane.Doe@Example.COM ', '+1 (415) 555-0100'],
      ['jöhn@exämple.de', '+49 (0)30 1234567'],
    ]) {
      const server = hashUser({ email, phone });
      expect(await hashIdentity({ email, phone })).toEqual({ email: server.email, phone: server.phone });
    }
  });
  it('passes a SHA-256 digest through lowercased and drops what cannot be normalized', async () => {
    const digest = 'AB'.repeat(32);
    expect(await hashIdentity({ email: digest, phone: '(415) 555-0100' })).toEqual({ email: digest.toLowerCase() });
    expect(await hashIdentity({ email: 'not an e-mail' })).toEqual({});
  });
});

describe('the built snippet', () => {
  const built = buildSnippet();

  it('is small: under 2 KB gzipped; the extra part, loaded only when needed, is on its own', () => {
    console.log(`snippet: ${built.bytes} bytes minified, ${built.gzipBytes} bytes gzipped`);
    console.log(`extra part: ${built.extraBytes} bytes minified, ${built.extraGzipBytes} bytes gzipped`);
    expect(built.gzipBytes).toBeLessThan(2048);
    // identify's normalization and hashing, and the TC-string decoding, are not in the main script.
    expect(built.code).not.toContain('SHA-256');
    expect(built.extraCode).toContain('SHA-256');
    expect(built.code).toContain(`/t.js?part=extra&v=${built.extraHash}`);
  });

  it('bundles the server’s own event-ID and e-mail rules (one rule, two places)', () => {
    expect(built.code).toContain('eventIdFor: empty order ID');
    expect(built.extraCode).toContain('[^.]+(\\.[^.]+)+$'); // normalizeEmail's domain check
    expect(eventIdFor('cs_1', 'Lead')).toBe('cs_1:lead');
  });

  it('needs no dependency at run time: each part is one self-contained script', () => {
    for (const code of [built.code, built.extraCode]) expect(code).not.toMatch(/\brequire\(|\bimport\s*\(|\bimport\s+[{*\w]/);
  });
});

describe('GET /t.js', () => {
  const get = (headers: Record<string, string> = {}, v?: string, part?: string) =>
    handler({ headers, queryStringParameters: v || part ? { v, part } : undefined } as unknown as APIGatewayProxyEventV2);

  it('serves the script gzipped with its content hash as ETag; the versioned URL is immutable for a year', async () => {
    const { hash, code } = buildSnippet();
    const plain = await get();
    expect(plain.headers).toMatchObject({ 'content-type': 'text/javascript; charset=utf-8', etag: `W/"${hash}"`, 'cache-control': 'public, max-age=3600' });
    expect(plain.body).toBe(code);

    const versioned = await get({ 'accept-encoding': 'gzip, deflate, br' }, hash);
    expect(versioned.headers).toMatchObject({ 'content-encoding': 'gzip', 'cache-control': 'public, max-age=31536000, immutable' });
    expect(gunzipSync(Buffer.from(versioned.body!, 'base64')).toString()).toBe(code);

    expect((await get({}, 'stale-version')).headers?.['cache-control']).toBe('public, max-age=3600');
    expect((await get({ 'If-None-Match': `W/"${hash}"` })).statusCode).toBe(304);
    expect((await get({ 'if-none-match': `"${hash}"` })).statusCode).toBe(304);
    expect((await get({ 'if-none-match': '"0000000000000000"' })).statusCode).toBe(200);
  });

  it('serves the extra part at ?part=extra by the same caching rules, with its own hash', async () => {
    const { extraHash, extraCode } = buildSnippet();
    const plain = await get({}, undefined, 'extra');
    expect(plain.headers).toMatchObject({ 'content-type': 'text/javascript; charset=utf-8', etag: `W/"${extraHash}"`, 'cache-control': 'public, max-age=3600' });
    expect(plain.body).toBe(extraCode);

    const versioned = await get({ 'accept-encoding': 'gzip' }, extraHash, 'extra');
    expect(versioned.headers).toMatchObject({ 'content-encoding': 'gzip', 'cache-control': 'public, max-age=31536000, immutable' });
    expect(gunzipSync(Buffer.from(versioned.body!, 'base64')).toString()).toBe(extraCode);

    expect((await get({ 'if-none-match': `W/"${extraHash}"` }, extraHash, 'extra')).statusCode).toBe(304);
    expect((await get({}, 'stale-version', 'extra')).headers?.['cache-control']).toBe('public, max-age=3600');
    expect((await get({}, undefined, 'nope')).statusCode).toBe(404);
  });
});
