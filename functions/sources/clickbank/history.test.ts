import { describe, expect, it } from 'vitest';
import { RequestError } from '#core/errors.ts';
import type { ConversionDraft, SourceResult } from '#sources/types.ts';
import kat from '../../../test/fixtures/clickbank/ins-kat.json' with { type: 'json' };
import { clickbankJson } from '../../../test/fakes/clickbank-orders-server.ts';
import { clickbankEncrypt, clickbankNotification, clickbankOrder } from '../../../test/support/clickbank.ts';
import { NOW, sha256 } from '../../../test/support/factories.ts';
import { TEST_VISITOR_ID as VISITOR_ID, incomingRequest } from '../../../test/support/requests.ts';
import { onlyConversion as only } from '../../../test/support/source-results.ts';
import { decryptNotification } from './decrypt.ts';
import { asList, asNotification, groupOrders, readOrderGroup, type OrderRow } from './history.ts';
import { clickbankSource, readNotification } from './index.ts';

/**
 * Backfill parity: an order listed by ClickBank's Orders API, wrapped as its Instant Notification, becomes the very
 * conversion the webhook made for that sale — same event ID, order, value, identifiers — so the ledger and the
 * platforms keep one. Orders go through the fake API's encoder (strings for numbers, a list of one as the bare object,
 * nil objects), as the real API sends them.
 */
const SECRET = 'RELAYTEST0SECRET';
const SETTINGS = { CLICKBANK_SECRET_KEY: SECRET };
const AT = new Date('2026-03-02T11:00:00.000Z');

/** Orders as the API's JSON has them (the fake's encoder), grouped and read as the backfill does. */
function viaBackfill(...orders: Record<string, unknown>[]): SourceResult[] {
  const rows = asList(clickbankJson(orders)) as OrderRow[];
  return groupOrders(rows).map((group) => {
    const wrapped = asNotification(group);
    if ('skip' in wrapped) throw new Error(`not wrapped: ${wrapped.skip}`);
    return readOrderGroup(wrapped.notification, SETTINGS);
  });
}
const one = (...orders: Record<string, unknown>[]) => {
  const results = viaBackfill(...orders);
  expect(results).toHaveLength(1);
  return only(results[0]);
};
const skipOf = (...orders: Record<string, unknown>[]) => groupOrders(asList(clickbankJson(orders)) as OrderRow[]).map((g) => asNotification(g));

function viaWebhook(notification: Record<string, unknown>): Promise<SourceResult> {
  const body = JSON.stringify(clickbankEncrypt(notification, SECRET));
  return clickbankSource.read(incomingRequest({ path: '/webhooks/clickbank', contentType: 'application/json', body }), SETTINGS, NOW);
}

/** What must agree between the two paths: everything but where it came from (and the line items' prices, which the Orders API does not list). */
const essence = ({ source, contents, ...rest }: ConversionDraft) => ({ ...rest, contents: contents?.map(({ price, ...c }) => c) });

/** The INS notification of the sale clickbankOrder() lists: same fields, the customer's billing side only. */
const saleNotification = (overrides: Record<string, unknown> = {}) =>
  clickbankNotification(
    {
      customer: { billing: { firstName: 'Maria', lastName: 'Gonzalez', fullName: 'Maria Gonzalez', email: 'Maria.Gonzalez@Example.net', address: { state: 'TX', postalCode: '78701-2001', country: 'US' } } },
      ...overrides,
    },
    AT,
  );

