import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metaError, startMetaFake, type MetaFake } from '../fakes/meta-server.ts';
import { cli as runCli } from '../support/cli.ts';
import { startConversionApiPlatforms, type StartedPlatforms } from '../support/platforms.ts';
import { startRelay, type RelayProcess } from '../support/relay-process.ts';

const cli = async (args: string[], dataDir: string) => {
  const r = await runCli(args, dataDir);
  return r.stdout + r.stderr;
};
import { driverEnv, driverSecrets, forged, purchaseEventId, send, sourceDrivers, startDriverFakes, type Customer } from '../support/source-requests.ts';
import { readAllQueues, readableItem, scanAllTables } from '../support/storage.ts';
import { itemsByConversion } from '../../functions/store/batch-records.ts';
import { destinationRows, type LedgerItem } from '../../functions/store/ledger-items.ts';
import { conversionOf, routesOf } from '../../functions/store/conversion-item.ts';

/**
 * A stored item as its readers see it: the ledger's binary Conversion (`c`) and routes (`r`) decoded, so that the
 * audit searches what they hold, not their compressed bytes (where a raw value would hide).
 */
/**
 * The promise "no raw personal data is kept anywhere", checked the way an auditor would: run the flows with known
 * customers (every source with a test driver, every destination path: delivered, retried, dead-lettered, skipped,
 * dry-run, rejected), then search everything the relay wrote or sent — every DynamoDB item, every queue and DLQ
 * message (and the queue journal on disk, which holds every message ever enqueued), every log line, every request
 * to the platforms (Meta and every platform of test/support/platforms.ts), the operator CLI's output — for each raw value in any case and with or without its formatting.
 * The configured secrets must not appear in any of it either (the platform's own request excepted: it carries the
 * token by design).
 */
const PIXEL_ID = '1234567890123';
const META_TOKEN = 'EAAB-pii-audit-meta-token-5f1c0e';

interface Person extends Customer {
  /** Values that must never appear, beyond the obvious forms derived below. */
  extra: string[];
}

// Names and places without short all-hex words (a name like "Ada" would match inside any SHA-256 hex digest).
const PEOPLE: Person[] = [
  {
    email: 'Augusta.Lovelace+Relay@Example.COM',
    phone: '+44 20 7946 0958',
    name: 'Augusta Lovelace',
    address: { line1: '12 Analytical Engine Road', line2: 'Flat 3', city: 'London', state: 'Greater London', postal_code: 'SW1A 1AA', country: 'GB' },
    extra: ['augusta', 'lovelace', 'analytical engine', 'sw1a1aa', 'sw1a 1aa', 'greater london', 'greaterlondon'],
  },
  {
    email: 'GRACE.HOPPER@Navy.Example.org',
    phone: '(202) 555-0143',
    name: 'Grace Brewster Hopper',
    address: { line1: '1 Compiler Court', line2: null, city: 'Arlington', state: 'VA', postal_code: '22201-1234', country: 'US' },
    extra: ['grace', 'brewster', 'hopper', 'compiler court', 'arlington', '22201-1234', '222011234'],
  },
  {
    email: 'jose.mueller@beispiel.example.de',
    phone: '+49 30 901820 77',
    name: 'José Müller-Øberg',
    address: { line1: 'Straße des 17. Juni 135', line2: null, city: 'Berlin-Charlottenburg', state: 'Berlin', postal_code: '10623', country: 'DE' },
    extra: ['josé', 'jose', 'müller', 'mueller', 'øberg', 'straße des 17', 'charlottenburg'],
  },
  {
    email: 'kwame.nkrumah.pii@example.net',
    phone: '415.555.0199',
    name: 'Kwame Nkrumah',
    address: { line1: '77 Sutter Street Suite 400', line2: null, city: 'San Francisco', state: 'California', postal_code: '94104', country: 'US' },
    extra: ['kwame', 'nkrumah', 'sutter street', 'san francisco', 'sanfrancisco'],
  },
];

