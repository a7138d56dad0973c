import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs, parseEnv } from 'node:util';
import { destinations, sources } from '../functions/registry.ts';
import { dlqDepth, findDeadLetter, peekDeadLetters, redrive, type DeadLetterView } from '../lib/ops/dlq.ts';
import { progressLine, table } from '../lib/ops/format.ts';
import { lookupStatus, replay, replayFanOut } from '../lib/ops/ledger.ts';
import { clickAge, orderKeys, parseSince, qualityReport, type DestinationQuality, type QualityReport } from '../lib/ops/quality.ts';
import { fetchRemoteVerdicts } from '../lib/ops/quality-remote.ts';
import { renderQualityHtml } from '../lib/ops/quality-html.ts';
import type { HistoryItem } from '../lib/ops/backfill.ts';
import { TABLE_ENV } from '../functions/core/names.ts';
import { OperatorError, pickDestinations, resolveTarget, type Target } from '../lib/ops/target.ts';

const HELP = `conversion-relay — operate a running relay (local or on AWS)

Usage: conversion-relay <command> [options]

Commands:
  dlq list [--destination <name>]     count dead letters and tabulate their reasons
           [--messages]               ...and list every message
  dlq show <messageId|eventId>        one dead letter: why it is there, and its Conversion
  dlq redrive [--destination <name>]  move dead letters back to their queue (SQS message move task)
  status <eventId|orderId|sourceEventId>
                                      the ledger: each destination's status, attempts, last error, signals
  replay [--destination <name>] [--status skipped,dry_run,dead_lettered] [--reason <text>] [--dry-run]
                                      send again conversions that were skipped or failed, after a fix
                                      (default --status skipped,dry_run; dead letters: prefer dlq redrive)
  replay --conversion <eventId>[,<eventId>…] [--destination <name>] [--dry-run]
                                      queue accepted conversions the fan-out could not (its failure
                                      queue, FanOutFailureQueueUrl, names them): each destination still
                                      queued with no sender row yet, from the conversion's ledger item
  replay --fan-out-failures [--dry-run]
                                      the same for everything on the fan-out's failure queue: conversions
                                      it names, and stream batches whose retries ran out (read back from
                                      the ledger stream, which keeps them 24 h); each message is deleted
                                      once its conversions are queued, the rest stays, with why
  quality [--since 7d] [--destination <name>] [--html report.html] [--offline]
                                      match quality per destination and event: share of events with each
                                      identifier, click-attach rate, median click age, score, top reasons
                                      events were skipped or weak; Google's verdict on its Data Manager
                                      requests (from the ledger); with the destination's credentials (its
                                      secret on AWS, else the environment or .env) also Meta's own Event
                                      Match Quality, a Meta-calibrated score, and Pinterest's Event Quality
                                      Score (--offline: don't ask the platforms)
  backfill stripe [--since 7d] [--until <when>] [--dry-run]
                                      send the recent past from Stripe's history (Checkout Sessions,
                                      trials, PaymentIntents, invoices, refunds, disputes of the window)
                                      through the same pipeline as the webhooks: one conversion per payment
                                      whichever came first, rerunning adds nothing, events older than a
                                      platform accepts are skipped with the reason. Needs STRIPE_API_KEY, a
                                      restricted read-only key (README "Backfill"). --dry-run: the plan per
                                      destination, nothing queued
  backfill stripe --undelivered [--since 30d]
                                      catch up webhooks Stripe failed to deliver (its events of the last
                                      30 days with delivery_success=false)
  backfill clickbank [--since 7d] [--until <when>] [--dry-run]
                                      the same from ClickBank's Orders API (sales, refunds, chargebacks of
                                      the window; rebills and test orders are skipped with the reason).
                                      Needs CLICKBANK_API_KEY with "Orders/Tickets API Read" (README
                                      "Backfill")

Where (default: the local relay if one is running, else cdk-outputs.json):
  --local [--data-dir <dir>]          the relay \`npm start\` runs (data dir: RELAY_DATA_DIR or .relay-data)
  --aws [--outputs <file>] [--stack <name>]
                                      a deployed stack, by the outputs of \`npx cdk deploy --outputs-file
                                      cdk-outputs.json\`; LEDGER_TABLE, RELAY_QUEUE_URL_<DEST>,
                                      RELAY_DLQ_URL_<DEST>, RELAY_SECRET_ARN_<DEST> and
                                      RELAY_FAN_OUT_FAILURES_URL in the environment override them. AWS credentials and region come from the usual AWS
                                      environment / profile.
  --json                              machine-readable output
  -h, --help                          this help
`;

