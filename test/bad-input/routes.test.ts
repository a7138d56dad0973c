import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sources } from '../../functions/registry.ts';
import { startConversionApiPlatforms, type StartedPlatforms } from '../support/platforms.ts';
import { startRelay, type RelayProcess } from '../support/relay-process.ts';
import { contentOf, driverEnv, purchaseEventId, send, sourceDrivers, startDriverFakes, type SourceRequest } from '../support/source-requests.ts';
import { readAllQueues, scanAllTables } from '../support/storage.ts';
import { bySize } from '../support/suite-size.ts';

/**
 * Hostile and broken requests against every route the relay serves (each source's routes from the registry, and
 * /collect), through the local runner: every answer is a deliberate 4xx, or a 2xx the relay documents (a
 * duplicate, a skipped event, a genuinely signed conversion), never a 5xx or a crash; and the tables and queues
 * hold exactly what the 2xx answers acknowledged, nothing else. The platforms of test/support/platforms.ts (LinkedIn,
 * Pinterest, Snapchat, Reddit, …) are configured against their fakes, so what hostile input becomes is checked the way
 * each platform checks it (the others run in dry-run).
 */
const RUNS = bySize(25, 300);
const routes = [
  { source: 'collect', method: 'POST' as const, path: '/collect' },
  ...sources.flatMap((s) => s.routes.map((r) => ({ source: s.name, method: r.method, path: r.path }))),
];
/** Sources whose genuine requests the suite can make (test/support/source-requests.ts). */
const signedSources = sources.filter((s) => sourceDrivers[s.name]);
const unsigned = sources.filter((s) => !sourceDrivers[s.name]).map((s) => s.name);

const CONTENT_TYPES = ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/octet-stream', '', 'application/json; charset=utf-16', 'image/png'];
/** Strings a careless parser trips on: control characters, lone surrogates, RTL marks, NULs, very long runs. */
const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)), maxLength: 32 }),
  fc.constantFrom('\u0000', '\uD800', '\uDFFF', '\u202E', '\uFEFF', 'x'.repeat(5000), '', ' ', '😀'.repeat(300), '<script>alert(1)</script>', '../../etc/passwd', '%00', '${jndi:ldap://x}'),
);
const hostileNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(-1, 0, Number.MAX_SAFE_INTEGER + 2, -Number.MAX_SAFE_INTEGER * 10, 1e308, -1e308, 5e-324, 1e21),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map((b) => Number(b)),
);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(hostileString, hostileNumber, fc.constant(null), fc.boolean(), fc.array(fc.anything(), { maxLength: 3 }), fc.object({ maxDepth: 2 }));

interface Tally {
  /** Event IDs of conversions the relay answered `accepted` or `duplicate` for. */
  acceptedEventIds: Set<string>;
  /** 2xx `skipped` answers. */
  skipped: number;
  /** /collect 200s: each may create or update one visitor. */
  collected: Set<string>;
  answers: Map<number, number>;
}

