import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { ConversionSchema, type Conversion } from '#core/conversion.ts';
import type { Route } from '#core/ingest.ts';

/**
 * The Conversion as the ledger keeps it: a few hundred bytes of binary instead of ~2 KB of JSON, so that a conversion
 * item stays within one DynamoDB write unit (1 KB). Lossless: `decode(encode(c))` equals `c`.
 *
 * Format version 1 (the first byte; a new layout or dictionary takes a new version, and decode keeps reading the old):
 *   [1] [n] [n × 32 bytes: the distinct SHA-256 hashes of `user`, raw] [deflateRaw(JSON, DICTIONARY_V1)]
 * where JSON is the Conversion with each hashed `user` value replaced by its index among the n hashes (a number: no
 * `user` value is ever a number, so the two cannot be confused). A 64-character hex hash is 32 bytes of entropy that
 * no compressor shrinks, so it is stored raw (half its hex size), once even where two forms hash the same (e.g.
 * `emailMicrosoft` = `emailReddit`); the rest is short JSON that a preset dictionary of the Conversion's own key names
 * and usual values compresses to ~250 bytes. What the dictionary holds only affects the size; decoding needs the very
 same bytes, hence frozen per version.
 */
const VERSION_1 = 1;
const HASH = /^[0-9a-f]{64}$/;
const HASH_BYTES = 32;
/** At most this many distinct hashes go to the raw section (the count is one byte); any further stays in the JSON. */
const MAX_HASHES = 255;

/**
 * Version 1's preset dictionary: text the JSON of a typical Conversion repeats (deflate finds matches in it as if it
 * preceded the data; the likeliest strings last, where matches are cheapest). Frozen: changing it needs a new version.
 */
const DICTIONARY_V1 = Buffer.from(
  [
    '"contents":[{"id":"","quantity":1,"price":',
    ',"name":""}],"leadId":"","leadEventSource":"HubSpot","test":true,',
    '"adjustment":{"kind":"refund","originalOrderId":"","originalEventId":"","originalEventName":"Purchase","originalOccurredAt":"","full":false,"remainingValue":0},',
    '"kind":"chargeback",',
    '"eventName":"Lead","eventName":"CompleteRegistration","eventName":"StartTrial","eventName":"Subscribe","eventName":"Refund",',
    '"actionSource":"system_generated","actionSource":"crm",',
    '"source":{"name":"clickbank","eventId":"","eventType":"SALE"},"source":{"name":"postback","source":{"name":"hubspot","source":{"name":"crm",',
    '"eventType":"invoice.paid","eventType":"charge.refunded","eventType":"charge.dispute.created","eventType":"payment_intent.succeeded",',
    '"currency":"EUR","currency":"GBP",',
    '"clicks":{"gclid":{"value":"Cj0KCQiA","capturedAt":17},"gbraid":{"value":"","capturedAt":17},"wbraid":{"value":"","capturedAt":17},',
    '"ttclid":{"value":"E.C.P.","capturedAt":17},"ttp":{"value":"","capturedAt":17},"msclkid":{"value":"","capturedAt":17},',
    '"gaClientId":{"value":"GA1.1.","capturedAt":17},"liFatId":{"value":"","capturedAt":17},"scCid":{"value":"","capturedAt":17},',
    '"epik":{"value":"","capturedAt":17},"rdtCid":{"value":"","capturedAt":17},"twclid":{"value":"","capturedAt":17},',
    '"scid":{"value":"","capturedAt":17},"uetvid":{"value":"","capturedAt":17},"rdtUuid":{"value":"","capturedAt":17},',
    '"user":{"email":0,"emailGoogle":1,"emailDataManager":2,"emailMicrosoft":3,"emailReddit":4,"phone":5,"phoneE164":6,',
    '"firstName":7,"lastName":8,"street":9,"city":10,"state":11,"zip":12,"country":13,"countryCode":"us","externalId":14,',
    '"ip":"2001:db8::","ip":"192.168.","userAgent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",',
    '"userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",',
    '"userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"},',
    '{"eventId":"pi_","eventName":"Purchase","occurredAt":"2026-01-01T00:00:00.000Z","value":0.99,"currency":"USD","orderId":"pi_",',
    '"actionSource":"website","eventSourceUrl":"https://www.example.com/?fbclid=IwAR&gclid=&utm_source=facebook&utm_medium=cpc&utm_campaign=",',
    '"user":{"email":0,"phone":1,"phoneE164":2,"firstName":3,"lastName":4,"street":5,"city":6,"state":7,"zip":8,"country":9,"countryCode":"us","externalId":10,"ip":"","userAgent":"Mozilla/5.0 (',
    '"clicks":{"fbc":{"value":"fb.1.17","capturedAt":17},"fbp":{"value":"fb.1.17","capturedAt":17}},',
    '"consent":{"marketing":true,"adUserData":true,"adPersonalization":true,"analytics":true},"visitorId":"vis_",',
    '"source":{"name":"stripe","eventId":"evt_","eventType":"checkout.session.completed","livemode":true}}',
  ].join(''),
  'utf8',
);

