import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTION_SOURCES, CLICK_KEYS, ConversionSchema, type Conversion } from '#core/conversion.ts';
import type { Route } from '#core/ingest.ts';
import { benchVisitor } from '../../bench/fixtures.ts';
import { conversionFactory, sha256 } from '../../test/support/factories.ts';
import { enqueuedFor } from '../../test/support/pipeline.ts';
import { sourceDrivers, startDriverFakes } from '../../test/support/source-requests.ts';
import { decode, decodeRoutes, encode, encodeRoutes } from './conversion-codec.ts';

const roundTrip = (c: Conversion) => decode(encode(c));
/** `encode(conversionFactory())` by the first version 1 encoder: the form items already stored hold. */
const STORED_CONVERSION_V1 =
  'AQpy2ywqX7S8c1zOzizjecxsR2YtKkGZFvgtXCieSPKQ6+Mj7GJjGcqU7ov/LkyHz2E75uoZkZ7RNkEk4WgHqzF2HiMcZgEeei2Gepz64memr/EDz0kTZAtucamYUPwP+8gjkSfgkVfLr7YhISOxAqoRAyQZRrNoTCMsRLg2fDpNRxarsEC2p3W0kXuMOPjgBv9V2BC12GxKGutiw8ZAwCraGmvU2dedwKebU3lccNM0n6njiWij+++/6Hg++x0raqxpWQlwAdEFAax9VMC9uNthQg9ljykizCbkbVNhGaMRJpHcJRnqmMUALPIJHmoSt3Lq/c6dymGOYm19O4J1NheJea2yovzlxrohX+Xyf1MtTn7brEtqXgnh7zoICEqQRiGiksrBP3iPJvnsiqOzEDtSSdP6E7JYloaC7gTCF6xQaUNO8snF8aDWaTw4XcYbkpT8jXUNjEIMDa1MsSR/Q0tC6R/TZtLzQnFGfgEsM+jDwgA5QxhVRFZRK3FDUrQpPEWbQVO0OVKKtiCYoi3hlYWxnoGeoaGxnjmZJaFJvAGOOgFeyEP4oBYtoSxibmRiamgABnpIAYeaGZAU4cxBIDUGUIMMjYxNTM3MLSwNsBoFVUbXLGYAdxMJmQ2cTg3Jy3LgrlZtLQA=';