describe('bad input on every route', () => {
  let relay: RelayProcess;
  let dataDir: string;
  let stopFakes: (() => Promise<void>) | undefined;
  let platforms: StartedPlatforms;
  /** The parsed body of the last answer `check` saw. */
  let lastAnswer: any;
  const tally: Tally = { acceptedEventIds: new Set(), skipped: 0, collected: new Set(), answers: new Map() };

  /** Sends one request and checks the answer is deliberate; records what a 2xx says it did. */
  async function check(req: SourceRequest): Promise<number> {
    const res = await send(relay.url, req);
    const text = await res.text();
    tally.answers.set(res.status, (tally.answers.get(res.status) ?? 0) + 1);
    if (res.status >= 500) throw new Error(`${req.method} ${req.path} answered ${res.status}: ${text}`);
    expect(res.status, `${req.method} ${req.path}: ${text}`).toBeGreaterThanOrEqual(200);
    expect(res.headers.get('content-type') ?? '', 'every answer is JSON').toMatch(/application\/json/);
    const body = JSON.parse(text);
    lastAnswer = body;
    if (res.status >= 400) {
      // A JSON error that says what was wrong.
      expect(typeof body.error).toBe('string');
    } else if (req.path === '/collect') {
      tally.collected.add(body.visitorId);
    } else if (body.status === 'skipped') {
      expect(typeof body.reason).toBe('string');
      tally.skipped++;
    } else {
      expect(['accepted', 'duplicate']).toContain(body.status);
      for (const c of body.conversions) tally.acceptedEventIds.add(c.eventId);
    }
    return res.status;
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'relay-bad-input-'));
    stopFakes = await startDriverFakes();
    platforms = await startConversionApiPlatforms();
    // A source without a test driver still gets a (dummy) secret, so it rejects forgeries instead of reporting
    // itself unconfigured.
    const dummies = Object.fromEntries(sources.flatMap((s) => s.secretKeys.map((k) => [k, `bad-input-dummy-${k.toLowerCase()}`])));
    relay = await startRelay({ ...dummies, ...driverEnv(), ...platforms.env, META_API_BASE_URL: 'http://127.0.0.1:9', RELAY_RETRY_BASE_SECONDS: '1' }, dataDir);
  });
  afterAll(async () => {
    await relay?.stop();
    await stopFakes?.();
    await platforms?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('lists the routes it attacks', () => {
    expect(routes.map((r) => r.path)).toContain('/webhooks/stripe');
    if (unsigned.length) console.warn(`bad-input: no signed-request driver for ${unsigned.join(', ')}: only unauthenticated attacks run against them`);
  });

  it('answers random bytes under any content type with a 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), fc.uint8Array({ maxLength: 4096 }), fc.constantFrom(...CONTENT_TYPES), async (route, bytes, contentType) => {
        const status = await check({ method: route.method, path: route.path, headers: contentType ? { 'content-type': contentType } : {}, body: Buffer.from(bytes) });
        expect(status).toBeGreaterThanOrEqual(400);
      }),
      { numRuns: RUNS },
    );
  });

  it('answers arbitrary JSON, with made-up signature headers, with a 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.jsonValue({ maxDepth: 6 }),
        fc.dictionary(fc.constantFrom('stripe-signature', 'x-signature', 'authorization', 'x-hub-signature-256', 'x-clickbank-signature'), fc.string({ maxLength: 80 }).filter((s) => /^[\x20-\x7e]*$/.test(s))),
        async (route, json, headers) => {
          const status = await check({ method: route.method, path: route.path, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(json) });
          // /collect takes unsigned JSON: it may accept a body that happens to be a valid landing.
          if (route.source !== 'collect') expect(status).toBeGreaterThanOrEqual(400);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('answers deeply nested JSON with a 4xx (or a documented skip when genuinely signed)', async () => {
    for (const depth of [1000, 50_000]) {
      const deep = '['.repeat(depth) + ']'.repeat(depth);
      const deepObject = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      for (const route of routes) {
        for (const body of [deep, deepObject]) {
          expect(await check({ method: route.method, path: route.path, headers: { 'content-type': 'application/json' }, body })).toBeGreaterThanOrEqual(400);
        }
      }
      for (const s of signedSources) {
        for (const body of [deep, deepObject]) {
          const status = await check(sourceDrivers[s.name].sign(body));
          expect([400, 413, 415, 422]).toContain(status);
        }
      }
    }
  });

  it('refuses bodies over the limit with 413, before any source reads them', async () => {
    for (const route of routes.filter((r) => r.method === 'POST')) {
      for (const size of [300 * 1024, 2 * 1024 * 1024]) {
        const body = JSON.stringify({ pad: 'x'.repeat(size) });
        const signed = sourceDrivers[route.source]?.sign(body);
        const status = await check(signed ?? { method: route.method, path: route.path, headers: { 'content-type': 'application/json' }, body });
        expect(status).toBe(413);
      }
    }
  });

  it('answers unknown routes and wrong methods with 404', async () => {
    for (const route of routes) {
      // PUT: no route takes it (a path may take both GET and POST, as /postback does).
      const res = await fetch(`${relay.url}${route.path}`, { method: 'PUT', body: '{}' });
      expect(res.status, `PUT ${route.path}`).toBe(404);
    }
    expect((await fetch(`${relay.url}/webhooks/nope`, { method: 'POST', body: '{}' })).status).toBe(404);
  });

  /** The path to every leaf (string, number, boolean, null) of a JSON value. */
  const leafPaths = (v: unknown, at: (string | number)[] = []): (string | number)[][] =>
    v !== null && typeof v === 'object' ? Object.entries(v).flatMap(([k, c]) => leafPaths(c, [...at, Array.isArray(v) ? Number(k) : k])) : [at];

  describe.each(signedSources.map((s) => [s.name]))('%s signatures', (name) => {
    const driver = sourceDrivers[name];
    const genuine = (id: string) => driver.purchase({ id });
    let n = 0;
    const nextId = () => `cs_bad_${name}_${Date.now()}_${++n}`;

    it('refuses a missing, garbled or foreign signature with a 4xx', async () => {
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: 2 }), fc.string({ minLength: 1, maxLength: 200 }).filter((s) => /^[\x20-\x7e]+$/.test(s)), async (kind, garbage) => {
          const req = genuine(nextId());
          const headers = { ...req.headers };
          const signatureHeaders = Object.keys(headers).filter((h) => h !== 'content-type');
          for (const h of signatureHeaders) {
            if (kind === 0) delete headers[h];
            else if (kind === 1) headers[h] = garbage;
            else headers[h] = headers[h].replace(/[0-9a-f](?=[0-9a-f]{4}$)/, (c) => ((parseInt(c, 16) + 1) % 16).toString(16));
          }
          // A source that authenticates by a secret in the body (not a header) is attacked by the body tests below.
          if (signatureHeaders.length === 0) return;
          expect(await check({ ...req, headers })).toBeGreaterThanOrEqual(400);
        }),
        { numRuns: RUNS },
      );
    });

    // A token-authenticated source (postback) does not protect its body: a changed body is another request.
    it.runIf(driver.bodyIntegrity !== 'none')('refuses a valid signature over a changed body', async () => {
      await fc.assert(
        fc.asyncProperty(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean(), async (pos, byte, insert) => {
          const id = nextId();
          const signed = genuine(id);
          const original = Buffer.from(signed.body);
          const at = pos % original.length;
          const changed = insert ? Buffer.concat([original.subarray(0, at), Buffer.from([byte]), original.subarray(at)]) : Buffer.from(original);
          if (!insert) changed[at] = changed[at] === byte ? (byte + 1) % 256 : byte;
          const status = await check({ ...signed, body: changed });
          if (driver.bodyIntegrity === 'encryption' && status < 400) {
            // No MAC (ClickBank): a change outside the ciphertext (JSON whitespace) leaves the same notification,
            // which is this very purchase; never another event.
            expect(lastAnswer.conversions.map((c: { eventId: string }) => c.eventId)).toEqual([purchaseEventId(driver, id)]);
          } else expect(status).toBeGreaterThanOrEqual(400);
        }),
        { numRuns: RUNS },
      );
    });

    it.runIf(driver.replayWindowSeconds !== undefined)('refuses a signature older or newer than the replay window', async () => {
      const window = driver.replayWindowSeconds!;
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: window + 5, max: 10 * 365 * 86400 }), fc.boolean(), async (skew, past) => {
          const body = Buffer.from(genuine(nextId()).body);
          const at = new Date(Date.now() + (past ? -1 : 1) * skew * 1000);
          expect(await check(driver.sign(body, at))).toBeGreaterThanOrEqual(400);
        }),
        { numRuns: RUNS },
      );
    });

    it('answers a replayed request as a duplicate: one conversion, never two', async () => {
      const id = nextId();
      const req = genuine(id);
      const first = await send(relay.url, req);
      const again = await send(relay.url, req);
      expect(first.status).toBe(200);
      expect(again.status).toBe(200);
      expect(((await again.json()) as { status: string }).status).toBe('duplicate');
      const eventId = purchaseEventId(driver, id);
      tally.acceptedEventIds.add(eventId);
      const rows = await relay.ledgerFor(eventId);
      // One row per destination, for one conversion.
      expect(rows.length).toBeGreaterThan(0);
      expect(new Set(rows.map((r) => r.sk)).size).toBe(rows.length);
    });

    it('never answers 5xx to a genuinely signed event with hostile field values', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(fc.nat(), hostileValue), { minLength: 1, maxLength: 6 }), async (edits) => {
          const event = JSON.parse(String(contentOf(driver, genuine(nextId()))));
          const leaves = leafPaths(event);
          for (const [pick, value] of edits) {
            const p = leaves[pick % leaves.length];
            let node = event;
            for (const k of p.slice(0, -1)) node = node[k];
            node[p[p.length - 1]] = value;
          }
          await check(driver.sign(JSON.stringify(event)));
        }),
        { numRuns: RUNS * 2 },
      );
    });

    it('never answers 5xx when any number in a genuine event is just past what a date can hold', async () => {
      // Unix seconds or milliseconds a JSON number can carry but a Date cannot (its range is ±8.64e15 ms).
      const edges = [8.64e12 + 1, -8.64e12 - 1, 8.64e15 + 1, Number.MAX_SAFE_INTEGER, 0, -1];
      const content = JSON.parse(String(contentOf(driver, genuine(nextId()))));
      const numeric = leafPaths(content).filter((p) => typeof p.reduce<any>((node, k) => node[k], content) === 'number');
      expect(numeric.length).toBeGreaterThan(0);
      for (const p of numeric) {
        for (const edge of edges) {
          const event = JSON.parse(String(contentOf(driver, genuine(nextId()))));
          let node = event;
          for (const k of p.slice(0, -1)) node = node[k];
          node[p[p.length - 1]] = edge;
          await check(driver.sign(JSON.stringify(event)));
        }
      }
    });

    it('never answers 5xx to out-of-range amounts and dates, or strings with control characters and invalid UTF-8', async () => {
      await fc.assert(
        fc.asyncProperty(
          hostileNumber,
          fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }),
          hostileString,
          fc.boolean(),
          async (amount, at, text, brokenUtf8) => {
            const req = driver.purchase({ id: nextId(), amount, at, customer: { email: `${text}@example.com`, name: text, phone: text, address: { city: text } } });
            let body = Buffer.from(contentOf(driver, req));
            // Overlong / truncated sequences in the middle of a string value.
            if (brokenUtf8) body = Buffer.from(body.toString('latin1').replace('@example.com', '@exam\u00ff\u00c3(ple.com'), 'latin1');
            await check(driver.sign(body));
          },
        ),
        { numRuns: RUNS * 2 },
      );
    });
  });

  it('never answers 5xx on /collect, and accepts only a landing with an http(s) URL', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ url: fc.oneof(fc.webUrl(), hostileString), referrer: hostileValue, fbp: hostileValue, fbc: hostileValue, consent: fc.oneof(hostileValue, fc.record({ marketing: hostileValue })) }, { requiredKeys: [] }),
        fc.constantFrom('application/json', 'text/plain;charset=UTF-8'),
        async (landing, contentType) => {
          const status = await check({ method: 'POST', path: '/collect', headers: { 'content-type': contentType }, body: JSON.stringify(landing) });
          if (typeof landing.url !== 'string' || !/^https?:\/\//.test(landing.url)) expect(status).toBeGreaterThanOrEqual(400);
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });

  it('holds in its tables and queues exactly what its 2xx answers acknowledged, and is still up', async () => {
    expect(relay.child.exitCode).toBeNull();
    expect((await fetch(`${relay.url}/health`)).status).toBe(200);
    // Accepted conversions go to the dry-run sender; wait until it has answered for each of them.
    // A sender whose platform request timed out under load retries after RELAY_RETRY_BASE_SECONDS (1 s here), so
    // the queues (dead-letter queues aside) drain within a few retries; the timeout names the queues still holding messages.
    let holding: string[] = [];
    await relay.waitFor(
      async () => {
        holding = (await readAllQueues(relay, { withMessages: false })).filter((q) => q.depth > 0 && !q.name.endsWith('-dlq')).map((q) => `${q.name}=${q.depth}`);
        return holding.length === 0;
      },
      120_000,
      'the queues to drain',
    ).catch((err: Error) => {
      throw new Error(`${err.message}; still holding: ${holding.join(', ')}`);
    });
    const tables = await scanAllTables(relay);
    const conversionIds = new Set(tables.ledger.filter((r) => r.pk.startsWith('C#')).map((r) => r.pk.slice(2)));
    expect([...conversionIds].sort()).toEqual([...tally.acceptedEventIds].sort());
    expect(tables.ledger.filter((r) => r.pk.startsWith('S#')).length).toBeLessThanOrEqual(tally.skipped);
    expect(tables.ledger.filter((r) => r.pk.startsWith('S#')).length > 0).toBe(tally.skipped > 0);
    // A conversion item is written whole by its one commit: none is in another state (a refused event left nothing).
    expect(tables.ledger.filter((r) => r.sk === 'conversion' && r.status !== 'accepted').map((r) => r.pk)).toEqual([]);
    const visitors = tables.visitors.filter((v) => v.pk.startsWith('V#')).map((v) => v.pk.slice(2));
    expect(new Set(visitors)).toEqual(tally.collected);
    // The live platforms were reached: every conversion they took was well-formed by their rules.
    for (const p of platforms.all()) expect(p.fake.events().length, `${p.platform.name} received conversions`).toBeGreaterThan(0);
    const dlqs = (await readAllQueues(relay)).filter((q) => q.name.endsWith('-dlq'));
    // A signed conversion the platform would refuse is dead-lettered with a reason; nothing else gets there.
    for (const q of dlqs) for (const m of q.messages) expect(tally.acceptedEventIds.has(m.MessageAttributes?.conversionId?.StringValue ?? '')).toBe(true);
    const failures = relay.output.filter((l) => l.includes('request failed; the sender should retry')).map((l) => {
      const error = JSON.parse(l).error ?? {};
      return `${error.name}: ${String(error.message).slice(0, 120)} at ${String(error.stack).split('\n').filter((f) => f.includes('/functions/')).slice(0, 2).join(' < ')}`;
    });
    expect([...new Set(failures)]).toEqual([]);
    console.log(`bad-input: answers by status ${JSON.stringify(Object.fromEntries(tally.answers))}; ${tally.acceptedEventIds.size} accepted, ${tally.skipped} skipped, ${tally.collected.size} visitors`);
  }, 180_000);
});
