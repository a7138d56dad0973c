import type { MetaFake } from '../fakes/meta-server.ts';
import type { RelayProcess } from '../support/relay-process.ts';
import { send, type SourceRequest } from '../support/source-requests.ts';
import { readAllQueues, scanAllTables } from '../support/storage.ts';
import { itemsByConversion } from '../../functions/store/batch-records.ts';
import { destinationRows, type LedgerItem } from '../../functions/store/ledger-items.ts';
import { conversionOf } from '../../functions/store/conversion-item.ts';

/** The Conversion a row keeps for replay (its conversion item's), or undefined where none is kept or it is unreadable. */
function keptConversion(row: Record<string, any> | undefined) {
  try {
    return conversionOf(row);
  } catch {
    return undefined;
  }
}

/**
 * Every conversion's meta state, by event ID (paginated: a single Scan stops at 1 MB, a few thousand rows): the
 * sender's newest row (its own, or its entry in a batch record), else the route ingest recorded on the conversion item.
 */
export async function metaRows(relay: RelayProcess): Promise<Map<string, Record<string, any>>> {
  const byPk = itemsByConversion(((await scanAllTables(relay)).ledger ?? []) as LedgerItem[]);
  const rows = new Map<string, Record<string, any>>();
  for (const [pk, items] of byPk) {
    const meta = destinationRows(items).find((r) => r.sk === 'D#meta');
    if (meta) rows.set(pk.slice(2), meta);
  }
  return rows;
}

/**
 * The fault suite's bookkeeping: what the "sources" were told (each 2xx is a promise the relay made), and, once the
 * relay has settled, where each promised conversion ended — delivered at the platform, skipped with a reason, or
 * in the DLQ with a reason — with nothing lost and nothing counted twice by the platform.
 */
export interface Promises {
  /** Event IDs of conversions the relay acknowledged (accepted or duplicate). */
  conversions: Set<string>;
  /** Source events acknowledged as skipped, by reason. */
  sourceSkips: Map<string, number>;
  /** Webhook deliveries made (including the source's own retries and the deliberate duplicates). */
  deliveries: number;
}

export const newPromises = (): Promises => ({ conversions: new Set(), sourceSkips: new Map(), deliveries: 0 });

/**
 * Delivers one webhook the way Stripe and the other sources do: on a network error or a 5xx it tries again (with a
 * freshly signed copy), until a 2xx or a 4xx. `make` builds the request anew for each try. A runner killed in the
 * middle of an ingest has written nothing for that event unless it committed it (then the retry is a duplicate).
 */
export async function deliverWebhook(relayUrl: () => string, make: () => SourceRequest, promises: Promises, { forMs = 90_000, pauseMs = 200 } = {}): Promise<number> {
  const until = Date.now() + forMs;
  for (;;) {
    promises.deliveries++;
    let status = 0;
    let body: any;
    try {
      const res = await send(relayUrl(), make());
      status = res.status;
      body = await res.json().catch(() => undefined);
    } catch {
      status = 0; // connection refused / reset: the relay is down
    }
    if (status >= 200 && status < 300) {
      if (body?.status === 'skipped') promises.sourceSkips.set(body.reason, (promises.sourceSkips.get(body.reason) ?? 0) + 1);
      else for (const c of body?.conversions ?? []) promises.conversions.add(c.eventId);
      return status;
    }
    if (status >= 400 && status < 500) return status;
    if (Date.now() > until) throw new Error(`webhook still failing after ${forMs / 1000} s (last status ${status})`);
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}

/** Runs `tasks` with at most `width` in flight. */
export async function pool<T>(items: T[], width: number, task: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await task(items[next++]);
    }),
  );
}

const TERMINAL = new Set(['delivered', 'skipped', 'dead_lettered', 'dry_run']);

export interface Reconciliation {
  scenario: string;
  webhooks: number;
  accepted: number;
  delivered: number;
  skipped: Map<string, number>;
  dlq: Map<string, number>;
  lost: string[];
  /** Orders the platform counts more than once (after its own de-duplication by event ID). */
  duplicated: number;
  /** Deliveries the platform received again and de-duplicated (a sender's retry after an accepted request). */
  redeliveredDeduplicated: number;
  platformRequests: number;
}