describe('the ledger’s binary Conversion', () => {
  // What each source in the project really produces, purchase and refund, through the ingest pipeline.
  const fromSources: [string, Conversion][] = [];
  let stopFakes: () => Promise<void>;
  beforeAll(async () => {
    stopFakes = await startDriverFakes();
    for (const [name, driver] of Object.entries(sourceDrivers)) {
      const customer = { email: 'Jane.Doe+shop@Example.com', phone: '+1 (415) 555-0100', name: 'Jane Doe', address: { line1: '1 Market St', city: 'San Francisco', state: 'CA', postal_code: '94105', country: 'US' } };
      const requests = [driver.purchase({ id: `pi_codec_${name}`, customer, visitorId: 'vis_codec_1' }), ...(driver.refund ? [driver.refund({ id: `pi_codec_${name}` })] : [])];
      for (const request of requests) {
        for (const { conversion } of await enqueuedFor(name, request, driver.env, { visitor: { ...benchVisitor(), visitorId: 'vis_codec_1' } })) fromSources.push([`${name} ${conversion.eventName}`, conversion]);
      }
    }
  });
  afterAll(() => stopFakes?.());

  it('gives back every source’s conversions exactly, in well under half the bytes of their JSON', () => {
    expect(new Set(fromSources.map(([what]) => what.split(' ')[0]))).toEqual(new Set(Object.keys(sourceDrivers)));
    expect(fromSources.some(([what]) => / Refund$/.test(what))).toBe(true);
    for (const [what, c] of fromSources) {
      expect(roundTrip(c), what).toEqual(c);
      // Hashes carry the size: a conversion without customer details (a postback) has little else to shrink.
      if (Object.keys(c.user).length > 5) expect(encode(c).length, what).toBeLessThan(Buffer.byteLength(JSON.stringify(c)) / 2);
    }
  });

  it('keeps a hash once where two forms hash the same, and one with no hash at all', () => {
    const h = sha256('jane@example.com');
    const twice = conversionFactory({ user: { email: h, emailMicrosoft: h, emailReddit: h, countryCode: 'us' } });
    expect(roundTrip(twice)).toEqual(twice);
    expect(encode(twice)[1]).toBe(1);
    const none = conversionFactory({ user: {}, clicks: {}, consent: {} });
    expect(roundTrip(none)).toEqual(none);
    expect(encode(none)[1]).toBe(0);
  });

  it('keeps any text exactly: unicode, emoji, a lone surrogate, quotes and control characters, hex that is no hash', () => {
    const c = conversionFactory({
      eventId: 'ordre-été-😀-\u0000-"quoted"\\',
      eventName: 'Achat',
      contents: [{ id: 'sku-ü', name: 'Ünïcødé ☃ \ud800 lone', quantity: 1, price: 0.1 + 0.2 }],
      user: { ...conversionFactory().user, userAgent: 'Mozilla/5.0 (日本語; 🚀)\n\t', ip: 'A'.repeat(64) },
    });
    expect(ConversionSchema.parse(c)).toEqual(c);
    expect(roundTrip(c)).toEqual(c);
    // A 64-character hex value where no hash is expected still comes back as the same text.
    const hexIp = conversionFactory({ user: { ip: 'ab'.repeat(32) } });
    expect(roundTrip(hexIp)).toEqual(hexIp);
  });

  it('keeps large contents, every click key, an adjustment and the optional fields', () => {
    const at = 1_772_450_000_000;
    const c = conversionFactory({
      contents: Array.from({ length: 200 }, (_, i) => ({ id: `sku_${i}`, quantity: i + 1, price: i * 1.25, name: `Product ${i} — ${'x'.repeat(i % 50)}` })),
      clicks: Object.fromEntries(CLICK_KEYS.map((k, i) => [k, { value: `${k}-value-${i}`, capturedAt: at + i }])),
      adjustment: { kind: 'chargeback', originalOrderId: 'pi_1', originalEventId: 'pi_1', originalEventName: 'Purchase', originalOccurredAt: '2026-02-01T00:00:00.000Z', full: false, remainingValue: 5 },
      leadId: 'l_1',
      leadEventSource: 'HubSpot',
      test: true,
    });
    expect(roundTrip(c)).toEqual(c);
  });

  it('gives back any valid Conversion exactly (generated)', () => {
    const text = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 });
    const hash = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
    const iso = fc.integer({ min: 0, max: 4_102_444_800_000 }).map((ms) => new Date(ms).toISOString());
    const hashKeys = ['email', 'emailGoogle', 'emailDataManager', 'emailMicrosoft', 'emailReddit', 'phone', 'phoneE164', 'firstName', 'lastName', 'street', 'city', 'state', 'zip', 'country', 'externalId'] as const;
    const conversion = fc.record(
      {
        eventId: text,
        eventName: text,
        occurredAt: iso,
        value: fc.double({ min: 0, max: 1e9, noNaN: true, noDefaultInfinity: true }).map((v) => (Object.is(v, -0) ? 0 : v)),
        currency: fc.constantFrom('USD', 'EUR', 'JPY'),
        orderId: text,
        actionSource: fc.constantFrom(...ACTION_SOURCES),
        eventSourceUrl: fc.webUrl(),
        contents: fc.array(fc.record({ id: text, quantity: fc.integer({ min: 1, max: 99 }), price: fc.double({ min: 0, max: 1e6, noNaN: true }).map((v) => (Object.is(v, -0) ? 0 : v)), name: text }, { requiredKeys: ['id'] }), { maxLength: 5 }),
        user: fc.record({ ...Object.fromEntries(hashKeys.map((k) => [k, fc.oneof(hash, hash, fc.constant('0'.repeat(64)))])), countryCode: fc.constantFrom('us', 'de'), ip: fc.ipV4(), userAgent: text }, { requiredKeys: [] }),
        clicks: fc.dictionary(fc.constantFrom(...CLICK_KEYS), fc.record({ value: text, capturedAt: fc.nat() })),
        consent: fc.record({ marketing: fc.boolean(), adUserData: fc.boolean(), adPersonalization: fc.boolean(), analytics: fc.boolean() }, { requiredKeys: [] }),
        visitorId: text,
        test: fc.boolean(),
        source: fc.record({ name: text, eventId: text, eventType: text, livemode: fc.boolean() }, { requiredKeys: ['name', 'eventId', 'eventType'] }),
      },
      { requiredKeys: ['eventId', 'eventName', 'occurredAt', 'actionSource', 'user', 'clicks', 'consent', 'source'] },
    );
    fc.assert(
      fc.property(conversion, (c) => {
        const valid = ConversionSchema.parse(c);
        expect(roundTrip(valid)).toEqual(valid);
      }),
      { numRuns: 200 },
    );
  });

  it('reads what it wrote before, and writes as small', () => {
    // An item's `c` as the first version 1 encoder wrote it (zlib's default window and memLevel) for conversionFactory():
    // stored items keep reading back, and the leaner deflate settings cost no bytes.
    const stored = Buffer.from(STORED_CONVERSION_V1, 'base64');
    expect(decode(stored)).toEqual(conversionFactory());
    expect(encode(conversionFactory()).length).toBeLessThanOrEqual(stored.length + 3);
  });

  it('refuses bytes that are not a Conversion it wrote: another version, truncated, corrupted, or valid data that is no Conversion', () => {
    const bytes = Buffer.from(encode(conversionFactory()));
    expect(() => decode(Buffer.concat([Buffer.of(2), bytes.subarray(1)]))).toThrow(/unknown format version 2/);
    expect(() => decode(new Uint8Array())).toThrow(/unknown format version/);
    expect(() => decode(bytes.subarray(0, 100))).toThrow(/truncated|corrupt/);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 20] ^= 0xff;
    expect(() => decode(flipped)).toThrow(/conversion codec/);
    const notAConversion = Buffer.from(encode({ ...conversionFactory(), occurredAt: 'yesterday' } as Conversion));
    expect(() => decode(notAConversion)).toThrow(/not a Conversion: occurredAt/);
    // A number in `user` would read back as a hash: refused when written.
    expect(() => encode({ ...conversionFactory(), user: { ip: 7 } } as unknown as Conversion)).toThrow(/user.ip is a number/);
    // An index past the hashes the data announces.
    const tooFew = Buffer.concat([Buffer.of(1, 0), bytes.subarray(2 + bytes[1] * 32)]);
    expect(() => decode(tooFew)).toThrow(/names hash/);
  });
});

