/**
 * End to end on the local runner (`npm start`'s entry, its own process, via test/support/relay-process.ts): signed
 * Stripe webhooks at fixed rates (autocannon), latency from "webhook accepted" (the 200 reaching the sender) to "the
 * fake platform received the event", errors, and the runner's peak RSS. First, single conversions at idle: how long a
 * lone conversion takes to reach the platform. Writes JSON to argv[2].
 */
import autocannon from 'autocannon';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { destinations } from '../../functions/registry.ts';
import { startRelay } from '../../test/support/relay-process.ts';
import { sourceBenches } from '../sources.ts';
import { platformFakes, type PlatformFake } from '../platforms.ts';
import { percentile } from '../stats.ts';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const RATES = (process.env.BENCH_RATES ?? '50,200,500').split(',').map(Number);
const DRAIN_MS = 20_000;
const out = process.argv[2];

const fakes: Record<string, PlatformFake> = {};
const fakeFailures: string[] = [];
for (const d of destinations) {
  try {
    if (platformFakes[d.name]) fakes[d.name] = await platformFakes[d.name]();
  } catch (err) {
    fakeFailures.push(`${d.name}: ${(err as Error).message.split('\n')[0]} (runs in dry-run)`);
  }
}
const settings = Object.assign({ ...sourceBenches.stripe.settings }, ...Object.values(fakes).map((f) => f.settings));
const dataDir = mkdtempSync(path.join(tmpdir(), 'relay-bench-e2e-'));
// BENCH_E2E_PROFILE=<dir>: a V8 CPU profile of the runner process (each of its threads), written when it stops.
const profileDir = process.env.BENCH_E2E_PROFILE ? path.resolve(process.env.BENCH_E2E_PROFILE) : undefined;
const relay = await startRelay(settings, dataDir, profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
const pid = relay.child.pid!;

const rssNow = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
/** CPU time (ms) the runner process used so far, all its threads (utime + stime, in clock ticks of 10 ms). */
const runnerCpuMs = () => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
const rssPeak = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
/** When each platform received each event (the first platform to get it counts for "delivered"; every platform is waited for). */
function arrivalTimes(): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const f of Object.values(fakes)) for (const a of f.arrivals()) m.set(a.eventId, [...(m.get(a.eventId) ?? []), a.at]);
  return m;
}
const platforms = Object.keys(fakes).length;

/**
 * Until every accepted event reached every platform, or nothing new arrived for 3 s (a platform may skip some
 * conversions by rule, e.g. no click ID), or the timeout.
 */
async function waitDelivered(accepted: Map<string, number>, timeoutMs: number): Promise<Map<string, number[]>> {
  const until = Date.now() + timeoutMs;
  let seen = -1;
  let quietSince = Date.now();
  for (;;) {
    const arrivals = arrivalTimes();
    const count = [...accepted.keys()].reduce((n, id) => n + (arrivals.get(id)?.length ?? 0), 0);
    if (count !== seen) [seen, quietSince] = [count, Date.now()];
    if (count >= accepted.size * platforms || Date.now() > until || (count > 0 && Date.now() - quietSince > 3000)) return arrivals;
    await new Promise((r) => setTimeout(r, 100));
  }
}