/** Waits until every promised conversion reached a final state and the destination queue is empty. */
export async function settle(relay: RelayProcess, promises: Promises, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  // A full scan per look: look once a second, not ten times.
  for (;;) {
    if ((await relay.queueDepth('meta')) === 0) {
      const rows = await metaRows(relay);
      const final = new Set([...rows].filter(([, r]) => TERMINAL.has(r.status)).map(([id]) => id));
      const pending = [...promises.conversions].filter((id) => !final.has(id));
      if (pending.length === 0) return;
      if (Date.now() > until) throw new Error(`${pending.length} accepted conversions not final after ${timeoutMs / 1000} s, e.g. ${pending.slice(0, 3).join(', ')}\n${relay.output.slice(-20).join('\n')}`);
    } else if (Date.now() > until) {
      throw new Error(`the meta queue still holds ${await relay.queueDepth('meta')} messages after ${timeoutMs / 1000} s\n${relay.output.slice(-20).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function reconcile(scenario: string, relay: RelayProcess, meta: MetaFake, promises: Promises, requestsBefore = 0): Promise<Reconciliation> {
  const rows = await metaRows(relay);
  const atPlatform = meta.uniqueEvents();
  const platformIds = new Set(atPlatform.map((e) => e.event_id));
  const counts = meta.acceptCounts();
  const dlq = await allDeadLetters(relay);
  const dlqIds = new Map(dlq.map((m) => [m.attributes.conversionId, m.attributes.errorCode]));

  const result: Reconciliation = {
    scenario,
    webhooks: promises.deliveries,
    accepted: promises.conversions.size + [...promises.sourceSkips.values()].reduce((a, b) => a + b, 0),
    delivered: 0,
    skipped: new Map(promises.sourceSkips),
    dlq: new Map(),
    lost: [],
    duplicated: 0,
    redeliveredDeduplicated: 0,
    platformRequests: meta.requests.length - requestsBefore,
  };
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  for (const id of promises.conversions) {
    const row = rows.get(id);
    // Whatever the outcome, the ledger keeps the Conversion itself (what `replay` would send again), readable.
    if (row && keptConversion(row)?.eventId !== id) result.lost.push(`${id} (ledger: ${row.status}, but its Conversion is not kept or not readable)`);
    else if (row?.status === 'delivered' && platformIds.has(id)) result.delivered++;
    else if (row?.status === 'skipped' || row?.status === 'dry_run') bump(result.skipped, row.reason ?? row.status);
    else if (dlqIds.has(id)) bump(result.dlq, dlqIds.get(id)!);
    else result.lost.push(`${id} (ledger: ${row?.status ?? 'none'})`);
  }
  // Per order: how many distinct events the platform kept. More than one means a redelivery got a new event ID.
  const perOrder = new Map<string, Set<string>>();
  for (const e of atPlatform) {
    if (!promises.conversions.has(e.event_id) && !promises.conversions.has(e.custom_data?.order_id)) continue;
    const order = e.custom_data?.order_id ?? e.event_id;
    perOrder.set(order, (perOrder.get(order) ?? new Set()).add(e.event_id));
  }
  for (const ids of perOrder.values()) result.duplicated += ids.size - 1;
  for (const [key, n] of counts) {
    const eventId = JSON.parse(key)[2];
    if (promises.conversions.has(eventId)) result.redeliveredDeduplicated += n - 1;
  }
  return result;
}

async function allDeadLetters(relay: RelayProcess) {
  const q = (await readAllQueues(relay)).find((x) => x.name === 'meta-dlq');
  return (q?.messages ?? []).map((m) => ({
    attributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? ''])),
  }));
}

const fmt = (m: Map<string, number>) => (m.size ? [...m].map(([k, v]) => `${v} × ${k.length > 60 ? `${k.slice(0, 57)}…` : k}`).join('; ') : '0');

/** The reconciliation table the fault suite prints. */
export function reconciliationTable(results: Reconciliation[]): string {
  const headers = ['scenario', 'webhooks', 'accepted', 'delivered', 'skipped (by reason)', 'in DLQ (by reason)', 'lost', 'duplicated at platform', 'deduplicated redeliveries', 'platform requests'];
  const rows = results.map((r) => [r.scenario, r.webhooks, r.accepted, r.delivered, fmt(r.skipped), fmt(r.dlq), r.lost.length, r.duplicated, r.redeliveredDeduplicated, r.platformRequests].map(String));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
