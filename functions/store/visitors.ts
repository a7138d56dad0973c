import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { CLICK_KEYS } from '#core/conversion.ts';
import { TABLE_ENV, requireEnv } from '#core/names.ts';
import { mergeClicks, type Visitor, type VisitorLookup } from '#core/visitor.ts';
import { dynamo } from './document-client.ts';
import { findVisitor } from './visitor-lookup.ts';
import { emailKey, live, phoneKey, toVisitor, ttlFrom, visitorKey } from './visitor-items.ts';

/**
 * The visitors table: `V#<visitorId>` holds a visitor's click IDs (one attribute per click key, the newest per
 * platform), every ad click with its capture time, IP and user agent (`clickHistory`), browser signals and consent;
 * `E#<sha256 email>` and `P#<sha256 phone>` point a hashed e-mail / phone at the visitor it was seen with.
 * Everything expires 90 days after it was last written; a link still in use is rewritten once under 30 days remain.
 */

/** What one page view reports: a visitor's fields but its ID, click history and timestamps (the store keeps those). */
export type VisitUpdate = Omit<Visitor, 'visitorId' | 'clickHistory' | 'firstSeenAt' | 'lastSeenAt'>;

/** Concurrent page views of one visitor are rare; a handful of optimistic retries settles them. */
const MAX_WRITE_ATTEMPTS = 4;

export class DynamoVisitorStore implements VisitorLookup {
  constructor(private readonly table = requireEnv(TABLE_ENV.visitors)) {}

  /**
   * Read, merge (mergeClicks), write back under an optimistic lock on `rev`, so two page views at once never lose
   * a click. A refusal is stored as the visitor's consent but erases nothing: pages often report a `denied` default
   * a moment before the visitor's stored choice, and a conversion is sent only under the consent current when it
   * arrives, so clicks kept from an earlier grant are never sent while the refusal stands.
   */
  async recordVisit(visitorId: string, visit: VisitUpdate, nowMs: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const stored = (await dynamo.send(new GetCommand({ TableName: this.table, Key: visitorKey(visitorId), ConsistentRead: true }))).Item;
      const current = stored && live(stored) ? toVisitor(stored) : undefined;
      const merged = mergeClicks(
        { clicks: current?.clicks ?? {}, clickHistory: current?.clickHistory },
        visit.clicks,
        { ip: visit.ip, userAgent: visit.userAgent },
      );
      const item: Record<string, unknown> = {
        ...visitorKey(visitorId),
        rev: (stored?.rev ?? 0) + 1,
        firstSeenAt: current?.firstSeenAt ?? nowMs,
        lastSeenAt: nowMs,
        ttl: ttlFrom(nowMs),
        ip: visit.ip ?? current?.ip,
        userAgent: visit.userAgent ?? current?.userAgent,
        landingUrl: visit.landingUrl ?? current?.landingUrl,
        referrer: visit.referrer ?? current?.referrer,
        consent: visit.consent ?? current?.consent,
        utm: visit.utm && Object.keys(visit.utm).length ? visit.utm : current?.utm,
        clickHistory: merged.clickHistory.length ? merged.clickHistory : undefined,
      };
      for (const key of CLICK_KEYS) item[`click_${key}`] = merged.clicks[key];
      try {
        await dynamo.send(
          new PutCommand({
            TableName: this.table,
            Item: item,
            ...lockOn(stored),
          }),
        );
        return;
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException) || attempt >= MAX_WRITE_ATTEMPTS) throw err;
      }
    }
  }

  /** The same lookup ingest makes (store/ingest-store.ts). */
  find(keys: { visitorId?: string; emailHash?: string; phoneHash?: string }): Promise<Visitor | undefined> {
    return findVisitor(this.table, keys);
  }

  async linkEmail(emailHash: string, visitorId: string): Promise<void> {
    await dynamo.send(new PutCommand({ TableName: this.table, Item: { ...emailKey(emailHash), visitorId, ttl: ttlFrom(Date.now()) } }));
  }

  async linkPhone(phoneHash: string, visitorId: string): Promise<void> {
    await dynamo.send(new PutCommand({ TableName: this.table, Item: { ...phoneKey(phoneHash), visitorId, ttl: ttlFrom(Date.now()) } }));
  }
}

/** The write succeeds only if nobody wrote the item since it was read. */
function lockOn(stored: Record<string, any> | undefined) {
  if (!stored) return { ConditionExpression: 'attribute_not_exists(pk)' };
  if (typeof stored.rev !== 'number') return { ConditionExpression: 'attribute_not_exists(#rev)', ExpressionAttributeNames: { '#rev': 'rev' } };
  return { ConditionExpression: '#rev = :rev', ExpressionAttributeNames: { '#rev': 'rev' }, ExpressionAttributeValues: { ':rev': stored.rev } };
}

