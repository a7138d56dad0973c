import type { Conversion } from '#core/conversion.ts';
import { RequestError } from '#core/errors.ts';
import { eventIdFor } from '#core/event-id.ts';
import { fromMajorUnits } from '#core/money.ts';
import { hashUser } from '#core/normalize.ts';
import { readVisitorId } from '#core/visitor.ts';
import type { ConversionDraft, Settings, SourceResult } from '#sources/types.ts';
import { parseTransactionTime, type Notification, type Person } from './schema.ts';

/**
 * What each ClickBank transaction type becomes. Test types (`TEST`, `TEST_SALE`, `CANCEL-TEST-REBILL`, …) are read as
 * the type they test and flagged `test`; `TEST` itself (the "Test" button in ClickBank) is read as a SALE.
 */
type Treatment =
  | { kind: 'purchase' }
  | { kind: 'rebill' }
  | { kind: 'adjustment'; adjustment: 'refund' | 'chargeback'; eventName: 'Refund' | 'Chargeback' }
  | { kind: 'abandoned' }
  | { kind: 'record'; reason: string };

const CUSTOMER_SERVICE = 'customer-service notification, not a conversion';

export const TRANSACTION_TYPES: Readonly<Record<string, Treatment>> = {
  SALE: { kind: 'purchase' },
  BILL: { kind: 'rebill' },
  RFND: { kind: 'adjustment', adjustment: 'refund', eventName: 'Refund' },
  CGBK: { kind: 'adjustment', adjustment: 'chargeback', eventName: 'Chargeback' },
  // Insufficient funds: the bank took the payment back (eCheck, failed rebill) — a reversal, like a chargeback.
  INSF: { kind: 'adjustment', adjustment: 'chargeback', eventName: 'Chargeback' },
  'CANCEL-REBILL': { kind: 'record', reason: 'subscription cancelled: recorded, not a conversion' },
  'UNCANCEL-REBILL': { kind: 'record', reason: 'subscription cancellation reversed: recorded, not a conversion' },
  'SUBSCRIPTION-CHG': { kind: 'record', reason: 'subscription changed: recorded, not a conversion' },
  CUSTOMER_AUTH_FAILURE: { kind: 'record', reason: CUSTOMER_SERVICE },
  CUSTOMER_EMAIL_UPDATE: { kind: 'record', reason: CUSTOMER_SERVICE },
  CUSTOMER_UPDATE_CC_NOTIFICATION: { kind: 'record', reason: CUSTOMER_SERVICE },
  PURCHASE_DETAILS_EMAIL_RESPONSE: { kind: 'record', reason: CUSTOMER_SERVICE },
  ABANDONED_ORDER: { kind: 'abandoned' },
};

/** `TEST_RFND` → RFND, `CANCEL-TEST-REBILL` → CANCEL-REBILL, `TEST` → SALE; anything else is itself. */
export function baseTransactionType(type: string): { base: string; test: boolean } {
  const t = type.toUpperCase();
  if (t === 'TEST') return { base: 'SALE', test: true };
  if (t.startsWith('TEST_') || t.startsWith('TEST-')) return { base: t.slice(5), test: true };
  if (t.includes('-TEST-')) return { base: t.replace('-TEST-', '-'), test: true };
  return { base: t, test: false };
}

/** Vendor variable the order-form link carries the visitor ID in (`…/?cr_vid=<visitorId>`), like the cookie's name. */
export const VISITOR_VENDOR_VARIABLE = 'cr_vid';
export const ABANDONED_ORDER_SETTING = 'CLICKBANK_ABANDONED_ORDER_EVENT';
export const VALUE_SETTING = 'CLICKBANK_VALUE';
const EVENT_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** Maps a decrypted, validated notification to conversions, or says why it is not one. */
export function mapNotification(n: Notification, settings: Settings): SourceResult {
  const type = n.transactionType.toUpperCase();
  const { base, test: testType } = baseTransactionType(type);
  const treatment = TRANSACTION_TYPES[base];
  const compactTime = n.transactionTime.replace(/\D/g, '');
  // The "Test" button sends receipt `********`: without the time every test would be a duplicate of the first.
  const masked = Boolean(n.receipt && /^\*+$/.test(n.receipt));
  const orderId = masked ? `TEST-${compactTime}` : (n.receipt ?? undefined);
  const sourceEventId = `${orderId ?? `noreceipt-${compactTime}`}:${type}`;
  const skip = (reason: string): SourceResult => ({ kind: 'skipped', sourceEventId, eventType: type, reason });

  if (!treatment) return skip(`unknown transaction type ${type}: recorded, not forwarded`);
  if (treatment.kind === 'record') return skip(treatment.reason);
  if (!orderId && treatment.kind !== 'abandoned') {
    throw new RequestError(400, 'invalid_notification', `a ${type} notification must carry a receipt`);
  }

  const test = testType || masked || n.paymentMethod?.toUpperCase() === 'TEST';
  const currency = (n.currency ?? 'USD').toUpperCase();
  const common = {
    occurredAt: parseTransactionTime(n.transactionTime)!.toISOString(),
    visitorId: visitorIdOf(n),
    user: customerHashes(n),
    ...(test ? { test: true } : {}),
    source: { name: 'clickbank', eventId: sourceEventId, eventType: type, livemode: !test },
  };

  switch (treatment.kind) {
    case 'purchase':
    case 'rebill': {
      const rebill = treatment.kind === 'rebill';
      const value = saleValue(n, currency, settings);
      if (value !== undefined && value < 0) throw new RequestError(400, 'invalid_notification', `a ${type} notification's amount must not be negative`);
      const draft: ConversionDraft = {
        ...common,
        // The thank-you page knows the receipt (ClickBank passes `cbreceipt`): a SALE's event ID is the receipt itself.
        eventId: rebill ? rebillEventId(orderId!, n) : eventIdFor(orderId!),
        eventName: 'Purchase',
        value,
        currency,
        orderId: orderId!,
        contents: contentsOf(n),
        // A rebill happens without the customer: Meta's "system_generated" (e.g. a subscription renewal).
        ...(rebill ? { actionSource: 'system_generated' as const } : {}),
      };
      return { kind: 'conversions', sourceEventId, eventType: type, conversions: [draft] };
    }
    case 'adjustment': {
      const value = saleValue(n, currency, settings);
      const draft: ConversionDraft = {
        ...common,
        eventId: eventIdFor(orderId!, base),
        eventName: treatment.eventName,
        // Refund amounts may arrive negative: the conversion carries the amount taken back.
        value: value === undefined ? undefined : Math.abs(value),
        currency,
        orderId: orderId!,
        actionSource: 'system_generated',
        // ClickBank's notification carries no reliable partial-refund marker: each refund is taken as reversing the order.
        adjustment: { kind: treatment.adjustment, originalOrderId: orderId!, full: true },
      };
      return { kind: 'conversions', sourceEventId, eventType: type, conversions: [draft] };
    }
    case 'abandoned': {
      const eventName = settings[ABANDONED_ORDER_SETTING]?.trim();
      if (!eventName) return skip(`abandoned order: not sent (set ${ABANDONED_ORDER_SETTING}, e.g. to Lead, to send it)`);
      if (!EVENT_NAME.test(eventName)) throw new Error(`${ABANDONED_ORDER_SETTING} must be an event name such as Lead or InitiateCheckout`);
      // No purchase, so no receipt as a rule: the key is the time plus whose cart it was.
      const key = orderId ?? `abandoned-${compactTime}-${(common.user.email ?? common.visitorId ?? n.vendor ?? 'unknown').slice(0, 16)}`;
      const draft: ConversionDraft = { ...common, eventId: eventIdFor(key, eventName), eventName, orderId };
      return { kind: 'conversions', sourceEventId, eventType: type, conversions: [draft] };
    }
  }
}