const OPTIONS = {
  destination: { type: 'string' },
  status: { type: 'string' },
  reason: { type: 'string' },
  conversion: { type: 'string' },
  'fan-out-failures': { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  messages: { type: 'boolean' },
  since: { type: 'string' },
  until: { type: 'string' },
  undelivered: { type: 'boolean' },
  html: { type: 'string' },
  offline: { type: 'boolean' },
  local: { type: 'boolean' },
  aws: { type: 'boolean' },
  'data-dir': { type: 'string' },
  outputs: { type: 'string' },
  stack: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new OperatorError(`${(err as Error).message}\nRun \`conversion-relay --help\` for the commands and options.`);
  }
  const { values, positionals } = parsed;
  const [command, sub, arg] = positionals;
  if (values.help || !command) {
    process.stdout.write(HELP);
    return command || values.help ? 0 : 1;
  }
  const known = ['dlq list', 'dlq show', 'dlq redrive', 'status', 'replay', 'quality', 'backfill'];
  const key = command === 'dlq' ? `dlq ${sub ?? ''}` : command;
  if (!known.includes(key)) throw new OperatorError(`Unknown command "${positionals.join(' ')}". Commands: ${known.join(', ')}. See --help.`);

  if (key === 'backfill' && sub !== 'stripe' && sub !== 'clickbank') {
    throw new OperatorError(`Say which source to backfill: \`conversion-relay backfill stripe\` or \`conversion-relay backfill clickbank\`. Got "${sub ?? ''}".`);
  }
  if (key === 'backfill' && sub === 'clickbank' && values.undelivered) {
    throw new OperatorError("--undelivered reads Stripe's events with failed deliveries; ClickBank lists no such thing. `conversion-relay backfill clickbank --since 7d` reads its orders instead (a rerun adds nothing).");
  }

  const target = await resolveTarget({
    local: values.local,
    aws: values.aws,
    dataDir: values['data-dir'],
    outputs: values.outputs,
    stack: values.stack,
    cwd: process.cwd(),
    env: process.env,
    destinations: destinations.map((d) => d.name),
  });
  if (!values.json) process.stderr.write(`→ ${target.description}\n`);

  switch (key) {
    case 'dlq list':
      return dlqList(target, values);
    case 'dlq show':
      if (!arg) throw new OperatorError('Say which dead letter: `conversion-relay dlq show <messageId|eventId>` (`dlq list --messages` lists them).');
      return dlqShow(target, values, arg);
    case 'dlq redrive':
      return dlqRedrive(target, values);
    case 'status':
      if (!sub) throw new OperatorError('Say which event: `conversion-relay status <eventId|orderId|sourceEventId>`.');
      return status(target, values, sub);
    case 'quality':
      return quality(target, values);
    case 'backfill':
      return sub === 'clickbank' ? backfillClickbank(target, values) : backfillStripe(target, values);
    default:
      return replayCommand(target, values);
  }
}

const out = (text: string) => process.stdout.write(`${text}\n`);

async function dlqList(target: Target, values: Values): Promise<number> {
  const all: DeadLetterView[] = [];
  for (const d of pickDestinations(target, values.destination)) {
    const bar = progressLine(`reading ${d} dead letters`);
    const letters = await peekDeadLetters(target, d, (n, total) => !values.json && bar.update(n, total));
    if (!values.json) bar.done();
    all.push(...letters);
  }
  if (values.json) {
    out(JSON.stringify(all.map(({ body, ...rest }) => rest), null, 2));
    return 0;
  }
  out(`${all.length} dead letter${all.length === 1 ? '' : 's'}`);
  if (all.length === 0) return 0;
  const groups = new Map<string, { destination: string; code: string; message: string; count: number; first?: string; example?: string }>();
  for (const l of all) {
    const k = JSON.stringify([l.destination, l.errorCode, l.errorMessage]);
    const g = groups.get(k) ?? { destination: l.destination, code: l.errorCode, message: l.errorMessage, count: 0, first: l.firstFailureAt, example: l.conversionId };
    g.count++;
    if (l.firstFailureAt && (!g.first || l.firstFailureAt < g.first)) g.first = l.firstFailureAt;
    groups.set(k, g);
  }
  out('');
  out(table(['COUNT', 'DESTINATION', 'ERROR CODE', 'FIRST FAILURE', 'EXAMPLE EVENT', 'ERROR MESSAGE'], [...groups.values()].sort((a, b) => b.count - a.count).map((g) => [g.count, g.destination, g.code, g.first, g.example, g.message])));
  if (values.messages) {
    out('');
    out(table(['MESSAGE ID', 'DESTINATION', 'EVENT ID', 'ATTEMPTS', 'FIRST FAILURE', 'ERROR CODE'], all.map((l) => [l.messageId, l.destination, l.conversionId, l.attempts, l.firstFailureAt, l.errorCode])));
  }
  out('');
  out('Fix the cause, then `conversion-relay dlq redrive` sends them again (platforms keep one per event ID).');
  return 0;
}