try {
  // A lone conversion at idle: the batching window must not hold it back for long.
  // Accepted → platform can be negative: the runner's poller may deliver before the 200 has travelled back.
  const idle: number[] = [];
  const idleFromSent: number[] = [];
  for (let i = 0; i < 5; i++) {
    const w = sourceBenches.stripe.request();
    const sentAt = Date.now();
    const res = await fetch(`${relay.url}${w.path}`, { method: 'POST', headers: w.headers, body: w.body });
    const acceptedAt = Date.now();
    const answer = await res.text();
    if (res.status !== 200) throw new Error(`idle webhook answered ${res.status}: ${answer}`);
    const eventId: string | undefined = JSON.parse(answer).conversions?.[0]?.eventId;
    if (!eventId) throw new Error(`idle webhook's answer names no conversion: ${answer}`);
    const arrivals = await waitDelivered(new Map([[eventId, acceptedAt]]), 15_000);
    const at = arrivals.get(eventId);
    idle.push(at ? Math.max(...at) - acceptedAt : Infinity);
    idleFromSent.push(at ? Math.max(...at) - sentAt : Infinity);
    await new Promise((r) => setTimeout(r, 300));
  }

  const steps = [];
  for (const rate of RATES) {
    const accepted = new Map<string, number>();
    const statuses: Record<string, number> = {};
    const responseMs: number[] = [];
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssNow())), 200);
    const started = Date.now();
    const cpuAtStart = runnerCpuMs();
    const benchCpuAtStart = process.cpuUsage();
    const run = autocannon({
      url: relay.url,
      // Each connection sends at most 4 webhooks a second (a 250 ms budget each), like a sender with bounded
      // concurrency: when answers slow down, fewer are accepted per second, which the step reports.
      connections: Math.max(10, Math.ceil(rate / 4)),
      overallRate: rate,
      duration: DURATION,
      timeout: 10,
      requests: [
        {
          method: 'POST',
          path: '/webhooks/stripe',
          setupRequest: (req) => {
            const w = sourceBenches.stripe.request();
            return { ...req, headers: w.headers, body: w.body };
          },
        },
      ],
      setupClient(client) {
        let body = '';
        let sentAt = Date.now();
        client.on('request', () => ((body = ''), (sentAt = Date.now())));
        client.on('body', (chunk: Buffer) => (body += chunk.toString('utf8')));
        client.on('response', (status: number) => {
          statuses[status] = (statuses[status] ?? 0) + 1;
          responseMs.push(Date.now() - sentAt);
          if (status === 200) {
            try {
              for (const c of JSON.parse(body).conversions ?? []) accepted.set(c.eventId, Date.now());
            } catch {
              // counted by status
            }
          }
          body = '';
        });
      },
    });
    const result = await run;
    const elapsed = (Date.now() - started) / 1000;
    const arrivals = await waitDelivered(accepted, DRAIN_MS);
    // CPU from the first webhook until the last arrival (or the drain gave up): what each webhook costs the runner.
    const runnerCpu = runnerCpuMs() - cpuAtStart;
    const benchCpu = process.cpuUsage(benchCpuAtStart);
    const wallSeconds = (Date.now() - started) / 1000;
    clearInterval(sampler);
    peakRss = Math.max(peakRss, rssNow());
    const latencies: number[] = [];
    let undelivered = 0;
    // Latency to the last platform that received the event; undelivered = reached none.
    for (const [id, at] of accepted) {
      const got = arrivals.get(id);
      if (!got?.length) undelivered++;
      else latencies.push(Math.max(...got) - at);
    }
    const perPlatform = Object.fromEntries(Object.entries(fakes).map(([name, f]) => [name, new Set(f.arrivals().map((a) => a.eventId).filter((id) => accepted.has(id))).size]));
    const non2xx = Object.entries(statuses).filter(([s]) => !s.startsWith('2')).reduce((n, [, c]) => n + c, 0);
    steps.push({
      rate,
      durationSeconds: DURATION,
      sent: result.requests.total,
      accepted: accepted.size,
      acceptedPerSecond: accepted.size / Math.min(elapsed, DURATION),
      statuses,
      errors: result.errors + non2xx + undelivered,
      transportErrors: result.errors,
      timeouts: result.timeouts,
      non2xx,
      undelivered,
      perPlatform,
      responseP50: percentile(responseMs, 50),
      responseP99: percentile(responseMs, 99),
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      max: latencies.length ? Math.max(...latencies) : NaN,
      peakRss,
      wallSeconds,
      runnerCpuMs: runnerCpu,
      runnerCpuMsPerAccepted: accepted.size ? runnerCpu / accepted.size : NaN,
      benchCpuMs: (benchCpu.user + benchCpu.system) / 1000,
    });
    await new Promise((r) => setTimeout(r, 1000));
  }
  writeFileSync(out, JSON.stringify({ durationSeconds: DURATION, platforms: Object.keys(fakes), idleLatencyMs: idle, idleFromSentMs: idleFromSent, fakeFailures, steps, runnerPeakRssSinceStart: rssPeak() }, null, 2));
} finally {
  await relay.stop();
  for (const f of Object.values(fakes)) await f.close();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);