/** Every form a raw value could take once someone lower-cases, trims or strips its formatting. */
function forbiddenForms(p: Person): string[] {
  const forms = new Set<string>(p.extra.map((v) => v.toLowerCase()));
  const email = p.email!.toLowerCase();
  forms.add(email);
  forms.add(email.split('@')[0]); // the local part alone
  forms.add(email.replace(/\+[^@]*/, '')); // without the +tag
  // Reddit's form: +tag dropped and every non-alphanumeric removed from the local part.
  forms.add(`${email.split('@')[0].split('+')[0].replace(/[^a-z0-9]/g, '')}@${email.split('@')[1]}`);
  forms.add(encodeURIComponent(email).toLowerCase()); // as a URL parameter
  const digits = p.phone!.replace(/\D/g, '');
  forms.add(p.phone!.toLowerCase());
  forms.add(digits);
  // The national number without the country code (what a form would hold), when long enough to be unambiguous.
  for (const cc of ['1', '44', '49']) if (digits.startsWith(cc) && digits.length - cc.length >= 9) forms.add(digits.slice(cc.length));
  forms.add(p.name!.toLowerCase());
  forms.add(p.name!.toLowerCase().replace(/[^\p{L}]/gu, ''));
  forms.add(p.address!.line1!.toLowerCase());
  forms.add(p.address!.line1!.toLowerCase().replace(/[^\p{L}\p{N}]/gu, ''));
  return [...forms].filter((f) => f.length >= 5);
}

/** Where each finding was: a description of the place, and the text searched. */
type Haystack = { where: string; text: string };