/**
 * How both forms deflate, once per webhook each. A sync deflate's cost is mostly fixed (a zlib stream object, its
 * state and output buffer), not the ~1 KB it compresses: a window of 8 KB (not 32) and memLevel 4 (not 8) need under
 * 100 KB of zlib state instead of ~256 KB, and a 1 KB output buffer (not 16 KB) fits the usual few hundred bytes (a
 * longer output takes more chunks). The dictionary (2.8 KB) and a usual Conversion's JSON (~1 KB) still fit the window,
 * so the output is as small as with the defaults, and the decoders' default 32 KB window reads it: no new version.
 */
const DEFLATE_OPTIONS = { level: 9, windowBits: 13, memLevel: 4, chunkSize: 1024 } as const;

/** The Conversion in the ledger's binary form (version 1). */
export function encode(conversion: Conversion): Uint8Array {
  const hashes: string[] = [];
  const user: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(conversion.user)) {
    // The format's premise (a number in `user` is a hash index); a numeric field there needs a new version.
    if (typeof value === 'number') throw new Error(`conversion codec: user.${key} is a number, which version 1 cannot tell from a hash`);
    const hashed = typeof value === 'string' && HASH.test(value);
    let index = hashed ? hashes.indexOf(value) : -1;
    if (hashed && index < 0 && hashes.length < MAX_HASHES) index = hashes.push(value) - 1;
    user[key] = index >= 0 ? index : value;
  }
  const json = deflateRawSync(JSON.stringify({ ...conversion, user }), { ...DEFLATE_OPTIONS, dictionary: DICTIONARY_V1 });
  const out = Buffer.allocUnsafe(2 + hashes.length * HASH_BYTES + json.length);
  out[0] = VERSION_1;
  out[1] = hashes.length;
  hashes.forEach((h, i) => out.write(h, 2 + i * HASH_BYTES, 'hex'));
  json.copy(out, 2 + hashes.length * HASH_BYTES);
  return out;
}

/** The Conversion back from `encode`'s bytes; throws on bytes that are not a well-formed, valid Conversion. */
export function decode(bytes: Uint8Array): Conversion {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf[0] !== VERSION_1) throw new Error(`conversion codec: unknown format version ${buf[0] ?? '(empty)'}`);
  const n = buf[1] ?? 0;
  const start = 2 + n * HASH_BYTES;
  if (buf.length < start) throw new Error(`conversion codec: truncated (${buf.length} bytes, ${n} hashes announced)`);
  const hashes = Array.from({ length: n }, (_, i) => buf.toString('hex', 2 + i * HASH_BYTES, 2 + (i + 1) * HASH_BYTES));
  let parsed: { user?: Record<string, unknown> };
  try {
    parsed = JSON.parse(inflateRawSync(buf.subarray(start), { dictionary: DICTIONARY_V1 }).toString('utf8'));
  } catch (err) {
    throw new Error(`conversion codec: corrupt data (${(err as Error).message})`);
  }
  if (parsed?.user && typeof parsed.user === 'object') {
    for (const [key, value] of Object.entries(parsed.user)) {
      if (typeof value !== 'number') continue;
      if (!Number.isInteger(value) || value < 0 || value >= n) throw new Error(`conversion codec: user.${key} names hash ${value} of ${n}`);
      parsed.user[key] = hashes[value];
    }
  }
  const result = ConversionSchema.safeParse(parsed);
  if (!result.success) throw new Error(`conversion codec: not a Conversion: ${result.error.issues[0]?.path.join('.')}: ${result.error.issues[0]?.message}`);
  return result.data;
}

/**
 * A conversion's routes, in one of two forms (the first byte says which):
 * - 1, every route queued (the usual case): one byte per route, the destination's index in ROUTE_NAMES_V1, or 255
 *   then the name's length and UTF-8 bytes for a destination not in that list — ten destinations in 11 bytes, with
 *   no compressor to start (~30 µs a call) on the hot path;
 * - 2, some route skipped: deflateRaw(JSON, ROUTES_DICTIONARY_V1) of the routes in order, a queued one as its
 *   destination's name, a skipped one as [name, reason] (reasons repeat their phrases, which deflate shrinks).
 * Both lists are frozen: a new destination is written by name, a new list needs a new form.
 */
