import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metaError, startMetaFake, type MetaFake } from '../fakes/meta-server.ts';
import { cli } from '../support/cli.ts';
import { startRelay, type RelayProcess } from '../support/relay-process.ts';
import { driverEnv, purchaseEventId, send, sourceDrivers, startDriverFakes } from '../support/source-requests.ts';

/**
 * The operator CLI (`npx conversion-relay …`, i.e. bin/conversion-relay.mjs) as an operator runs it, against the
 * real local runner: first without Meta credentials (dry-run), then restarted with them, where `replay` sends what
 * was only recorded; then a permanently rejected conversion goes through `dlq list` / `dlq show` / `dlq redrive`.
 */
const PIXEL_ID = '1234567890123';
const META_TOKEN = 'EAAB-cli-test-token';
const stripe = sourceDrivers.stripe;

describe('conversion-relay CLI against the local runner', () => {
  let meta: MetaFake;
  let relay: RelayProcess;
  let dataDir: string;
  let stopFakes: (() => Promise<void>) | undefined;
  const run = Date.now();
  const dryIds = [`cs_cli_dry_a_${run}`, `cs_cli_dry_b_${run}`];
  const badId = `cs_cli_bad_${run}`;

  const liveEnv = () => ({ ...driverEnv(), META_PIXEL_ID: PIXEL_ID, META_ACCESS_TOKEN: META_TOKEN, META_API_BASE_URL: meta.baseUrl, RELAY_RETRY_BASE_SECONDS: '1', RELAY_MAX_ATTEMPTS: '3' });
  const ledgerStatus = async (id: string) => (await relay.ledgerFor(id)).find((r) => r.sk === 'D#meta')?.status;

  beforeAll(async () => {
    meta = await startMetaFake({ pixelId: PIXEL_ID, accessToken: META_TOKEN });
    dataDir = mkdtempSync(path.join(tmpdir(), 'relay-cli-'));
    stopFakes = await startDriverFakes();
    relay = await startRelay({ ...driverEnv(), META_API_BASE_URL: meta.baseUrl }, dataDir); // no credentials: dry-run
  });
  afterAll(async () => {
    await relay?.stop();
    await meta?.close();
    await stopFakes?.();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints its help through npx-style invocation', async () => {
    const res = await cli(['--help'], dataDir);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/dlq list/);
    expect(res.stdout).toMatch(/dlq redrive/);
    expect(res.stdout).toMatch(/status <eventId\|orderId/);
    expect(res.stdout).toMatch(/replay/);
  });

  it('shows a dry-run conversion in `status`, by event ID and by the source event ID', async () => {
    for (const id of dryIds) expect((await send(relay.url, stripe.purchase({ id }))).status).toBe(200);
    for (const id of dryIds) await relay.waitFor(async () => (await ledgerStatus(id)) === 'dry_run', 15_000, `dry_run for ${id}`);

    const byEvent = await cli(['status', dryIds[0]], dataDir);
    expect(byEvent.code).toBe(0);
    expect(byEvent.stdout).toContain(`conversion ${dryIds[0]}`);
    expect(byEvent.stdout).toMatch(/meta\s+dry_run\s+1\s+\S+\s+dry-run: meta has no credentials/);

    const bySourceEvent = await cli(['status', `evt_${dryIds[1]}`], dataDir);
    expect(bySourceEvent.code).toBe(0);
    expect(bySourceEvent.stdout).toContain(`conversion ${dryIds[1]}`);

    // For scripts: each destination's row with the conversion's description, without the kept Conversion itself.
    const json = await cli(['status', dryIds[0], '--json'], dataDir);
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.stdout).conversions[0].rows;
    expect(rows.find((r: { sk: string }) => r.sk === 'D#meta')).toMatchObject({ status: 'dry_run', orderId: dryIds[0], sourceEventId: `evt_${dryIds[0]}` });
    for (const row of rows) expect(Object.keys(row)).not.toContain('c');
  });

  it('answers an unknown ID, an unknown destination and a wrong command in words, with a non-zero exit', async () => {
    const unknown = await cli(['status', 'cs_never_seen'], dataDir);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/Nothing in the ledger for "cs_never_seen"/);

    const badDest = await cli(['dlq', 'list', '--destination', 'myspace'], dataDir);
    expect(badDest.code).toBe(2);
    expect(badDest.stderr).toMatch(/Unknown destination "myspace": this relay has .*meta/);

    const badCommand = await cli(['dlq', 'purge'], dataDir);
    expect(badCommand.code).toBe(2);
    expect(badCommand.stderr).toMatch(/Unknown command "dlq purge"/);

    const nowhere = await cli(['dlq', 'list', '--local'], path.join(dataDir, 'not-a-relay'));
    expect(nowhere.code).toBe(2);
    expect(nowhere.stderr).toMatch(/No local relay is running with its data in .*not-a-relay: start it with `npm start`/);
    expect(nowhere.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('replays dry-run conversions after the credentials are configured: each reaches Meta once', async () => {
    await relay.stop();
    relay = await startRelay(liveEnv(), dataDir);

    const preview = await cli(['replay', '--dry-run', '--destination', 'meta'], dataDir);
    expect(preview.code).toBe(0);
    expect(preview.stdout).toMatch(/2 conversions with status skipped or dry_run/);
    expect(preview.stdout).toMatch(/Dry run: nothing was sent/);
    expect(meta.requests).toHaveLength(0);

    const res = await cli(['replay', '--destination', 'meta'], dataDir);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/replayed 2 \(meta: 2\)/);
    for (const id of dryIds) await relay.waitFor(async () => (await ledgerStatus(id)) === 'delivered', 15_000, `delivered ${id}`);
    for (const id of dryIds) expect(meta.events().filter((e) => e.event_id === id)).toHaveLength(1);

    // Nothing is left to replay: a second run finds none and sends nothing.
    const requestsBefore = meta.requests.length;
    const again = await cli(['replay', '--destination', 'meta'], dataDir);
    expect(again.stdout).toMatch(/0 conversions/);
    await new Promise((r) => setTimeout(r, 500));
    expect(meta.requests).toHaveLength(requestsBefore);
  });

  it('lists, shows and redrives a dead letter; the redrive delivers it once', async () => {
    meta.failWhen((e) => e.event_id === badId, { status: 400, body: metaError(100, 'Invalid parameter', { subcode: 2804019, userMsg: 'The parameter $[data][0][custom_data][value] is invalid.' }) });
    expect((await send(relay.url, stripe.purchase({ id: badId }))).status).toBe(200);
    await relay.waitFor(async () => (await ledgerStatus(badId)) === 'dead_lettered', 15_000, 'the dead letter');

    const list = await cli(['dlq', 'list', '--messages', '--destination', 'meta'], dataDir);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^1 dead letter$/m);
    expect(list.stdout).toMatch(/1\s+meta\s+100\/2804019\s+\S+\s+cs_cli_bad_\d+\s+The parameter/);
    // Listing leaves the message where it was.
    expect(await relay.dlqMessages('meta')).toHaveLength(1);

    const show = await cli(['dlq', 'show', badId], dataDir);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/error code\s+100\/2804019/);
    expect(show.stdout).toMatch(/attempts\s+1/);
    expect(show.stdout).toMatch(/first failure\s+\d{4}-\d\d-\d\dT/);
    expect(show.stdout).toContain(`"eventId": "${badId}"`);

    const status = await cli(['status', badId], dataDir);
    expect(status.stdout).toMatch(/meta\s+dead_lettered\s+1\s+\S+\s+100\/2804019: The parameter/);

    meta.reset(); // the cause is fixed
    const redrive = await cli(['dlq', 'redrive', '--destination', 'meta'], dataDir);
    expect(redrive.code).toBe(0);
    expect(redrive.stdout).toMatch(/meta\s+1\s+1\s+COMPLETED/);
    await relay.waitFor(async () => (await ledgerStatus(badId)) === 'delivered', 15_000, 'delivery after the redrive');
    expect(meta.events().filter((e) => e.event_id === badId)).toHaveLength(1);
    expect(await relay.dlqMessages('meta')).toHaveLength(0);
    const empty = await cli(['dlq', 'list', '--destination', 'meta'], dataDir);
    expect(empty.stdout).toMatch(/^0 dead letters$/m);
  });

  it('finds every source’s delivered purchase in `status` by its event ID', async () => {
    const ids = Object.entries(sourceDrivers).map(([name, driver]) => {
      const order = `cs_cli_${name}_${run}`;
      return { name, driver, order, id: purchaseEventId(driver, order) };
    });
    for (const { driver, order } of ids) expect((await send(relay.url, driver.purchase({ id: order }))).status).toBe(200);
    for (const { id } of ids) await relay.waitFor(async () => (await ledgerStatus(id)) === 'delivered', 15_000, `delivered ${id}`);
    const answers = await Promise.all(ids.map(({ id }) => cli(['status', id], dataDir)));
    ids.forEach(({ name, id }, i) => {
      expect(answers[i].code, `${name}: ${answers[i].stderr}`).toBe(0);
      expect(answers[i].stdout).toContain(`conversion ${id}`);
      expect(answers[i].stdout).toMatch(/meta\s+delivered\s+1\s/);
    });
  });
  it('replays, with --conversion, an accepted conversion the fan-out never queued (from its ledger item): Meta gets it once', async () => {
    // The stream is not read (as after the fan-out's retries ran out): the webhook is committed, nothing queued.
    await relay.stop();
    relay = await startRelay({ ...liveEnv(), RELAY_FAN_OUT_DISABLED: 'true' }, dataDir);
    const id = `cs_cli_fanout_${run}`;
    expect((await send(relay.url, stripe.purchase({ id }))).status).toBe(200);
    expect(await ledgerStatus(id)).toBe('queued');
    expect(await relay.queueDepth('meta')).toBe(0);

    const preview = await cli(['replay', '--conversion', id, '--destination', 'meta', '--dry-run'], dataDir);
    expect(preview.stdout).toMatch(/1 conversion with status queued/);
    const res = await cli(['replay', '--conversion', id, '--destination', 'meta'], dataDir);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/replayed 1 \(meta: 1\)/);
    await relay.waitFor(async () => (await ledgerStatus(id)) === 'delivered', 15_000, `delivered ${id}`);
    expect(meta.events().filter((e) => e.event_id === id)).toHaveLength(1);

    const unknown = await cli(['replay', '--conversion', 'cs_never_seen'], dataDir);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/No conversion cs_never_seen in the ledger/);
  });
});
