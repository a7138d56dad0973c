import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { CLICK_KEYS, type Clicks } from '#core/conversion.ts';
import { TABLE_ENV, VISITOR_TTL_DAYS, requireEnv } from '#core/names.ts';
import { mergeClicks, type Visitor, type VisitorLookup } from '#core/visitor.ts';
import { dynamo } from './clients.ts';

/**
 * The visitors table: `V#<visitorId>` holds a visitor's click IDs (one attribute per click key, the newest per
 * platform), every ad click with its capture time, IP and user agent (`clickHistory`), browser signals and consent;
 * `E#<sha256 email>` and `P#<sha256 phone>` point a hashed e-mail / phone at the visitor it was seen with.
 * Everything expires 90 days after it was last written; a link still in use is rewritten once under 30 days remain.
 */
const visitorKey = (id: string) => ({ pk: `V#${id}` });
const emailKey = (hash: string) => ({ pk: `E#${hash}` });
const phoneKey = (hash: string) => ({ pk: `P#${hash}` });
const ttlFrom = (nowMs: number) => Math.floor(nowMs / 1000) + VISITOR_TTL_DAYS * 86400;

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

  async find({ visitorId, emailHash, phoneHash }: { visitorId?: string; emailHash?: string; phoneHash?: string }): Promise<Visitor | undefined> {
    const keys = [
      ...(visitorId ? [visitorKey(visitorId)] : []),
      ...(emailHash ? [emailKey(emailHash)] : []),
      ...(phoneHash ? [phoneKey(phoneHash)] : []),
    ];
    if (keys.length === 0) return undefined;
    // One round trip for every key; a second only when the visitor is known by e-mail or phone alone.
    const res = await dynamo.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys } } }));
    const items = (res.Responses?.[this.table] ?? []).filter(live);
    const emailLink = items.find((i) => i.pk === `E#${emailHash}`);
    const phoneLink = items.find((i) => i.pk === `P#${phoneHash}`);
    const links = { email: freshLink(emailLink), phone: freshLink(phoneLink) };
    const direct = items.find((i) => i.pk === `V#${visitorId}`);
    if (direct) return { ...toVisitor(direct), links };
    const link = emailLink ?? phoneLink;
    if (!link?.visitorId) return undefined;
    const linked = await dynamo.send(new GetCommand({ TableName: this.table, Key: visitorKey(link.visitorId) }));
    return linked.Item && live(linked.Item) ? { ...toVisitor(linked.Item), links } : undefined;
  }

  async linkEmail(emailHash: string, visitorId: string): Promise<void> {
    await dynamo.send(new PutCommand({ TableName: this.table, Item: { ...emailKey(emailHash), visitorId, ttl: ttlFrom(Date.now()) } }));
  }

  async linkPhone(phoneHash: string, visitorId: string): Promise<void> {
    await dynamo.send(new PutCommand({ TableName: this.table, Item: { ...phoneKey(phoneHash), visitorId, ttl: ttlFrom(Date.now()) } }));
  }
}

/**
 * A link's visitor ID while more than LINK_REFRESH_DAYS of its life remain; past that, undefined, so the next
 * conversion rewrites it (a link of a customer who keeps buying never lapses, and is written about once a month).
 */
const LINK_REFRESH_DAYS = 30;
function freshLink(item: Record<string, unknown> | undefined): string | undefined {
  if (typeof item?.visitorId !== 'string') return undefined;
  const ttl = typeof item.ttl === 'number' ? item.ttl : 0;
  return ttl * 1000 - Date.now() > LINK_REFRESH_DAYS * 86400_000 ? item.visitorId : undefined;
}

/** The write succeeds only if nobody wrote the item since it was read. */
function lockOn(stored: Record<string, any> | undefined) {
  if (!stored) return { ConditionExpression: 'attribute_not_exists(pk)' };
  if (typeof stored.rev !== 'number') return { ConditionExpression: 'attribute_not_exists(#rev)', ExpressionAttributeNames: { '#rev': 'rev' } };
  return { ConditionExpression: '#rev = :rev', ExpressionAttributeNames: { '#rev': 'rev' }, ExpressionAttributeValues: { ':rev': stored.rev } };
}

/** DynamoDB deletes expired items lazily (and dynalite never does): an expired item counts as absent. */
function live(item: Record<string, unknown>): boolean {
  return typeof item.ttl !== 'number' || item.ttl * 1000 > Date.now();
}

function toVisitor(item: Record<string, any>): Visitor {
  const clicks: Clicks = {};
  for (const key of CLICK_KEYS) if (item[`click_${key}`]) clicks[key] = item[`click_${key}`];
  return {
    visitorId: String(item.pk).slice(2),
    clicks,
    clickHistory: item.clickHistory,
    ip: item.ip,
    userAgent: item.userAgent,
    landingUrl: item.landingUrl,
    referrer: item.referrer,
    consent: item.consent,
    utm: item.utm,
    firstSeenAt: item.firstSeenAt,
    lastSeenAt: item.lastSeenAt,
  };
}