async function dlqShow(target: Target, values: Values, id: string): Promise<number> {
  const found = await findDeadLetter(target, pickDestinations(target, values.destination), id);
  if (found.length === 0) {
    process.stderr.write(`No dead letter with message ID or event ID "${id}". \`conversion-relay status ${id}\` shows what the ledger knows.\n`);
    return 1;
  }
  for (const l of found) {
    let conversion: unknown = l.body;
    try {
      conversion = JSON.parse(l.body);
    } catch {
      // Not JSON: show it as it is (it is why the sender refused it).
    }
    if (values.json) {
      out(JSON.stringify({ ...l, body: conversion }, null, 2));
      continue;
    }
    out(
      table(
        ['FIELD', 'VALUE'],
        [
          ['destination', l.destination],
          ['message ID', l.messageId],
          ['event ID', l.conversionId],
          ['event name', l.eventName],
          ['error code', l.errorCode],
          ['error message', l.errorMessage],
          ['attempts', l.attempts],
          ['first failure', l.firstFailureAt],
          ['in DLQ since', l.sentAt],
        ],
      ),
    );
    out('');
    out('Conversion (hashes only):');
    out(typeof conversion === 'string' ? conversion : JSON.stringify(conversion, null, 2));
  }
  return 0;
}

async function dlqRedrive(target: Target, values: Values): Promise<number> {
  const results = [];
  for (const d of pickDestinations(target, values.destination)) {
    const before = await dlqDepth(target, d);
    if (before === 0) {
      results.push({ destination: d, moved: 0, toMove: 0, status: 'NOTHING_TO_MOVE' });
      continue;
    }
    const bar = progressLine(`redriving ${d}`);
    results.push(await redrive(target, d, (moved, total) => !values.json && bar.update(moved, total)));
    if (!values.json) bar.done();
  }
  if (values.json) {
    out(JSON.stringify(results, null, 2));
  } else {
    out(table(['DESTINATION', 'MOVED', 'OF', 'STATUS', 'FAILURE'], results.map((r) => [r.destination, r.moved, r.toMove, r.status, 'failureReason' in r ? r.failureReason : undefined])));
  }
  const failed = results.filter((r) => r.status === 'FAILED' || r.status === 'CANCELLED');
  if (failed.length) {
    process.stderr.write(`The redrive of ${failed.map((r) => r.destination).join(', ')} did not complete; see FAILURE above.\n`);
    return 1;
  }
  return 0;
}

async function status(target: Target, values: Values, id: string): Promise<number> {
  const report = await lookupStatus(target, id, sources.map((s) => s.name));
  if (values.json) {
    // The kept Conversion (JSON `conversion` or binary `c`) and dry-run requests are not for the terminal.
    out(JSON.stringify(report, (k, v) => (k === 'conversion' || k === 'request' || v instanceof Uint8Array ? undefined : v), 2));
    return report.conversions.length || report.sourceSkips.length ? 0 : 1;
  }
  if (report.conversions.length === 0 && report.sourceSkips.length === 0) {
    process.stderr.write(`Nothing in the ledger for "${id}" (looked for it as a conversion event ID, an order ID and a source event ID). A request the relay refused (4xx) leaves no ledger row; its logs say why.\n`);
    return 1;
  }
  for (const s of report.sourceSkips) {
    out(`source event ${id} (${s.source}, ${s.eventType}): skipped — ${s.reason} (at ${s.updatedAt})`);
  }
  for (const c of report.conversions) {
    const head = c.rows[0];
    out('');
    out(`conversion ${c.eventId}: ${head.eventName ?? ''}${head.orderId ? `, order ${head.orderId}` : ''}, from ${head.source ?? '?'} event ${head.sourceEventId ?? '?'}, occurred ${head.occurredAt ?? '?'}`);
    out(
      table(
        ['DESTINATION', 'STATUS', 'ATTEMPTS', 'UPDATED', 'REASON / LAST ERROR', 'SIGNALS'],
        c.rows.map((r) => [
          r.sk.slice(2),
          r.status,
          r.attempts,
          r.updatedAt,
          // The platform's own verdict on an asynchronously processed request (Data Manager API) follows the reason.
          [r.reason ?? (r.errorCode ? `${r.errorCode}: ${r.errorMessage ?? ''}` : ''), r.note, r.requestId ? `request ${r.requestId}` : '']
            .filter(Boolean)
            .join('; '),
          Array.isArray(r.signals) ? r.signals.join(',') : '',
        ]),
      ),
    );
  }
  return 0;
}

