import type { Settings, SourceResult } from '#sources/types.ts';
import { readNotification } from './index.ts';
import { baseTransactionType } from './map.ts';

/**
 * Backfill reads ClickBank's Orders API (`GET /rest/1.3/orders2/list`) where a relay that was not yet installed, or
 * was down, missed the Instant Notifications. Each order is wrapped here as the INS notification ClickBank sent (or
 * would have sent) for it, and read by the webhook's own validation and mapping (index.ts `readNotification`, map.ts):
 * same conversion, same event ID — the receipt for a SALE, `<receipt>:rfnd` / `<receipt>:cgbk` for a refund or
 * chargeback — so a backfilled sale and a later notification for it are one conversion.
 *
 * The API's JSON comes from XML (OpenClickBank, github OcelliSolutions/OpenClickBank, documents the quirks): a list of
 * one is a bare object (`orderData`, `lineItemData`, `vendorVariables.item`), numbers and booleans are strings, and an
 * absent value may be an object (`{"@nil": "true"}`) instead of null. Everything is read defensively here.
 */
export type OrderRow = Record<string, unknown>;

/** The rows of one receipt and transaction type: what one notification reported (a cart's line items may come as rows). */
export interface OrderGroup {
  receipt: string | undefined;
  transactionType: string;
  rows: OrderRow[];
}

export type WrappedOrder = { notification: Record<string, unknown> } | { skip: string };

/** A one-element list arrives as the element itself; absent as null, undefined or a nil object. */
export function asList(value: unknown): Record<string, unknown>[] {
  if (Array.isArray(value)) return value.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null);
  if (typeof value === 'object' && value !== null && !isNil(value)) return [value as Record<string, unknown>];
  return [];
}

const isNil = (value: object) => Object.keys(value).some((k) => k.replace(/^@/, '').toLowerCase() === 'nil');

/** A string value (numbers as their text); a nil object, null or blank is absent. */
function text(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') return undefined;
  const t = value.trim();
  return t === '' ? undefined : t;
}

const DECIMAL = /^-?\d+(\.\d+)?$/;
function decimal(value: unknown): string | undefined {
  const t = text(value);
  return t !== undefined && DECIMAL.test(t) ? t : undefined;
}

function integer(value: unknown): number | undefined {
  const t = text(value);
  return t !== undefined && /^-?\d+$/.test(t) ? Number(t) : undefined;
}

function flag(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  const t = text(value)?.toLowerCase();
  return t === 'true' ? true : t === 'false' ? false : undefined;
}

/** Sum of decimal strings, without binary float noise (amounts have at most a few decimals). */
function sum(values: string[]): number {
  return Number(values.reduce((a, v) => a + Number(v), 0).toFixed(6));
}

/**
 * The order's transaction time as the notification's schema reads it. ClickBank's INS sends the compact form
 * (`20220810T162015-0700`); an XML-born API may send the extended one with or without the offset's colon
 * (`2022-08-10T16:20:15-07:00`, `…-0700`): the latter gets its colon, the rest is left to the schema to accept or name.
 */
export function orderTransactionTime(row: OrderRow): string | undefined {
  const t = text(row.transactionTime);
  const m = t && /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{2})(\d{2})$/.exec(t);
  return m ? `${m[1]}${m[2]}:${m[3]}` : t;
}

/**
 * Groups the orders of a window by receipt and transaction type, in the order first seen: a sale and its refund are
 * two notifications (two conversions), several line items of one receipt are one.
 */
export function groupOrders(rows: Iterable<OrderRow>): OrderGroup[] {
  const groups = new Map<string, OrderGroup>();
  let anonymous = 0;
  for (const row of rows) {
    const receipt = text(row.receipt);
    const transactionType = (text(row.transactionType) ?? '').toUpperCase();
    // Without a receipt nothing says two rows are one order: each stays its own.
    const key = receipt ? `${receipt}\u0000${transactionType}` : `\u0001${anonymous++}`;
    const group = groups.get(key);
    if (group) group.rows.push(row);
    else groups.set(key, { receipt, transactionType, rows: [row] });
  }
  return [...groups.values()];
}

const REBILL_SKIP =
  'rebill (BILL): not backfilled — nothing shows that the Orders API row carries the receipt suffix or payment number the INS notification of a rebill is keyed on, and a different event ID would count the rebill twice';
const FEE_SKIP = 'ClickBank fee (FEE): not a conversion';

/**
 * The notification a group of order rows stands for, or why it is not backfilled: test orders (`TEST_*`, or paid with
 * ClickBank's TEST method) are never sent; rebills are skipped until their event ID is shown to match the INS path's;
 * fees are no conversion. Any other type goes to the mapping, which knows what SALE, RFND, CGBK … become.
 */
