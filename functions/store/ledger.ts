import { BatchGetCommand, BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Conversion } from '#core/conversion.ts';
import type { MatchRecord } from '#core/match-quality.ts';
import { TABLE_ENV, requireEnv } from '#core/names.ts';
import type { DeliveryResult } from '#destinations/deliver.ts';
import type { PlatformVerdict, PriorDelivery } from '#destinations/types.ts';
import { dynamo } from './clients.ts';
import { conversionOf } from './conversion-item.ts';
import { CONVERSION_SK, LEDGER_RETENTION_DAYS, conversionPk, deliverySk, destinationRows, type LedgerItem } from './ledger-items.ts';

/**
 * The ledger answers "what happened to this conversion?" (item shapes: ledger-items.ts). Ingest writes the conversion
 * item (store/ingest-store.ts); each sender writes its destination's row, `C#<eventId>` / `D#<destination>`, with the
 * status, attempts, last error, signals and match record — small (one write unit), since the conversion item holds
 * the conversion's description and the replayable Conversion.
 */
export type LedgerStatus = 'queued' | 'skipped' | 'delivered' | 'dry_run' | 'retrying' | 'dead_lettered';

export interface LedgerRow {
  pk: string;
  sk: string;
  status: LedgerStatus;
  updatedAt: string;
  [k: string]: unknown;
}

const deliveryKey = (eventId: string, destination: string) => ({ pk: conversionPk(eventId), sk: deliverySk(destination) });

export class DynamoLedger {
  constructor(private readonly table = requireEnv(TABLE_ENV.ledger)) {}

  async recordDeliveries(
    destination: string,
    outcomes: { conversion: Conversion; result: DeliveryResult; attempts: number; match?: MatchRecord; platform?: PlatformVerdict }[],
    now = new Date(),
  ): Promise<void> {
    await this.putAll(
      outcomes.map(({ conversion, result, attempts, match, platform }) => ({
        ...deliveryKey(conversion.eventId, destination),
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
        updatedAt: now.toISOString(),
        ttl: ttl(now),
      })),
    );
  }

  /**
   * What this ledger knows of some conversions at one destination (same order as `eventIds`; undefined where there is
   * none): the destination's row, else its route on the conversion item, with the conversion's description and its
   * Conversion. A refund looks up its original before it is sent; a status check reads back the conversions it
   * reports on. Strongly consistent, so a delivery recorded a moment ago is seen.
   */
  async findDeliveries(destination: string, eventIds: string[]): Promise<(PriorDelivery | undefined)[]> {
    const found = new Map<string, LedgerItem[]>();
    const unique = [...new Set(eventIds)];
    // Two keys per conversion (its item and the destination's row); BatchGetItem takes 100 keys.
    for (let i = 0; i < unique.length; i += 50) {
      let keys: Record<string, unknown>[] = unique.slice(i, i + 50).flatMap((id) => [{ pk: conversionPk(id), sk: CONVERSION_SK }, deliveryKey(id, destination)]);
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt === 5) throw new Error(`ledger: ${keys.length} keys left unprocessed after 5 attempts`);
        if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
        const res = await dynamo.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } }));
        for (const item of (res.Responses?.[this.table] ?? []) as LedgerItem[]) found.set(item.pk, [...(found.get(item.pk) ?? []), item]);
        keys = (res.UnprocessedKeys?.[this.table]?.Keys ?? []) as Record<string, unknown>[];
      }
    }
    return eventIds.map((id) => {
      const row = destinationRows(found.get(conversionPk(id)) ?? []).find((r) => r.sk === deliverySk(destination));
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

function ttl(now: Date): number {
  return Math.floor(now.getTime() / 1000) + LEDGER_RETENTION_DAYS * 86400;
}
