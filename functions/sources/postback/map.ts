import { RequestError } from '#core/errors.ts';
import { eventIdFor } from '#core/event-id.ts';
import { fromMajorUnits } from '#core/money.ts';
import { readVisitorId } from '#core/visitor.ts';
import type { ConversionDraft, SourceResult } from '#sources/types.ts';

/** Statuses networks and trackers use for a conversion that did not stand: recorded, never sent. */
export const REJECTED_STATUSES: ReadonlySet<string> = new Set([
  'rejected', 'reject', 'declined', 'decline', 'denied', 'deny', 'trash', 'fraud', 'invalid', 'duplicate',
  'cancelled', 'canceled', 'reversed', 'refunded', 'chargeback', 'failed',
]);

/** `event` values with a standard name; any other name made of letters, digits and underscores passes as given. */
const EVENT_NAMES: Readonly<Record<string, string>> = {
  purchase: 'Purchase', sale: 'Purchase', conversion: 'Purchase',
  lead: 'Lead',
  registration: 'CompleteRegistration', signup: 'CompleteRegistration', completeregistration: 'CompleteRegistration',
  subscribe: 'Subscribe', subscription: 'Subscribe',
  trial: 'StartTrial', starttrial: 'StartTrial',
};
const CUSTOM_EVENT = /^[A-Za-z][A-Za-z0-9_]{0,39}$/;

/**
 * A parameter the network left empty, or whose macro it did not fill in (`{txid}`, `[payout]`, `%7Bclickid%7D`
 * decoded): treated as absent, so an unfilled `{txid}` never becomes everyone's order ID.
 */
function given(raw: string | undefined): string | undefined {
  const s = raw?.trim();
  if (!s || /^(\{.*\}|\[.*\]|\$\{.*\}|#.*#)$/.test(s)) return undefined;
  return s;
}

/** Maps authenticated postback parameters to a conversion, or says why it is not one. */
export function mapPostback(params: Readonly<Record<string, string | undefined>>, now: Date): SourceResult {
  const rawClickId = given(params.clickid);
  if (!rawClickId) throw new RequestError(400, 'missing_clickid', 'clickid is required: the visitor ID /collect issued for the click');
  const visitorId = readVisitorId(rawClickId);
  if (!visitorId) throw new RequestError(400, 'invalid_clickid', 'clickid must be a visitor ID issued by /collect (letters, digits, - and _, 8 to 128 characters)');

  const txid = given(params.txid);
  if (txid && txid.length > 200) throw new RequestError(400, 'invalid_txid', 'txid must be at most 200 characters');
  const rawEvent = given(params.event);
  const eventName = rawEvent ? (EVENT_NAMES[rawEvent.toLowerCase()] ?? (CUSTOM_EVENT.test(rawEvent) ? rawEvent : undefined)) : 'Purchase';
  if (!eventName) throw new RequestError(400, 'invalid_event', 'event must be a name such as purchase, lead or a custom name of letters, digits and underscores');

  // Without a txid the click itself is the key: one conversion of each event name per visitor.
  const key = txid ?? visitorId;
  const status = given(params.status)?.toLowerCase();
  const sourceEventId = `${key}:${eventName}`;
  const eventType = `${eventName}${status ? `:${status}` : ''}`;
  if (status && REJECTED_STATUSES.has(status)) {
    return { kind: 'skipped', sourceEventId: `${sourceEventId}:${status}`, eventType, reason: `status ${status}: the network did not approve this conversion` };
  }

  const rawCurrency = given(params.currency);
  if (rawCurrency && !/^[A-Za-z]{3}$/.test(rawCurrency)) throw new RequestError(400, 'invalid_currency', 'currency must be an ISO 4217 code such as USD');
  const currency = (rawCurrency ?? 'USD').toUpperCase();
  const payout = given(params.payout);
  let value: number | undefined;
  if (payout !== undefined) {
    try {
      value = fromMajorUnits(payout, currency);
    } catch {
      throw new RequestError(400, 'invalid_payout', 'payout must be a decimal number such as 12.50');
    }
    if (value < 0) throw new RequestError(400, 'invalid_payout', 'payout must not be negative');
  }
  // Platforms refuse a Purchase without a value (Meta: "value is required for Purchase events"): an unpaid one is 0.
  if (value === undefined && eventName === 'Purchase') value = 0;

  const draft: ConversionDraft = {
    eventId: eventIdFor(key, eventName),
    eventName,
    occurredAt: now.toISOString(),
    ...(value !== undefined ? { value, currency } : {}),
    ...(txid ? { orderId: txid } : {}),
    visitorId,
    user: {},
    source: { name: 'postback', eventId: sourceEventId, eventType },
  };
  return { kind: 'conversions', sourceEventId, eventType, conversions: [draft] };
}