async function replayCommand(target: Target, values: Values): Promise<number> {
  if (values['fan-out-failures']) return replayFanOutFailuresCommand(target, values);
  const conversions = (values.conversion ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (conversions.length && (values.status || values.reason)) throw new OperatorError('--conversion replays what the fan-out did not queue; it takes no --status or --reason.');
  const statuses = conversions.length ? ['queued'] : (values.status ?? 'skipped,dry_run').split(',').map((s) => s.trim()).filter(Boolean);
  const bar = progressLine(values['dry-run'] ? 'checking' : 'replaying');
  const common = { destinations: pickDestinations(target, values.destination), dryRun: values['dry-run'], progress: (done: number, found: number) => !values.json && bar.update(done, found) };
  const result = conversions.length ? await replayFanOut(target, conversions, common) : await replay(target, { ...common, statuses, reasonContains: values.reason });
  if (!values.json) bar.done();
  if (values.json) {
    out(JSON.stringify({ ...result, rows: result.rows.map((r) => ({ eventId: r.pk.slice(2), destination: r.sk.slice(2), status: r.status, reason: r.reason ?? r.errorCode })) }, null, 2));
    return 0;
  }
  out(`${result.found} conversion${result.found === 1 ? '' : 's'} with status ${statuses.join(' or ')}${values.reason ? ` and a reason containing "${values.reason}"` : ''}`);
  if (result.rows.length) {
    out(table(['EVENT ID', 'DESTINATION', 'STATUS', 'REASON / ERROR'], result.rows.slice(0, 50).map((r) => [r.pk.slice(2), r.sk.slice(2), r.status, r.reason ?? (r.errorCode ? `${r.errorCode}: ${r.errorMessage}` : '')])));
    if (result.rows.length > 50) out(`… and ${result.rows.length - 50} more`);
  }
  if (values['dry-run']) out('Dry run: nothing was sent. Run again without --dry-run to replay them.');
  else out(`replayed ${result.replayed}${Object.keys(result.byDestination).length ? ` (${Object.entries(result.byDestination).map(([d, n]) => `${d}: ${n}`).join(', ')})` : ''}`);
  if (result.notReplayable) out(`${result.notReplayable} could not be replayed: their ledger rows hold no Conversion (recorded before replay was possible).`);
  if (statuses.includes('dead_lettered') && !values['dry-run']) out('Note: dead letters replayed this way are still in the DLQ; purge it rather than redrive it, or the platform receives them twice (and keeps one).');
  return 0;
}

async function replayFanOutFailuresCommand(target: Target, values: Values): Promise<number> {
  // A message is deleted once its conversions are queued: for every destination, or the others would be lost.
  if (values.conversion || values.status || values.reason || values.destination) throw new OperatorError('--fan-out-failures replays what the failure queue names, for every destination; it takes no --conversion, --status, --reason or --destination.');
  const { replayFanOutFailures } = await import('../lib/ops/fan-out-failures.ts');
  const dryRun = Boolean(values['dry-run']);
  const bar = progressLine(dryRun ? 'checking the fan-out failure queue' : 'replaying the fan-out failure queue');
  const s = await replayFanOutFailures(target, { dryRun, progress: (done, total) => !values.json && bar.update(done, total) });
  if (!values.json) bar.done();
  if (values.json) {
    out(JSON.stringify(s, null, 2));
    return s.left.length ? 1 : 0;
  }
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  out(`${plural(s.messagesRead, 'message')} read from the fan-out failure queue${dryRun ? ' (dry run: nothing queued, nothing deleted)' : ''}`);
  out(`${plural(s.conversionsFound, 'conversion')} named: ${s.conversionsRequeued} ${dryRun ? 'to re-queue' : 're-queued'}${Object.keys(s.byDestination).length ? ` (${Object.entries(s.byDestination).map(([d, n]) => `${d}: ${n}`).join(', ')})` : ''}, ${s.alreadyDelivered} already delivered or on their way (no destination left to queue)`);
  if (!dryRun) out(`${plural(s.messagesDeleted, 'message')} deleted, ${s.left.length} left in the queue`);
  if (s.left.length) {
    // Not a table: the reasons and what to do are sentences, longer than a column.
    out('');
    out('Left in the queue:');
    for (const l of s.left) out(`  ${l.messageId} (${l.kind}): ${l.reason}${l.suggestion ? `\n    what to do: ${l.suggestion}` : ''}`);
  }
  if (dryRun && s.messagesRead) out('Dry run: run again without --dry-run to queue them.');
  if (!dryRun && s.conversionsRequeued) out('Re-queued conversions are sent by the running relay; `conversion-relay status <eventId>` follows one.');
  return s.left.length ? 1 : 0;
}

async function quality(target: Target, values: Values): Promise<number> {
  const since = parseSince(values.since);
  const destinationNames = pickDestinations(target, values.destination);
  // Asked first: Meta's per-key uplift figures calibrate the score of the events the scan finds.
  const remote = values.offline ? {} : await fetchRemoteVerdicts(target, destinationNames, since, operatorSettings(), (w) => process.stderr.write(`warning: ${w}\n`));
  // A long scan shows how far it got, on a terminal only (piped output and --json stay clean).
  const tty = process.stderr.isTTY && !values.json;
  const report: QualityReport = await qualityReport(target, { destinations: destinationNames, since, remote, progress: (n) => tty && process.stderr.write(`\rscanning the ledger: ${n} rows`) });
  if (tty) process.stderr.write('\n');
  if (values.html) {
    writeFileSync(values.html, renderQualityHtml(report));
    if (!values.json) process.stderr.write(`wrote ${values.html}\n`);
  }
  if (values.json) {
    out(JSON.stringify(report, null, 2));
    return 0;
  }
  out(`Match quality since ${report.since}`);
  for (const d of report.destinations) {
    out('');
    out(`${d.destination}: ${d.delivered} delivered, ${d.dryRun} dry-run, ${d.skipped} skipped, ${d.failed} failed${d.unscored ? `, ${d.unscored} without a match record` : ''}`);
    if (d.total.events === 0) {
      out('  no scored events in this period');
    } else {
      const keys = orderKeys(d.byEvent.flatMap((r) => Object.keys(r.keys)));
      const rows = [...d.byEvent, d.byEvent.length > 1 ? { ...d.total, eventName: 'ALL' } : undefined].filter((r) => r !== undefined);
      out(
        table(
          ['EVENT', 'EVENTS', 'SCORE', 'P10', 'CLICK%', 'CLICK AGE', ...keys.map((k) => `${k}%`)],
          rows.map((r) => [r.eventName, r.events, r.score.toFixed(1), r.p10Score.toFixed(1), r.clickRate, clickAge(r.medianClickAgeHours), ...keys.map((k) => r.keys[k] ?? 0)]),
        ),
      );
    }
    const reasons = [...d.weakReasons.map((w) => [w.count, `${w.share}%`, w.reason]), ...d.skipReasons.map((s) => [s.count, '', `skipped: ${s.reason}`])].slice(0, 8);
    if (reasons.length) out(table(['COUNT', 'SHARE', 'TOP REASONS SKIPPED OR WEAK'], reasons as (string | number)[][]));
    printRemote(d);
  }
  return 0;
}

/** The platforms' own verdicts, beside the relay's table. */
function printRemote(d: DestinationQuality) {
  if (d.requests) {
    out(`Google's verdict on its requests (Data Manager requestStatus, read back by the relay):`);
    const rows = [...d.requests.byEvent, ...(d.requests.byEvent.length > 1 ? [d.requests.total] : [])];
    out(table(['EVENT', 'REQUESTS', 'EVENTS', 'PENDING', 'SUCCEEDED', 'PARTIAL', 'FAILED', 'UNCONFIRMED'], rows.map((r) => [r.eventName === 'all' ? 'ALL' : r.eventName, r.requests, r.events, r.pending, r.succeeded, r.partial, r.failed, r.unconfirmed])));
    if (d.requests.failureReasons.length) out(table(['RECORDS', "GOOGLE'S FAILURE REASON"], d.requests.failureReasons.slice(0, 8).map((r) => [r.count, r.reason])));
  }
  const remote = d.remote;
  if (!remote) return;
  if (!remote.ok) {
    out(`${remote.platform}: ${remote.message}`);
  } else if ('events' in remote) {
    out(`${remote.platform} (Meta's own score, web events, its recent window; CALIBRATED: the relay's score with Meta's uplift figures as weights):`);
    out(
      table(
        ['EVENT', 'META EMQ', 'RELAY SCORE', 'CALIBRATED', 'KEY COVERAGE (UPLIFT)', 'DIAGNOSTICS'],
        remote.events.map((e) => {
          const ours = d.byEvent.find((r) => r.eventName === e.eventName);
          return [
            e.eventName,
            e.compositeScore,
            ours?.score.toFixed(1),
            ours?.calibratedScore?.toFixed(1),
            e.matchKeys.map((k) => `${k.identifier} ${k.coverage ?? '?'}%${k.upliftPercent !== undefined ? ` (+${k.upliftPercent}%)` : ''}`).join(', '),
            e.diagnostics.map((g) => g.name).join('; '),
          ];
        }),
      ),
    );
  } else {
    if (remote.scores.length === 0) out(`${remote.platform}: no events rated in this window`);
    for (const s of remote.scores) {
      out(`${remote.platform} (${[s.sourcePlatform, s.ingestionSource, s.lookbackPeriod].filter(Boolean).join(', ')}): ${s.overallStatus ?? 'no rating'}`);
      const parameters = [...new Set(s.components.map((c) => c.parameter))];
      const types = [...new Set(s.components.map((c) => c.eventType))];
      const cell = (p: string, t: string) => s.components.find((c) => c.parameter === p && c.eventType === t);
      out(
        table(
          ['EVENT TYPE', ...parameters.map((p) => `${p}%`), 'ISSUES'],
          types.map((t) => [t, ...parameters.map((p) => cell(p, t)?.coverage), s.components.filter((c) => c.eventType === t).flatMap((c) => c.issues.map((i) => `${c.parameter}: ${i.name}`)).join('; ')]),
        ),
      );
    }
  }
}

async function backfillStripe(target: Target, values: Values): Promise<number> {
  // Loaded here, not at start: the other commands need neither the stripe package nor the pipeline.
  const { parseWindow } = await import('../lib/ops/backfill.ts');
  const { STRIPE_EVENTS_WINDOW_MS, STRIPE_KEY_PERMISSIONS, stripeForBackfill, stripeHistory, undeliveredEvents } = await import('../lib/ops/stripe-history.ts');
  const { asWebhookEvent } = await import('../functions/sources/stripe/history.ts');
  const { readStripeEvent } = await import('../functions/sources/stripe/index.ts');
  const settings = operatorSettings();
  const now = new Date();
  const { gte, lte } = parseWindow(values.since, values.until, now, values.undelivered ? '30d' : '7d');
  // Stripe keeps events for 30 days: an older --since would only look complete.
  const window = values.undelivered ? { gte: Math.max(gte, Math.ceil((now.getTime() - STRIPE_EVENTS_WINDOW_MS) / 1000)), lte } : { gte, lte };
  const pipeline = await backfillPipeline(target);
  const stripe = stripeForBackfill({ settings, onRateLimited: rateLimitNotice('Stripe rate limit (429)', values) });
  // Each Stripe object is wrapped as the webhook event it was (or would have been) and read as a webhook is; missed
  // events are read as they are.
  async function* objectHistory(): AsyncGenerator<HistoryItem> {
    for await (const { kind, object } of stripeHistory(stripe, window, now)) {
      const wrapped = asWebhookEvent(object);
      yield 'skip' in wrapped ? { kind, skip: wrapped.skip } : { kind, read: () => readStripeEvent(wrapped.event, settings) };
    }
  }
  async function* undeliveredHistory(): AsyncGenerator<HistoryItem> {
    for await (const event of undeliveredEvents(stripe, window)) yield { kind: 'undelivered events', read: () => readStripeEvent(event, settings) };
  }
  return runBackfill(target, values, pipeline, {
    source: 'stripe',
    mode: values.undelivered ? 'undelivered' : 'history',
    title: `Stripe ${values.undelivered ? 'events with failed deliveries' : 'history'}`,
    window,
    settings,
    history: explainStripeErrors(values.undelivered ? undeliveredHistory() : objectHistory(), STRIPE_KEY_PERMISSIONS),
  });
}

async function backfillClickbank(target: Target, values: Values): Promise<number> {
  const { parseWindow } = await import('../lib/ops/backfill.ts');
  const { clickbankForBackfill, clickbankHistory } = await import('../lib/ops/clickbank-history.ts');
  const { asNotification, readOrderGroup } = await import('../functions/sources/clickbank/history.ts');
  const settings = operatorSettings();
  const window = parseWindow(values.since, values.until, new Date());
  const pipeline = await backfillPipeline(target);
  const api = clickbankForBackfill({ settings, onRateLimited: rateLimitNotice('ClickBank rate limit', values) });
  // Each order (its rows of one receipt and type) is wrapped as the INS notification it was and read as one is.
  async function* orderHistory(): AsyncGenerator<HistoryItem> {
    for await (const { kind, group } of clickbankHistory(api, window)) {
      const wrapped = asNotification(group);
      yield 'skip' in wrapped ? { kind, skip: wrapped.skip } : { kind, read: () => readOrderGroup(wrapped.notification, settings) };
    }
  }
  return runBackfill(target, values, pipeline, { source: 'clickbank', mode: 'history', title: 'ClickBank orders', window, settings, history: orderHistory() });
}

/** The ingest pipeline a backfill feeds, with the tables and queues of the target's functions. */
async function backfillPipeline(target: Target) {
  // The pipeline commits each conversion to the ledger, whose stream fans it out: the two tables are all it needs.
  const missing = [TABLE_ENV.visitors, TABLE_ENV.ledger].filter((t) => !target.functionEnvironment[t]);
  if (missing.length) {
    throw new OperatorError(`The backfill feeds the ingest pipeline, which needs ${missing.join(' and ')}: redeploy (the stack outputs VisitorsTableName and LedgerTableName) or set them in the environment.`);
  }
  // The pipeline's own stores read their tables and queues from the environment, as in a Lambda: set it, then load them.
  Object.assign(process.env, target.functionEnvironment);
  const { createIngestPorts, ingestOptions, planOnlyPorts } = await import('../functions/handlers/ingest-ports.ts');
  return { ports: createIngestPorts(), ingestOptions, planOnlyPorts };
}

/** A retried rate-limit answer, on stderr (after the progress line, on a terminal). */
function rateLimitNotice(what: string, values: Values) {
  const tty = process.stderr.isTTY && !values.json;
  return (endpoint: string, attempt: number, waitMs: number) => {
    if (!values.json) process.stderr.write(`${tty ? '\n' : ''}${what} on ${endpoint}: retry ${attempt} in ${(waitMs / 1000).toFixed(1)} s\n`);
  };
}

interface BackfillRun {
  source: string;
  mode: string;
  /** What was read, for the summary's first line ("Stripe history", "ClickBank orders"). */
  title: string;
  window: { gte: number; lte: number };
  settings: Record<string, string | undefined>;
  history: AsyncIterable<HistoryItem>;
}

/** Any source's backfill: its history fed through the pipeline with a progress line, then the end summary (or JSON). */
async function runBackfill(target: Target, values: Values, pipeline: Awaited<ReturnType<typeof backfillPipeline>>, run: BackfillRun): Promise<number> {
  const { backfill, ledgerKnows } = await import('../lib/ops/backfill.ts');
  const tty = process.stderr.isTTY && !values.json;
  const dryRun = Boolean(values['dry-run']);
  let last = 0;
  const summary = await backfill(run.history, {
    source: run.source,
    ports: dryRun ? pipeline.planOnlyPorts(pipeline.ports) : pipeline.ports,
    options: (at) => pipeline.ingestOptions(run.settings, { ageCheckedAt: at }),
    known: ledgerKnows(target),
    dryRun,
    progress: (s, kind) => {
      if (values.json) return;
      const read = Object.values(s.read).reduce((a, b) => a + b, 0);
      const text = `backfill: ${read} read (${kind}), ${s.found} conversions, ${s.alreadySent} already sent, ${s.queued} ${dryRun ? 'to queue' : 'queued'}`;
      if (tty) process.stderr.write(`\r${text}`);
      else if (read - last >= 100) {
        last = read;
        process.stderr.write(`${text}\n`);
      }
    },
  });
  if (tty) process.stderr.write('\n');
  const since = new Date(run.window.gte * 1000).toISOString();
  const until = new Date(run.window.lte * 1000).toISOString();
  if (values.json) {
    out(JSON.stringify({ source: run.source, mode: run.mode, since, until, ...summary }, null, 2));
    return 0;
  }
  out(`${run.title} ${since} → ${until}${dryRun ? ' (dry run: nothing queued)' : ''}`);
  out(`read: ${Object.entries(summary.read).map(([k, n]) => `${n} ${k}`).join(', ') || 'nothing'}`);
  out(`found ${summary.found} conversion${summary.found === 1 ? '' : 's'}: ${summary.alreadySent} already sent, ${summary.queued} ${dryRun ? 'would be queued' : 'queued'}, ${summary.skippedEverywhere} skipped by every destination`);
  const notConversions = Object.entries(summary.notConversions);
  if (notConversions.length) out(`not conversions: ${notConversions.map(([r, n]) => `${n} × ${r}`).join('; ')}`);
  const refused = Object.entries(summary.refused);
  if (refused.length) out(`refused by the pipeline: ${refused.map(([r, n]) => `${n} × ${r}`).join('; ')}`);
  const plans = Object.entries(summary.destinations);
  if (plans.length) {
    out('');
    out(table(['DESTINATION', dryRun ? 'WOULD QUEUE' : 'QUEUED', 'SKIPPED', 'SKIPPED BECAUSE'], plans.map(([d, p]) => [d, p.queued, Object.values(p.skipped).reduce((a, e) => a + e.count, 0), Object.values(p.skipped).map((e) => `${e.count} × ${e.example}`).join('; ')])));
  }
  if (summary.queued && !dryRun) {
    out('');
    out('Queued conversions are sent by the running relay; `conversion-relay status <eventId>` follows one. Late events lower');
    out("Meta's data-freshness rating for a while; that is expected after a backfill.");
  }
  if (dryRun && summary.queued) out('Dry run: nothing was queued. Run again without --dry-run to send them.');
  return 0;
}

/** Stripe's refusals in words the operator can act on (a key without a permission, a revoked key). */
async function* explainStripeErrors<T>(items: AsyncIterable<T>, permissions: string): AsyncGenerator<T> {
  try {
    yield* items;
  } catch (err) {
    const e = err as { type?: string; message?: string };
    // Stripe documents a missing permission of a restricted key as an invalid-request error; it comes as a 403.
    if (e.type === 'StripePermissionError' || /does not have the required permissions/.test(e.message ?? '')) throw new OperatorError(`Stripe refused the key: ${e.message} Give the restricted key Read on ${permissions} (README "Backfill").`);
    if (e.type === 'StripeAuthenticationError') throw new OperatorError(`Stripe does not accept STRIPE_API_KEY: ${e.message}`);
    if (e.type === 'StripeRateLimitError') throw new OperatorError(`Stripe kept answering 429 (rate limited) after every retry: ${e.message} Lower STRIPE_BACKFILL_RATE and run again; what was queued stays queued.`);
    throw err;
  }
}

/** Platform credentials for the remote verdicts: the environment, then `.env` in the working directory (as `npm start` reads it). */
function operatorSettings(): Record<string, string | undefined> {
  const file = path.resolve(process.cwd(), '.env');
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  return { ...fromFile, ...process.env };
}

/** The whole CLI: runs a command and turns what went wrong into words and an exit code (0 ok, 1 not found/failed, 2 error). */
export async function run(argv: string[]): Promise<number> {
  try {
    return await main(argv);
  } catch (err) {
    const e = err as Error & { code?: string };
    if (err instanceof OperatorError) process.stderr.write(`error: ${e.message}\n`);
    else if (e.name === 'CredentialsProviderError') process.stderr.write('error: no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or use --local).\n');
    else if (e.name === 'ResourceNotFoundException') process.stderr.write(`error: the ledger table does not exist here (${e.message}); check --stack/--outputs and the region.\n`);
    else if (e.name === 'QueueDoesNotExist') process.stderr.write('error: a queue named in the stack outputs does not exist; check --stack/--outputs and the region.\n');
    else if (e.code === 'ECONNREFUSED' || /ECONNREFUSED/.test(e.message)) process.stderr.write('error: the relay stopped answering while the command ran; start it again and retry.\n');
    else process.stderr.write(`error: ${e.name}: ${e.message}\n`);
    return 2;
  }
}
