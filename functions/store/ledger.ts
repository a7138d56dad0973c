import { randomUUID } from 'node:crypto';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Conversion } from '#core/conversion.ts';
import type { MatchRecord } from '#core/match-quality.ts';
import { TABLE_ENV, requireEnv } from '#core/names.ts';
import type { DeliveryResult } from '#destinations/deliver.ts';
import type { PlatformVerdict, PriorDelivery } from '#destinations/types.ts';
import { batchRecordItems, type BatchEntry } from './batch-records.ts';
import { dynamo } from './document-client.ts';
import { conversionOf } from './conversion-item.ts';
import { LEDGER_RETENTION_DAYS, conversionPk, deliverySk, destinationRows } from './ledger-items.ts';
import { readConversions } from './ledger-reader.ts';

/**
 * The ledger answers "what happened to this conversion?" (item shapes: ledger-items.ts, batch-records.ts). Ingest
 * writes the conversion item (store/ingest-store.ts); each sender records its outcomes — status, attempts, last error,
 * signals and match record: the delivered and dry-run ones of a batch in a few batch records (`B#<destination>#<hour>`,
 * a write unit holds many conversions), the rest (retrying, dead-lettered, skipped) as one row each,
 * `C#<eventId>` / `D#<destination>`: rare, and looked up per conversion.
 */
export type LedgerStatus = 'queued' | 'skipped' | 'delivered' | 'dry_run' | 'retrying' | 'dead_lettered';

export interface LedgerRow {
  pk: string;
  sk: string;
  status: LedgerStatus;
  updatedAt: string;
  [k: string]: unknown;
}

export interface DeliveryOutcome {
  conversion: Conversion;
  result: DeliveryResult;
  attempts: number;
  match?: MatchRecord;
  platform?: PlatformVerdict;
}

/** Outcomes recorded in batch records; the others get a `D#` row of their own. */
const IN_BATCH_RECORDS: ReadonlySet<LedgerStatus> = new Set(['delivered', 'dry_run']);

export class DynamoLedger {
  constructor(private readonly table = requireEnv(TABLE_ENV.ledger)) {}

  /**
   * Records a batch's outcomes at one destination. A later outcome of the same conversion (a retry that went
   * through, the platform's verdict from a status check) is recorded the same way and, being newer, wins.
   */
  async recordDeliveries(destination: string, outcomes: DeliveryOutcome[], now = new Date()): Promise<void> {
    const updatedAt = now.toISOString();
    const expires = ttl(now);
    const own: Record<string, unknown>[] = [];
    const batched: { occurredAt: string; entry: BatchEntry }[] = [];
    for (const outcome of outcomes) {
      const entry = deliveryEntry(outcome);
      if (IN_BATCH_RECORDS.has(entry.status as LedgerStatus)) batched.push({ occurredAt: outcome.conversion.occurredAt, entry });
      else {
        const { eventId, ...row } = entry;
        own.push({ pk: conversionPk(eventId), sk: deliverySk(destination), ...row, updatedAt, ttl: expires });
      }
    }
    await this.putAll([...own, ...batchRecordItems(destination, batched, now, randomUUID().slice(0, 8), expires)]);
  }

  /**
   * What this ledger knows of some conversions at one destination (same order as `eventIds`; undefined where there is
   * none): the destination's newest row (its `D#` row or batch record), else its route on the conversion item, with
   * the conversion's description and its Conversion. A refund looks up its original before it is sent; a status
   * check reads back the conversions it reports on. Strongly consistent, so a delivery recorded a moment ago is seen.
   */
  async findDeliveries(destination: string, eventIds: string[]): Promise<(PriorDelivery | undefined)[]> {
    const found = await readConversions(dynamo, this.table, eventIds, { destinations: [destination], consistent: true });
    return eventIds.map((id) => {
      const row = destinationRows(found.get(id) ?? []).find((r) => r.sk === deliverySk(destination));
      if (!row) return undefined;
      const str = (k: string) => (typeof row[k] === 'string' ? (row[k] as string) : undefined);
      return {
        eventId: id,
        status: row.status as PriorDelivery['status'],
        eventName: str('eventName'),
        orderId: str('orderId'),
        occurredAt: str('occurredAt'),
        reason: str('reason') ?? str('errorMessage'),
        conversion: conversionOf(row),
        attempts: typeof row.attempts === 'number' ? row.attempts : undefined,
        requestId: str('requestId'),
      };
    });
  }

  /** BatchWriteItem in chunks of 25, retrying what DynamoDB leaves unprocessed. */
  private async putAll(items: Record<string, unknown>[]): Promise<void> {
    for (let i = 0; i < items.length; i += 25) {
      let requests = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt === 5) throw new Error(`ledger: ${requests.length} rows left unprocessed after 5 attempts`);
        if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
        const res = await dynamo.send(new BatchWriteCommand({ RequestItems: { [this.table]: requests } }));
        requests = (res.UnprocessedItems?.[this.table] ?? []) as typeof requests;
      }
    }
  }
}

const LEDGER_STATUS: Record<DeliveryResult['status'], LedgerStatus> = {
  delivered: 'delivered',
  dry_run: 'dry_run',
  skipped: 'skipped',
  retry: 'retrying',
  failed: 'dead_lettered',
};

/** One outcome as the ledger keeps it (a `D#` row's attributes, or an entry of a batch record). */
function deliveryEntry({ conversion, result, attempts, match, platform }: DeliveryOutcome): BatchEntry {
  return {
    eventId: conversion.eventId,
    status: LEDGER_STATUS[result.status],
    // The match-quality report groups by event name without reading the conversion items.
    eventName: conversion.eventName,
    attempts,
    reason: result.status === 'skipped' || result.status === 'dry_run' ? result.reason : undefined,
    errorCode: 'error' in result ? result.error.code : undefined,
    errorMessage: 'error' in result ? result.error.message : undefined,
    signals: 'signals' in result ? result.signals : undefined,
    // The platform's ID of the request (Data Manager API: what its requestStatus:retrieve reports on), and what
    // else the destination says about this delivery (e.g. a refund it could only restate, not retract).
    requestId: result.status === 'delivered' ? result.requestId : platform?.requestId,
    note: result.status === 'delivered' ? result.note : undefined,
    // The platform's own verdict on that request (pending until the follow-up reads it): `quality` tallies it.
    platformStatus: platform?.status ?? (result.status === 'delivered' && result.awaitingStatus ? 'pending' : undefined),
    platformReasons: platform?.reasons?.length ? platform.reasons : undefined,
    // Dry-run keeps the exact request that would have been sent, so a new user can see it.
    request: result.status === 'dry_run' ? JSON.stringify(result.request) : undefined,
    // Match quality of a delivered or dry-run event (key names only; see core/match-quality.ts): `quality` reads it.
    m: match,
  };
}

function ttl(now: Date): number {
  return Math.floor(now.getTime() / 1000) + LEDGER_RETENTION_DAYS * 86400;
}