describe('clickbank history: orders wrapped as their notifications', () => {
  it('a SALE is the same Purchase as its INS notification: event ID = receipt, value, currency, hashed customer, contents', async () => {
    const hook = only(await viaWebhook(saleNotification()));
    const back = one(clickbankOrder({}, AT));
    expect(back).toMatchObject({ eventId: 'XK4JQ7PL', orderId: 'XK4JQ7PL', eventName: 'Purchase', value: 47, currency: 'USD', occurredAt: AT.toISOString() });
    expect(essence(back)).toEqual(essence(hook));
    expect(back.user.email).toBe(sha256('maria.gonzalez@example.net'));
    expect(back.contents).toEqual([{ id: '1', quantity: 1, name: 'Relay Test Product' }]);
    // The ledger says where it came from; the webhook's own source event ID is `XK4JQ7PL:SALE`.
    expect(back.source).toEqual({ name: 'clickbank', eventId: 'backfill:XK4JQ7PL:SALE', eventType: 'SALE', livemode: true });
    expect(hook.source.eventId).toBe('XK4JQ7PL:SALE');
  });

  it('the real notification (the published ClickBank vector), listed as an order, maps to what the webhook made of it', () => {
    // The vector is a TEST; as a live SALE with a receipt, its fields (time, vendor, customer, line item) must survive
    // the Orders API's shape unchanged.
    const real = decryptNotification(kat.body, [kat.secretKey]) as Record<string, any>;
    const live = { ...real, receipt: 'KAT00001', transactionType: 'SALE', paymentMethod: 'VISA' };
    const billing = real.customer.billing;
    const order = {
      transactionTime: real.transactionTime,
      receipt: 'KAT00001',
      transactionType: 'SALE',
      paytmentMethod: 'VISA',
      vendor: real.vendor,
      role: real.role,
      currency: real.currency,
      totalOrderAmount: real.totalOrderAmount.toFixed(2),
      firstName: billing.firstName,
      lastName: billing.lastName,
      fullName: billing.fullName,
      email: billing.email,
      lineItemData: real.lineItems.map((l: any) => ({ itemNo: l.itemNo, productTitle: l.productTitle, quantity: l.quantity, accountAmount: l.accountAmount.toFixed(2), customerAmount: '1.00', recurring: l.recurring })),
    };
    const back = one(order);
    expect(back).toMatchObject({ eventId: 'KAT00001', value: 1, currency: 'USD', occurredAt: '2022-08-10T23:20:15.000Z' });
    expect(back.user.email).toBe(sha256('testuser@somesite.com'));
    expect(back.contents).toEqual([{ id: '1', quantity: 1, name: 'A passed in title' }]);
    // The notification's shipping copy of the customer adds nothing the billing one lacks here (its address is {}).
    const hook = only(readNotification(live, SETTINGS));
    expect(essence(back)).toEqual(essence(hook));
  });

  it('a refund and a chargeback get the webhook path\'s event IDs, linked to the sale, with the amount taken back', async () => {
    const refund = one(clickbankOrder({ transactionType: 'RFND', totalOrderAmount: '-47.00' }, AT));
    expect(refund).toMatchObject({ eventId: 'XK4JQ7PL:rfnd', eventName: 'Refund', value: 47, adjustment: { kind: 'refund', originalOrderId: 'XK4JQ7PL', full: true } });
    expect(essence(refund)).toEqual(essence(only(await viaWebhook(saleNotification({ transactionType: 'RFND', totalOrderAmount: -47 })))));
    expect(one(clickbankOrder({ transactionType: 'CGBK', totalOrderAmount: '-47.00' }, AT))).toMatchObject({ eventId: 'XK4JQ7PL:cgbk', eventName: 'Chargeback' });
  });

  it('reads the visitor ID from the vendor variable cr_vid (one variable comes as a bare object), else the tracking ID', () => {
    const single = clickbankOrder({ vendorVariables: { item: [{ name: 'cr_vid', value: VISITOR_ID }] } }, AT);
    expect(JSON.stringify(clickbankJson(single))).toContain('"item":{"name":"cr_vid"');
    expect(one(single).visitorId).toBe(VISITOR_ID);
    const several = clickbankOrder({ vendorVariables: { item: [{ name: 'other', value: 'x' }, { name: 'CR_VID', value: VISITOR_ID }] } }, AT);
    expect(one(several).visitorId).toBe(VISITOR_ID);
    // The hop link's tid, upper-cased and without hyphens as ClickBank keeps it.
    expect(one(clickbankOrder({ trackingId: VISITOR_ID.replaceAll('-', '').toUpperCase() }, AT)).visitorId).toBe(VISITOR_ID);
    expect(one(clickbankOrder({}, AT)).visitorId).toBeUndefined();
  });

  it('several rows of one receipt are one notification: items once each, value the sum of what the customer paid per item', () => {
    const line = (itemNo: string, amount: string) => ({ itemNo, productTitle: `Item ${itemNo}`, customerAmount: amount, accountAmount: '1.00', quantity: 1, recurring: false });
    // Both rows say the order's total (47.00 + 20.00): summing those would double it.
    const rows = [clickbankOrder({ totalOrderAmount: '67.00', lineItemData: [line('1', '47.00')] }, AT), clickbankOrder({ totalOrderAmount: '67.00', lineItemData: [line('2', '20.00')] }, AT)];
    const cart = one(...rows);
    expect(cart).toMatchObject({ eventId: 'XK4JQ7PL', value: 67 });
    expect(cart.contents?.map((c) => c.id)).toEqual(['1', '2']);
    // The same receipt listed twice (a page boundary, or as vendor and as affiliate) is still one.
    expect(one(rows[0], rows[0])).toMatchObject({ value: 47 });
    // A sale and its refund are two notifications.
    expect(viaBackfill(clickbankOrder({}, AT), clickbankOrder({ transactionType: 'RFND', totalOrderAmount: '-47.00' }, AT)).map((r) => only(r).eventId)).toEqual(['XK4JQ7PL', 'XK4JQ7PL:rfnd']);
  });

  it('CLICKBANK_VALUE=account reports what the account earned: the line items\' accountAmount', () => {
    const [group] = groupOrders(asList(clickbankJson([clickbankOrder({}, AT)])) as OrderRow[]);
    const wrapped = asNotification(group);
    if ('skip' in wrapped) throw new Error(wrapped.skip);
    expect(only(readOrderGroup(wrapped.notification, { CLICKBANK_VALUE: 'account' })).value).toBe(35.12);
  });

  it('reads the API\'s extended time with or without the offset\'s colon, and INS\'s compact form', () => {
    for (const t of ['2026-03-02T04:00:00-07:00', '2026-03-02T04:00:00-0700', '2026-03-02T04:00:00.000-07:00', '20260302T040000-0700']) {
      expect(one(clickbankOrder({ transactionTime: t }, AT)).occurredAt, t).toBe(AT.toISOString());
    }
  });

  it('absent values arrive as nil objects and are absent; a row the mapping cannot read is refused with the field named', () => {
    const nil = one(clickbankOrder({ affiliate: null, firstName: null, email: null }, AT));
    expect(nil.user.email).toBeUndefined();
    expect(nil.user.firstName).toBeUndefined();
    expect(() => viaBackfill(clickbankOrder({ transactionTime: null }, AT))).toThrow(RequestError);
    expect(() => viaBackfill(clickbankOrder({ transactionTime: null }, AT))).toThrow(/the order is not a ClickBank notification: transactionTime/);
  });

  it('skips test orders, rebills (their event ID is unproven) and fees, each with its reason', () => {
    const [test, testPaid, bill, fee] = skipOf(
      clickbankOrder({ receipt: 'TST00001', transactionType: 'TEST_SALE' }, AT),
      clickbankOrder({ receipt: 'TST00002', paytmentMethod: 'TEST' }, AT),
      clickbankOrder({ receipt: 'XK4JQ7PL-B002', transactionType: 'BILL' }, AT),
      clickbankOrder({ transactionType: 'FEE', totalOrderAmount: '-1.00' }, AT),
    );
    expect(test).toEqual({ skip: 'test order: TEST_SALE is never sent to ad platforms' });
    expect(testPaid).toEqual({ skip: 'test order: SALE is never sent to ad platforms' });
    expect(bill).toMatchObject({ skip: expect.stringMatching(/^rebill \(BILL\): not backfilled — .*count the rebill twice$/) });
    expect(fee).toEqual({ skip: 'ClickBank fee (FEE): not a conversion' });
  });
});