const ALL_QUEUED = 1;
const SOME_SKIPPED = 2;
const BY_NAME = 255;
const ROUTE_NAMES_V1 = ['meta', 'tiktok', 'google-ads', 'ga4', 'linkedin', 'pinterest', 'snapchat', 'reddit', 'microsoft', 'x'];
/** The skip reasons the relay writes most (consent first), with the platforms' names as they appear in them. */
const ROUTES_DICTIONARY_V1 = Buffer.from(
  [
    ' has no way to retract a conversion: the refund is recorded, not sent"],["chargeback',
    'not in destination allowlist:  is not among RELAY_MAPPING.destinations.',
    ' needs ; this conversion has none"],["',
    'the Data Manager API adjusts a conversion only with at least one identifier, and this refund carries no Google click ID, hashed e-mail or phone (with ad_user_data consent)"],["',
    'no Google click ID (gclid / gbraid / wbraid) and no hashed e-mail or phone: nothing Google Ads could match"],["',
    'no Google click ID (gclid / gbraid / wbraid), and ad_user_data consent denied: nothing Google Ads may match"],["',
    'consent: ad personalization refused, and X has no limited-data-use mode; recorded, not sent"],["',
    'Meta","TikTok","Google Ads","LinkedIn","Pinterest","Snapchat","Reddit","Microsoft Advertising","X',
    'consent: analytics only; Microsoft Advertising cannot use an event without identifiers, so it is recorded, not sent"],["',
    'consent: the visitor gave no marketing or analytics consent; recorded, not sent"],["',
    JSON.stringify(ROUTE_NAMES_V1),
  ].join(''),
  'utf8',
);

/**
 * The SOME_SKIPPED forms written lately, by the JSON they deflate: a source's webhooks mostly meet the same
 * destinations with the same consent, hence the same routes and the same bytes, without a deflate each. Bounded (the
 * oldest entry goes first); a hit is copied out, so a caller that changes its bytes cannot change the next item's.
 */
const skippedRoutesForms = new Map<string, Buffer>();
const SKIPPED_ROUTES_FORMS_KEPT = 32;

/** The routes in the ledger's binary form. */
export function encodeRoutes(routes: Route[]): Uint8Array {
  if (routes.some((r) => r.status === 'skipped')) {
    const json = JSON.stringify(routes.map((r) => (r.status === 'skipped' ? [r.destination, r.reason] : r.destination)));
    let form = skippedRoutesForms.get(json);
    if (!form) {
      form = Buffer.concat([Buffer.of(SOME_SKIPPED), deflateRawSync(json, { ...DEFLATE_OPTIONS, dictionary: ROUTES_DICTIONARY_V1 })]);
      if (skippedRoutesForms.size >= SKIPPED_ROUTES_FORMS_KEPT) skippedRoutesForms.delete(skippedRoutesForms.keys().next().value!);
      skippedRoutesForms.set(json, form);
    }
    return Buffer.from(form);
  }
  const bytes = [ALL_QUEUED];
  for (const { destination } of routes) {
    const index = ROUTE_NAMES_V1.indexOf(destination);
    if (index >= 0) bytes.push(index);
    else {
      const name = Buffer.from(destination, 'utf8');
      if (name.length > 255) throw new Error(`routes codec: destination name longer than 255 bytes: ${destination.slice(0, 40)}…`);
      bytes.push(BY_NAME, name.length, ...name);
    }
  }
  return Buffer.from(bytes);
}

/** The routes back from `encodeRoutes`' bytes; throws on bytes that are not. */
export function decodeRoutes(bytes: Uint8Array): Route[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf[0] === ALL_QUEUED) {
    const routes: Route[] = [];
    for (let i = 1; i < buf.length; i++) {
      let destination = ROUTE_NAMES_V1[buf[i]];
      if (buf[i] === BY_NAME) {
        const end = i + 2 + (buf[i + 1] ?? 0);
        if (i + 1 >= buf.length || end > buf.length) throw new Error('routes codec: truncated destination name');
        destination = buf.toString('utf8', i + 2, end);
        i = end - 1;
      }
      if (destination === undefined) throw new Error(`routes codec: no destination ${buf[i]}`);
      routes.push({ destination, status: 'queued' });
    }
    return routes;
  }
  if (buf[0] !== SOME_SKIPPED) throw new Error(`routes codec: unknown format ${buf[0] ?? '(empty)'}`);
  let compact: unknown;
  try {
    compact = JSON.parse(inflateRawSync(buf.subarray(1), { dictionary: ROUTES_DICTIONARY_V1 }).toString('utf8'));
  } catch (err) {
    throw new Error(`routes codec: corrupt data (${(err as Error).message})`);
  }
  if (!Array.isArray(compact)) throw new Error('routes codec: not a list of routes');
  return compact.map((r): Route => {
    if (typeof r === 'string') return { destination: r, status: 'queued' };
    if (Array.isArray(r) && r.length === 2 && typeof r[0] === 'string' && typeof r[1] === 'string') return { destination: r[0], status: 'skipped', reason: r[1] };
    throw new Error(`routes codec: not a route: ${JSON.stringify(r)}`);
  });
}