export function asNotification(group: OrderGroup): WrappedOrder {
  const type = group.transactionType;
  const first = group.rows[0];
  const paymentMethod = text(first.paymentMethod) ?? text(first.paytmentMethod); // sic: the API's own spelling
  if (!type) return { skip: 'order without a transactionType: not backfilled' };
  if (baseTransactionType(type).test || paymentMethod?.toUpperCase() === 'TEST') return { skip: `test order: ${type} is never sent to ad platforms` };
  const base = baseTransactionType(type).base;
  if (base === 'BILL') return { skip: REBILL_SKIP };
  if (base === 'FEE') return { skip: FEE_SKIP };

  const lineItems = linesOf(group.rows);
  const vendorVariables: Record<string, string> = {};
  for (const row of group.rows) {
    const container = asList(row.vendorVariables)[0];
    for (const item of asList(container?.item)) {
      const name = text(item.name);
      const value = text(item.value);
      if (name && value !== undefined) vendorVariables[name] = value;
    }
  }
  const trackingCodes = [...new Set(group.rows.map((r) => text(r.trackingId)).filter((t) => t !== undefined))];
  const accountAmounts = lineItems.map((l) => l.accountAmount).filter((a) => a !== undefined);
  const pick = (field: string) => group.rows.map((r) => text(r[field])).find((v) => v !== undefined);

  return {
    notification: {
      transactionTime: orderTransactionTime(first),
      receipt: group.receipt,
      transactionType: type,
      vendor: pick('vendor'),
      affiliate: pick('affiliate'),
      role: pick('role'),
      paymentMethod,
      totalOrderAmount: orderValue(group.rows, lineItems),
      // INS reports what this account earned in total; the Orders API only per line item.
      totalAccountAmount: accountAmounts.length ? sum(accountAmounts) : undefined,
      totalTaxAmount: decimal(first.totalTaxAmount),
      totalShippingAmount: decimal(first.totalShippingAmount),
      currency: pick('currency'),
      trackingCodes,
      vendorVariables,
      lineItems: lineItems.map(({ customerAmount, ...line }) => line),
      // The Orders API has one set of customer fields: the billing side of the notification (its address is state,
      // zip and country only, as INS's billing address often is).
      customer: {
        billing: {
          firstName: pick('firstName'),
          lastName: pick('lastName'),
          fullName: pick('fullName'),
          email: pick('email'),
          address: { state: pick('state'), postalCode: pick('postalCode'), country: pick('country') },
        },
      },
    },
  };
}

type Line = { itemNo?: string; productTitle?: string; recurring?: boolean; accountAmount?: string; customerAmount?: string; quantity?: number; lineItemType?: string; paymentsProcessed?: number };

/** The line items of all rows, each item number once (a receipt listed twice must not count its items twice). */
function linesOf(rows: OrderRow[]): Line[] {
  const seen = new Set<string>();
  const lines: Line[] = [];
  for (const row of rows) {
    for (const l of asList(row.lineItemData)) {
      const itemNo = text(l.itemNo);
      if (itemNo !== undefined) {
        if (seen.has(itemNo)) continue;
        seen.add(itemNo);
      }
      const processed = integer(l.processedPayments);
      lines.push({
        itemNo,
        productTitle: text(l.productTitle),
        recurring: flag(l.recurring),
        accountAmount: decimal(l.accountAmount),
        customerAmount: decimal(l.customerAmount),
        quantity: integer(l.quantity),
        lineItemType: text(l.lineItemType),
        ...(processed !== undefined && processed >= 0 ? { paymentsProcessed: processed } : {}),
      });
    }
  }
  return lines;
}

/**
 * What the customer paid: one row's totalOrderAmount, as the notification's. When a receipt comes as several rows it
 * is not documented whether each total is the row's or the order's, so the line items' customerAmount is summed
 * instead (each item once), and failing that the largest total is taken: never more than was paid.
 */
function orderValue(rows: OrderRow[], lines: Line[]): string | number | undefined {
  if (rows.length === 1) return decimal(rows[0].totalOrderAmount);
  const perLine = lines.map((l) => l.customerAmount);
  if (perLine.length && perLine.every((a) => a !== undefined)) return sum(perLine as string[]);
  const totals = rows.map((r) => decimal(r.totalOrderAmount)).filter((t) => t !== undefined).map(Number);
  if (totals.length === 0) return undefined;
  // Refund amounts may be negative: the largest in size.
  return totals.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a));
}

/** The synthetic source event ID says where the conversion came from (the ledger keeps it; `status` finds it). */
export const backfillSourceEventId = (sourceEventId: string) => `backfill:${sourceEventId}`;

/**
 * One group read as the pipeline reads a notification: the webhook's validation and mapping, with the source event
 * ID marked as the backfill's (the conversion's event ID is the webhook's).
 */
export function readOrderGroup(notification: Record<string, unknown>, settings: Settings): SourceResult {
  const result = readNotification(notification, settings, 'the order');
  const sourceEventId = backfillSourceEventId(result.sourceEventId);
  if (result.kind === 'skipped') return { ...result, sourceEventId };
  return { ...result, sourceEventId, conversions: result.conversions.map((c) => ({ ...c, source: { ...c.source, eventId: sourceEventId } })) };
}