/**
 * A rebill's receipt is the original's with a `-Bnnn` suffix in ClickBank's documentation; when it carries none,
 * the payment number (or failing that the time) keeps each rebill of one subscription distinct.
 */
function rebillEventId(receipt: string, n: Notification): string {
  const id = eventIdFor(receipt, 'BILL');
  if (/-B\d+$/i.test(receipt)) return id;
  const payment = n.lineItems?.find((l) => l.recurring && l.paymentsProcessed != null)?.paymentsProcessed;
  return `${id}:${payment ?? n.transactionTime.replace(/\D/g, '')}`;
}

/** `order` (default): what the customer paid; `account`: what this ClickBank account earned from it. */
function saleValue(n: Notification, currency: string, settings: Settings): number | undefined {
  const choice = (settings[VALUE_SETTING]?.trim() || 'order').toLowerCase();
  if (choice !== 'order' && choice !== 'account') throw new Error(`${VALUE_SETTING} must be "order" or "account"`);
  const raw = choice === 'account' ? n.totalAccountAmount : n.totalOrderAmount;
  return raw == null ? undefined : fromMajorUnits(raw, currency);
}

function contentsOf(n: Notification): Conversion['contents'] {
  const items = (n.lineItems ?? []).filter((l) => l.itemNo);
  if (items.length === 0) return undefined;
  return items.map((l) => ({
    id: l.itemNo!.slice(0, 200),
    ...(l.quantity && l.quantity > 0 ? { quantity: l.quantity } : {}),
    ...(l.productPrice != null && l.productPrice >= 0 ? { price: l.productPrice } : {}),
    ...(l.productTitle ? { name: l.productTitle.slice(0, 200) } : {}),
  }));
}

/**
 * The visitor ID, first from the vendor variable `cr_vid` (the vendor puts it on the order-form link), then from
 * the affiliate tracking IDs (`tid` on the hop link; ClickBank allows only letters, digits and underscores there and
 * may upper-case them, so the UUID travels without its hyphens — `readVisitorId` restores it).
 */
function visitorIdOf(n: Notification): string | undefined {
  const vars = n.vendorVariables ?? {};
  const fromVendor = Object.entries(vars).find(([k]) => k.toLowerCase() === VISITOR_VENDOR_VARIABLE)?.[1];
  for (const candidate of [fromVendor, ...(n.trackingCodes ?? [])]) {
    const id = readVisitorId(candidate);
    if (id) return id;
  }
  return undefined;
}

/** Billing details first, shipping filling the gaps (ClickBank's billing address is often only state, zip, country). */
function customerHashes(n: Notification) {
  const billing: Person = n.customer?.billing ?? {};
  const shipping: Person = n.customer?.shipping ?? {};
  const pick = (k: 'email' | 'phoneNumber' | 'firstName' | 'lastName' | 'fullName') => billing[k] || shipping[k] || undefined;
  // One address, whole: the first with a street, else billing's (state, zip, country), else shipping's.
  const address = [billing.address, shipping.address].find((a) => a?.address1) ?? billing.address ?? shipping.address;
  const country = address?.country || billing.address?.country || shipping.address?.country || undefined;
  return hashUser(
    {
      email: pick('email'),
      phone: pick('phoneNumber'),
      firstName: pick('firstName'),
      lastName: pick('lastName'),
      fullName: pick('fullName'),
      street: address?.address1,
      city: address?.city,
      state: address?.state,
      zip: address?.postalCode,
      country,
    },
    { defaultCountry: country ?? undefined },
  );
}
