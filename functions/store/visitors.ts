import { BatchGetCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { CLICK_KEYS, type Clicks, type Consent } from '#core/conversion.ts';
import { TABLE_ENV, VISITOR_TTL_DAYS, requireEnv } from '#core/names.ts';
import type { Visitor, VisitorLookup } from '#core/visitor.ts';
import { dynamo } from './clients.ts';

/**
 * The visitors table: `V#<visitorId>` holds a visitor's click IDs (one attribute per click key, newest wins),
 * browser signals and consent; `E#<sha256 email>` points a hashed e-mail at the visitor it was seen with.
 */
const visitorKey = (id: string) => ({ pk: `V#${id}` });
const emailKey = (hash: string) => ({ pk: `E#${hash}` });
const ttlFrom = (nowMs: number) => Math.floor(nowMs / 1000) + VISITOR_TTL_DAYS * 86400;

export interface VisitUpdate {
  clicks: Clicks;
  ip?: string;
  userAgent?: string;
  landingUrl?: string;
  referrer?: string;
  consent?: Consent;
  utm?: Record<string, string>;
}

export class DynamoVisitorStore implements VisitorLookup {
  constructor(private readonly table = requireEnv(TABLE_ENV.visitors)) {}

  /** One UpdateItem, no read: each present value overwrites its own attribute. */
  async recordVisit(visitorId: string, visit: VisitUpdate, nowMs: number): Promise<void> {
    const sets = ['firstSeenAt = if_not_exists(firstSeenAt, :now)', 'lastSeenAt = :now', '#ttl = :ttl'];
    const names: Record<string, string> = { '#ttl': 'ttl' };
    const values: Record<string, unknown> = { ':now': nowMs, ':ttl': ttlFrom(nowMs) };
    const set = (attr: string, value: unknown) => {
      if (value === undefined) return;
      names[`#${attr}`] = attr;
      values[`:${attr}`] = value;
      sets.push(`#${attr} = :${attr}`);
    };
    for (const key of CLICK_KEYS) set(`click_${key}`, visit.clicks[key]);
    set('ip', visit.ip);
    set('userAgent', visit.userAgent);
    set('landingUrl', visit.landingUrl);
    set('referrer', visit.referrer);
    set('consent', visit.consent);
    set('utm', visit.utm && Object.keys(visit.utm).length ? visit.utm : undefined);
    await dynamo.send(
      new UpdateCommand({
        TableName: this.table,
        Key: visitorKey(visitorId),
        UpdateExpression: `SET ${sets.join(', ')}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async find({ visitorId, emailHash }: { visitorId?: string; emailHash?: string }): Promise<Visitor | undefined> {
    const keys = [...(visitorId ? [visitorKey(visitorId)] : []), ...(emailHash ? [emailKey(emailHash)] : [])];
    if (keys.length === 0) return undefined;
    // One round trip for both keys; a second only when the visitor is known by e-mail alone.
    const res = await dynamo.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys } } }));
    const items = (res.Responses?.[this.table] ?? []).filter(live);
    const direct = items.find((i) => i.pk === `V#${visitorId}`);
    if (direct) return toVisitor(direct);
    const link = items.find((i) => i.pk === `E#${emailHash}`);
    if (!link?.visitorId) return undefined;
    const linked = await dynamo.send(new GetCommand({ TableName: this.table, Key: visitorKey(link.visitorId) }));
    return linked.Item && live(linked.Item) ? toVisitor(linked.Item) : undefined;
  }

  async linkEmail(emailHash: string, visitorId: string): Promise<void> {
    await dynamo.send(
      new PutCommand({ TableName: this.table, Item: { ...emailKey(emailHash), visitorId, ttl: ttlFrom(Date.now()) } }),
    );
  }
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
