import { BatchGetCommand, BatchWriteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Conversion } from '#core/conversion.ts';
import type { MatchRecord } from '#core/match-quality.ts';
import type { Route } from '#core/ingest.ts';
import { TABLE_ENV, requireEnv } from '#core/names.ts';
import type { DeliveryResult } from '#destinations/deliver.ts';
import type { PlatformVerdict, PriorDelivery } from '#destinations/types.ts';
import { dynamo } from './clients.ts';

/**
 * The ledger answers "what happened to this conversion?": one row per conversion × destination
 * (`C#<eventId>` / `D#<destination>`) with its status, attempts, last error and the signals sent, and one row per
 * source event that was deliberately not a conversion (`S#<source>#<eventId>` / `source`). Rows not (yet)
 * delivered also keep the Conversion (`conversion`, JSON) for replay.
 */
export type LedgerStatus = 'queued' | 'skipped' | 'delivered' | 'dry_run' | 'retrying' | 'dead_lettered';

export interface LedgerRow {
  pk: string;
  sk: string;
  status: LedgerStatus;
  updatedAt: string;
  [k: string]: unknown;
}

const RETENTION_DAYS = 400;
const conversionKey = (eventId: string, destination: string) => ({ pk: `C#${eventId}`, sk: `D#${destination}` });

export class DynamoLedger {
  constructor(private readonly table = requireEnv(TABLE_ENV.ledger)) {}

  async recordRoutes(conversion: Conversion, routes: Route[], now = new Date()): Promise<void> {
    await this.putAll(
      routes.map((r) => ({
        ...conversionKey(conversion.eventId, r.destination),
        status: r.status,
        reason: r.status === 'skipped' ? r.reason : undefined,
        ...describe(conversion),
        conversion: replayable(conversion),
        attempts: 0,
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
        ttl: ttl(now),
      })),
    );
  }

  async recordSkip(source: string, sourceEventId: string, eventType: string, reason: string, now = new Date()): Promise<void> {
    await dynamo.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: `S#${source}#${sourceEventId}`, sk: 'source', status: 'skipped', reason, source, eventType, updatedAt: now.toISOString(), ttl: ttl(now) },
      }),
    );
  }

  async recordDeliveries(
    destination: string,
    outcomes: { conversion: Conversion; result: DeliveryResult; attempts: number; match?: MatchRecord; platform?: PlatformVerdict }[],
    now = new Date(),
  ): Promise<void> {
    await this.putAll(
      outcomes.map(({ conversion, result, attempts, match, platform }) => ({
        ...conversionKey(conversion.eventId, destination),
        status: LEDGER_STATUS[result.status],
        ...describe(conversion),
        // Kept while the platform's final verdict is pending: a refusal then goes to the DLQ with the Conversion.
        conversion: result.status === 'delivered' && !result.awaitingStatus ? undefined : replayable(conversion),
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
   * no row): a refund looks up its original before it is sent. Strongly consistent, so a delivery recorded a moment
   * ago is seen.
   */
  async findDeliveries(destination: string, eventIds: string[]): Promise<(PriorDelivery | undefined)[]> {
    const found = new Map<string, Record<string, unknown>>();
    const unique = [...new Set(eventIds)];
    for (let i = 0; i < unique.length; i += 100) {
      let keys: Record<string, unknown>[] = unique.slice(i, i + 100).map((id) => conversionKey(id, destination));
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt === 5) throw new Error(`ledger: ${keys.length} keys left unprocessed after 5 attempts`);
        if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
        const res = await dynamo.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } }));
        for (const item of res.Responses?.[this.table] ?? []) found.set(String(item.pk), item);
        keys = (res.UnprocessedKeys?.[this.table]?.Keys ?? []) as Record<string, unknown>[];
      }
    }
    return eventIds.map((id) => {
      const row = found.get(`C#${id}`);
      if (!row) return undefined;
      const str = (k: string) => (typeof row[k] === 'string' ? (row[k] as string) : undefined);
      return {
        eventId: id,
        status: row.status as PriorDelivery['status'],
        eventName: str('eventName'),
        orderId: str('orderId'),
        occurredAt: str('occurredAt'),
        reason: str('reason') ?? str('errorMessage'),
        conversion: str('conversion'),
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

function describe(c: Conversion) {
  return {
    eventName: c.eventName,
    orderId: c.orderId,
    occurredAt: c.occurredAt,
    source: c.source.name,
    sourceEventId: c.source.eventId,
    // A refund or chargeback row points at the conversion it corrects.
    adjustment: c.adjustment?.kind,
    originalOrderId: c.adjustment?.originalOrderId,
    originalEventId: c.adjustment?.originalEventId,
  };
}

/**
 * The Conversion itself (hashes, IP and user agent only, as on the queues) is kept on a row until it is delivered,
 * so that `conversion-relay replay` can send it again after a configuration fix; a delivered row drops it.
 */
function replayable(c: Conversion): string {
  return JSON.stringify(c);
}

function ttl(now: Date): number {
  return Math.floor(now.getTime() / 1000) + RETENTION_DAYS * 86400;
}