describe('the ledger’s binary routes', () => {
  const names = ['meta', 'tiktok', 'google-ads', 'ga4', 'linkedin', 'pinterest', 'snapchat', 'reddit', 'microsoft', 'x'];
  const queued: Route[] = names.map((destination) => ({ destination, status: 'queued' }));

  it('gives back every route in order, in a byte per destination when all are queued', () => {
    expect(decodeRoutes(encodeRoutes(queued))).toEqual(queued);
    expect(encodeRoutes(queued).length).toBe(11);
    // A destination added later (not in the frozen list) goes by name.
    const added: Route[] = [{ destination: 'new-platform', status: 'queued' }, ...queued.slice(0, 2), { destination: 'ünï', status: 'queued' }];
    expect(decodeRoutes(encodeRoutes(added))).toEqual(added);
    expect(decodeRoutes(encodeRoutes([]))).toEqual([]);
  });

  it('keeps each skipped route’s reason, compressed: ten destinations refused for consent stay small', () => {
    const mixed: Route[] = [{ destination: 'x', status: 'skipped', reason: 'consent: ad personalization refused — “x” ☃' }, { destination: 'new-platform', status: 'queued' }, ...queued.slice(0, 2)];
    expect(decodeRoutes(encodeRoutes(mixed))).toEqual(mixed);
    const refused: Route[] = names.map((destination) => ({ destination, status: 'skipped', reason: `consent: ad personalization refused, and ${destination} has no limited-data-use mode; recorded, not sent` }));
    expect(decodeRoutes(encodeRoutes(refused))).toEqual(refused);
    expect(encodeRoutes(refused).length).toBeLessThan(150);
  });

  it('reads what it wrote before, and writes as small', () => {
    // An item's `r` as the first encoder wrote it (zlib's default window and memLevel) for `routes`.
    const routes: Route[] = [
      { destination: 'meta', status: 'skipped', reason: 'Meta has no way to retract a conversion: the refund is recorded, not sent' },
      { destination: 'google-ads', status: 'queued' },
      { destination: 'x', status: 'skipped', reason: 'consent: ad personalization refused, and X has no limited-data-use mode; recorded, not sent' },
    ];
    const stored = Buffer.from('AouGmw+KFQUqlSQoboxWqlDSoW2iigUA', 'base64');
    expect(decodeRoutes(stored)).toEqual(routes);
    expect(encodeRoutes(routes).length).toBeLessThanOrEqual(stored.length + 3);
  });

  it('gives the same routes the same bytes each time, which no caller can change for the next', () => {
    const skipped = (reason: string): Route[] => [{ destination: 'x', status: 'skipped', reason }, ...queued.slice(0, 3)];
    const first = Buffer.from(encodeRoutes(skipped('consent')));
    const handedOut = encodeRoutes(skipped('consent'));
    expect(Buffer.from(handedOut)).toEqual(first);
    handedOut.fill(0);
    expect(Buffer.from(encodeRoutes(skipped('consent')))).toEqual(first);
    // Past the forms kept, each still encodes (and decodes) as itself.
    for (let i = 0; i < 100; i++) expect(decodeRoutes(encodeRoutes(skipped(`reason ${i}`)))).toEqual(skipped(`reason ${i}`));
    expect(Buffer.from(encodeRoutes(skipped('consent')))).toEqual(first);
  });

  it('refuses bytes that are not routes', () => {
    expect(() => decodeRoutes(Buffer.of(9))).toThrow(/unknown format 9/);
    expect(() => decodeRoutes(Buffer.of(1, 42))).toThrow(/no destination 42/);
    expect(() => decodeRoutes(Buffer.of(1, 255, 10, 65))).toThrow(/truncated/);
    expect(() => decodeRoutes(Buffer.of(2, 0xff, 0x00))).toThrow(/corrupt/);
    expect(() => decodeRoutes(Buffer.concat([Buffer.of(2), deflateRawSync('{"a":1}')]))).toThrow(/routes codec/);
  });
});