function findings(haystacks: Haystack[], needles: string[]): string[] {
  const out: string[] = [];
  for (const h of haystacks) {
    const text = h.text.toLowerCase();
    // Also search the text with JSON/URL escapes undone, so "jos\u00e9" or "%40" cannot hide a value.
    let decoded = text;
    try {
      decoded = decodeURIComponent(text.replace(/\\u([0-9a-f]{4})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16))));
    } catch {
      decoded = text.replace(/\\u([0-9a-f]{4})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
    }
    for (const n of needles) {
      if (text.includes(n) || decoded.includes(n)) out.push(`${h.where}: contains "${n}"`);
    }
  }
  return out;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe('PII audit: no raw personal data or secret anywhere the relay writes', () => {
  let meta: MetaFake;
  let platforms: StartedPlatforms;
  let relay: RelayProcess;
  let dataDir: string;
  let stopFakes: (() => Promise<void>) | undefined;
  const logs: string[] = [];
  const cliOutput: string[] = [];
  const run = Date.now();
  const drivers = Object.entries(sourceDrivers);

  const ledgerStatus = async (id: string) => (await relay.ledgerFor(id)).find((r) => r.sk === 'D#meta')?.status;

  beforeAll(async () => {
    meta = await startMetaFake({ pixelId: PIXEL_ID, accessToken: META_TOKEN });
    platforms = await startConversionApiPlatforms();
    dataDir = mkdtempSync(path.join(tmpdir(), 'relay-pii-'));
    // HubSpot's contacts (with these people's raw details) are read from its CRM API fake.
    stopFakes = await startDriverFakes();
    const env = { ...driverEnv(), ...platforms.env, META_PIXEL_ID: PIXEL_ID, META_ACCESS_TOKEN: META_TOKEN, META_API_BASE_URL: meta.baseUrl, RELAY_RETRY_BASE_SECONDS: '1', RELAY_MAX_ATTEMPTS: '6' };
    relay = await startRelay(env, dataDir);

    // Every source at once (the Meta fake's failure rules are per event; its one-off 503s hit whichever comes next).
    await Promise.all(drivers.map(async ([name, driver]) => {
      const [delivered, deadLettered, retried, skipped] = PEOPLE;
      const order = (what: string) => `cs_pii_${name}_${what}_${run}`;
      // The event ID the platform sees for that order (HubSpot derives it from its deal).
      const id = (what: string) => purchaseEventId(driver, order(what));

      // A visitor lands (with an e-mail leaked into the landing URL by a careless form), then buys.
      const landing = await fetch(`${relay.url}/collect`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0 pii-audit', cookie: platforms.cookieHeader() },
        body: JSON.stringify({
          url: `https://shop.example.com/landing?fbclid=IwAR-pii-audit&${platforms.clickQuery((param) => `${param.replace(/_/g, '')}-pii-audit`)}&utm_source=facebook&email=${encodeURIComponent(delivered.email!)}&phone=${encodeURIComponent(delivered.phone!)}`,
          referrer: `https://mail.example.com/inbox?to=${encodeURIComponent(delivered.email!)}`,
        }),
      });
      expect(landing.status).toBe(200);
      const { visitorId } = (await landing.json()) as { visitorId: string };
      expect((await send(relay.url, driver.purchase({ id: order('delivered'), customer: delivered, visitorId }))).status).toBe(200);
      // The same purchase again: a duplicate.
      expect((await send(relay.url, driver.purchase({ id: order('delivered'), customer: delivered, visitorId }))).status).toBe(200);

      // Meta refuses one permanently: it goes to the DLQ with its Conversion.
      meta.failWhen((e) => e.event_id === id('dead'), { status: 400, body: metaError(100, 'Invalid parameter', { subcode: 2804019 }) });
      expect((await send(relay.url, driver.purchase({ id: order('dead'), customer: deadLettered }))).status).toBe(200);

      // One fails transiently first, then goes through.
      meta.failNext(1, { status: 503 });
      expect((await send(relay.url, driver.purchase({ id: order('retried'), customer: retried }))).status).toBe(200);

      // A visitor who refused marketing: skipped for Meta.
      const refused = await fetch(`${relay.url}/collect`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: 'https://shop.example.com/', consent: { marketing: 'denied' } }),
      });
      const refusedId = ((await refused.json()) as { visitorId: string }).visitorId;
      expect((await send(relay.url, driver.purchase({ id: order('skipped'), customer: skipped, visitorId: refusedId }))).status).toBe(200);

      // A forged request full of personal data: refused, and its body must not be echoed into a log.
      const forgery = await send(relay.url, forged(driver, driver.purchase({ id: order('forged'), customer: delivered })));
      expect(forgery.status).toBeGreaterThanOrEqual(400);
      expect(forgery.status).toBeLessThan(500);

      await relay.waitFor(async () => (await ledgerStatus(id('delivered'))) === 'delivered', 20_000, 'delivered');
      await relay.waitFor(async () => (await ledgerStatus(id('dead'))) === 'dead_lettered', 20_000, 'dead-lettered');
      await relay.waitFor(async () => (await ledgerStatus(id('retried'))) === 'delivered', 20_000, 'retried then delivered');
      // The other platforms settle too (a source without customer details may be unmatchable there: skipped).
      const settled = new Set(['delivered', 'skipped', 'dead_lettered']);
      await relay.waitFor(async () => {
        const rows = await relay.ledgerFor(id('delivered'));
        return platforms.all().every((p) => settled.has(rows.find((r) => r.sk === `D#${p.platform.name}`)?.status));
      }, 30_000, 'the other platforms to settle');
      cliOutput.push(await cli(['status', id('delivered')], dataDir), await cli(['dlq', 'show', id('dead')], dataDir));
    }));
    cliOutput.push(await cli(['dlq', 'list', '--messages'], dataDir));

    // Restarted without Meta credentials: dry-run records the exact request it would send in the ledger.
    logs.push(...relay.output);
    await relay.stop();
    relay = await startRelay({ ...driverEnv(), META_API_BASE_URL: meta.baseUrl }, dataDir);
    await Promise.all(drivers.map(async ([name, driver]) => {
      const order = `cs_pii_${name}_dry_${run}`;
      const id = purchaseEventId(driver, order);
      expect((await send(relay.url, driver.purchase({ id: order, customer: PEOPLE[1] }))).status).toBe(200);
      await relay.waitFor(async () => (await ledgerStatus(id)) === 'dry_run', 20_000, 'dry-run');
      cliOutput.push(await cli(['status', id], dataDir));
    }));
    // The match-quality report in every form, from the same ledger (its HTML file audited with the rest below).
    const quality = (...extra: string[]) => cli(['quality', '--since', '1h', '--offline', ...extra], dataDir);
    cliOutput.push(...(await Promise.all([quality(), quality('--json'), quality('--html', path.join(dataDir, 'quality.html'))])));
    cliOutput.push(readFileSync(path.join(dataDir, 'quality.html'), 'utf8'));
    // Two relay runs, four sources, eight destinations and a dozen CLI calls: minutes on a loaded machine.
  }, 360_000);
  afterAll(async () => {
    await relay?.stop();
    await meta?.close();
    await platforms?.close();
    await stopFakes?.();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Everything the relay wrote or sent, as searchable text. */
  async function everything(): Promise<{ stored: Haystack[]; logs: Haystack[]; platform: Haystack[]; cli: Haystack[] }> {
    const stored: Haystack[] = [];
    for (const [table, items] of Object.entries(await scanAllTables(relay))) {
      // Batch records decoded: their compressed rows are searched like any other text.
      for (const item of items) stored.push({ where: `table ${table} item ${item.pk ?? item.id}`, text: JSON.stringify(readableItem(item)) });
    }
    for (const q of await readAllQueues(relay)) {
      for (const m of q.messages) stored.push({ where: `queue ${q.name} message ${m.MessageId}`, text: JSON.stringify([m.Body, m.MessageAttributes]) });
    }
    // The queue journal and the ledger stream's journal are plain JSON lines: every message enqueued, every conversion
    // item committed, since their last compaction.
    for (const file of filesUnder(dataDir)) {
      if (file.endsWith('.journal') || file.endsWith('.jsonl') || file.endsWith('.json')) stored.push({ where: `file ${path.relative(dataDir, file)}`, text: readFileSync(file, 'utf8') });
    }
    return {
      stored,
      logs: [...logs, ...relay.output].map((l, i) => ({ where: `log line ${i}`, text: l })),
      platform: [
        ...meta.requests.map((r, i) => ({ where: `request ${i} to Meta`, text: JSON.stringify({ query: r.query, body: { ...r.body, access_token: undefined } }) })),
        // Each platform's URL without its query (Snapchat's token travels there) and body; headers carry only the token.
        ...platforms.all().flatMap((p) => p.fake.requests().map((r, i) => ({ where: `request ${i} to ${p.platform.name}`, text: JSON.stringify({ path: r.url.pathname, body: r.body }) }))),
      ],
      cli: cliOutput.map((o, i) => ({ where: `CLI output ${i}`, text: o })),
    };
  }

  it('ran every path: delivered, retried, dead-lettered, skipped, dry-run, rejected', async () => {
    // Each destination's state as the ledger's readers see it (a skip at ingest is a route on the conversion item).
    const ledger = (await scanAllTables(relay)).ledger as LedgerItem[];
    const statuses = new Set([
      ...[...itemsByConversion(ledger).values()].flatMap((items) => destinationRows(items).map((r) => r.status)),
      ...ledger.filter((r) => r.pk.startsWith('S#')).map((r) => r.status),
    ]);
    for (const s of ['delivered', 'dead_lettered', 'skipped', 'dry_run']) expect(statuses).toContain(s);
    expect(meta.requests.some((r) => r.status === 503)).toBe(true);
    expect((await relay.dlqMessages('meta')).length).toBeGreaterThan(0);
    // The audit searches something: each source carrying customer details got these people's hashed e-mail,
    // phone, name and place to Meta (so their raw forms went through the relay).
    for (const [name, driver] of drivers.filter(([, d]) => d.carriesCustomer !== false)) {
      const event = meta.events().find((e) => e.event_id === purchaseEventId(driver, `cs_pii_${name}_delivered_${run}`));
      for (const field of ['em', 'ph', 'fn', 'ln', 'ct', 'zp', 'country']) expect(event?.user_data?.[field], `${name}: ${field}`).toHaveLength(1);
      // And to every other platform, each with a hashed e-mail.
      for (const p of platforms.all()) {
        const there = p.fake.events().find((e) => p.eventId(e) === purchaseEventId(driver, `cs_pii_${name}_delivered_${run}`));
        expect(p.email(there), `${name} at ${p.platform.name}`).toMatch(/^[0-9a-f]{64}$/);
      }
    }
  });

  it('keeps no raw e-mail, phone, name or address in any table, queue, DLQ, journal, log line, platform request or CLI output', async () => {
    const all = await everything();
    const haystacks = [...all.stored, ...all.logs, ...all.platform, ...all.cli];
    expect(haystacks.length).toBeGreaterThan(50);
    const needles = PEOPLE.flatMap(forbiddenForms);
    expect(findings(haystacks, needles)).toEqual([]);
  });

  it('writes no configured secret or token into any table, queue, log line or CLI output', async () => {
    const all = await everything();
    const secrets = [...driverSecrets(), META_TOKEN, ...platforms.secrets].map((s) => s.toLowerCase());
    expect(findings([...all.stored, ...all.logs, ...all.cli], secrets)).toEqual([]);
  });

  it('keeps every personal field of the ledger’s Conversions hashed (read through their binary form)', async () => {
    const kept = (await scanAllTables(relay)).ledger.filter((item) => item.c !== undefined || item.conversion !== undefined);
    // The conversion items of this run are all in the compact form, and each decodes.
    expect(kept.filter((item) => item.c instanceof Uint8Array).length).toBeGreaterThanOrEqual(drivers.length * 4);
    const clear = new Set(['countryCode', 'ip', 'userAgent']);
    let hashed = 0;
    for (const item of kept) {
      const user = conversionOf(item)!.user;
      for (const [field, value] of Object.entries(user)) {
        if (clear.has(field)) continue;
        expect(value, `${item.pk} user.${field}`).toMatch(/^[0-9a-f]{64}$/);
        hashed++;
      }
    }
    // E-mail, phone, name and address of the people above, for every source that carries them.
    expect(hashed).toBeGreaterThan(drivers.filter(([, d]) => d.carriesCustomer !== false).length * 4 * 8);
  });

  it('keeps only key names in the match records: no hash, IP, user agent or click ID', async () => {
    // Every delivered and dry-run row: the senders' own and those in batch records.
    const rows = [...itemsByConversion((await scanAllTables(relay)).ledger as LedgerItem[]).values()]
      .flatMap((items) => items)
      .filter((r) => r.status === 'delivered' || r.status === 'dry_run');
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.m, `${row.pk} ${row.sk}`).toBeDefined();
      const text = JSON.stringify(row.m);
      expect(text, `${row.pk}`).not.toMatch(/[0-9a-f]{64}|pii-audit|fb\.\d\.|\d+\.\d+\.\d+\.\d+/);
      expect(row.m.k).toMatch(/^[A-Za-z_~ ]*$/);
    }
  });

  it('stores IP and user agent only where documented: the visitor, and the Conversion travelling to the platform', async () => {
    const tables = await scanAllTables(relay);
    const places = new Set<string>();
    for (const [table, items] of Object.entries(tables)) {
      for (const item of items) {
        const text = JSON.stringify(readableItem(item));
        if (text.includes('pii-audit')) places.add(`${table}:${String(item.pk ?? item.id).split('#')[0]}`);
      }
    }
    // Visitors (V#) and the replayable Conversion on not-yet-delivered ledger rows (C#); in batch records (B#) only
    // the dry-run's request, which carries them as the platform would get them; nowhere else.
    for (const p of places) expect(['visitors:V', 'ledger:C', 'ledger:B']).toContain(p);
    for (const item of tables.ledger.filter((i) => String(i.pk).startsWith('B#'))) {
      for (const { request, ...rest } of readableItem(item).d) {
        expect(JSON.stringify(rest), `${item.pk} ${rest.eventId}`).not.toContain('pii-audit');
        if (request !== undefined) expect(rest.status, `${item.pk} ${rest.eventId}`).toBe('dry_run');
      }
    }
  });
});
