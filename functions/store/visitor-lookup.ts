import { BatchGetItemCommand, GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Visitor } from '#core/visitor.ts';
import { dynamoClient } from './clients.ts';
import { emailKey, freshLink, live, phoneKey, toVisitor, visitorKey } from './visitor-items.ts';

type Item = Record<string, AttributeValue>;
const S = (s: string): AttributeValue => ({ S: s });

/**
 * A visitor by ID, else through a hashed e-mail or phone linked to one earlier: one BatchGetItem for every key, and a
 * GetItem only when the visitor is known by e-mail or phone alone. Reports which visitor the looked-up links already
 * point at (`links`), so ingest rewrites only the ones that are missing, elsewhere or near expiry.
 */
export async function findVisitor(
  table: string,
  { visitorId, emailHash, phoneHash }: { visitorId?: string; emailHash?: string; phoneHash?: string },
): Promise<Visitor | undefined> {
  const keys = [
    ...(visitorId ? [visitorKey(visitorId)] : []),
    ...(emailHash ? [emailKey(emailHash)] : []),
    ...(phoneHash ? [phoneKey(phoneHash)] : []),
  ].map((k) => ({ pk: S(k.pk) }));
  if (keys.length === 0) return undefined;
  const res = await dynamoClient.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: keys } } }));
  const items = (res.Responses?.[table] ?? []).map(fromItem).filter(live);
  const emailLink = items.find((i) => i.pk === `E#${emailHash}`);
  const phoneLink = items.find((i) => i.pk === `P#${phoneHash}`);
  const links = { email: freshLink(emailLink), phone: freshLink(phoneLink) };
  const direct = items.find((i) => i.pk === `V#${visitorId}`);
  if (direct) return { ...toVisitor(direct), links };
  const link = emailLink ?? phoneLink;
  if (typeof link?.visitorId !== 'string') return undefined;
  const linked = (await dynamoClient.send(new GetItemCommand({ TableName: table, Key: { pk: S(visitorKey(link.visitorId).pk) } }))).Item;
  const visitor = linked && fromItem(linked);
  return visitor && live(visitor) ? { ...toVisitor(visitor), links } : undefined;
}

/** A DynamoDB item as plain values (what the document client would return), without its marshalling layer. */
export function fromItem(item: Item): Record<string, any> {
  return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, fromValue(v)]));
}
function fromValue(v: AttributeValue): unknown {
  if (v.S !== undefined) return v.S;
  if (v.N !== undefined) return Number(v.N);
  if (v.BOOL !== undefined) return v.BOOL;
  if (v.NULL !== undefined) return null;
  if (v.M !== undefined) return fromItem(v.M);
  if (v.L !== undefined) return v.L.map(fromValue);
  if (v.SS !== undefined) return new Set(v.SS);
  if (v.NS !== undefined) return new Set(v.NS.map(Number));
  if (v.B !== undefined) return v.B;
  return undefined;
}
