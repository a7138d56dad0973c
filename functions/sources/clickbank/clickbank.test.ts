import { describe, expect, it } from 'vitest';
import { RequestError } from '#core/errors.ts';
import type { IncomingRequest, Settings, SourceResult } from '#sources/types.ts';
import kat from '../../../test/fixtures/clickbank/ins-kat.json' with { type: 'json' };
import { clickbankEncrypt, clickbankNotification } from '../../../test/support/clickbank.ts';
import { NOW, sha256 } from '../../../test/support/factories.ts';
import { TEST_VISITOR_ID as VISITOR_ID, incomingRequest } from '../../../test/support/requests.ts';
import { asConversion, onlyConversion, rejection, skippedResult as skipped } from '../../../test/support/source-results.ts';
import { clickbankSource } from './index.ts';

const SECRET = 'RELAYTEST0SECRET';
const SETTINGS = { CLICKBANK_SECRET_KEY: SECRET };
const AT = new Date('2026-03-02T11:00:00.000Z'); // 20260302T040000-0700

function request(body: string, contentType = 'application/json'): IncomingRequest {
  return incomingRequest({ path: '/webhooks/clickbank', contentType, body });
}

/** Encrypts the notification as ClickBank would and reads it through the source. */
function deliver(overrides: Record<string, unknown> = {}, settings: Settings = SETTINGS, secret = SECRET): Promise<SourceResult> {
  return clickbankSource.read(request(JSON.stringify(clickbankEncrypt(clickbankNotification(overrides, AT), secret))), settings, NOW);
}

describe('clickbank source: the real ClickBank notification', () => {
  it('decrypts and maps the published TEST notification: a test Purchase of USD 1.00, never to be sent', async () => {
    const result = await clickbankSource.read(request(JSON.stringify(kat.body)), { CLICKBANK_SECRET_KEY: kat.secretKey }, NOW);

    const purchase = onlyConversion(result);
    expect(purchase).toMatchObject({
      eventName: 'Purchase',
      value: 1,
      currency: 'USD',
      test: true,
      occurredAt: '2022-08-10T23:20:15.000Z', // 16:20:15 at −07:00
      source: { name: 'clickbank', eventType: 'TEST', livemode: false },
    });
    expect(purchase.user.email).toBe(sha256('testuser@somesite.com'));
    expect(purchase.user.firstName).toBe(sha256('test'));
    expect(purchase.contents).toEqual([{ id: '1', quantity: 1, price: 1, name: 'A passed in title' }]);
    expect(() => asConversion(purchase)).not.toThrow();
  });

  it.each(kat.mustFail.secrets.filter(Boolean))('answers 400 for the real notification under the wrong secret %s', async (secret) => {
    const err = await rejection(clickbankSource.read(request(JSON.stringify(kat.body)), { CLICKBANK_SECRET_KEY: secret }, NOW));
    expect(err.status).toBe(400);
    expect(err.code).toBe('decryption_failed');
    expect(err.message).not.toContain(secret);
  });

  it.each([
    ['the vector’s altered IV', kat.mustFail.iv],
    ['an IV differing in its last byte', Buffer.from('A62307B73112FB7B').toString('base64')],
    ['an IV differing in its first byte', Buffer.from('B62307B73112FB7A').toString('base64')],
    ['an all-zero IV', Buffer.alloc(16).toString('base64')],
  ])('answers 400 for the real notification with %s', async (_, iv) => {
    const err = await rejection(clickbankSource.read(request(JSON.stringify({ ...kat.body, iv })), { CLICKBANK_SECRET_KEY: kat.secretKey }, NOW));
    expect(err.status).toBe(400);
  });

  it('accepts the real notification while a second, old secret is still configured', async () => {
    const result = await clickbankSource.read(request(JSON.stringify(kat.body)), { CLICKBANK_SECRET_KEY: `OLDKEY0000000000, ${kat.secretKey}` }, NOW);
    expect(result.kind).toBe('conversions');
  });
});

describe('clickbank source: SALE', () => {
  it('becomes one Purchase whose order ID and event ID are the receipt (what the thank-you page knows)', async () => {
    const purchase = onlyConversion(await deliver());

    expect(purchase).toMatchObject({ eventName: 'Purchase', eventId: 'XK4JQ7PL', orderId: 'XK4JQ7PL', value: 47, currency: 'USD' });
    expect(purchase.test).toBeUndefined();
    expect(purchase.adjustment).toBeUndefined();
    expect(purchase.source).toEqual({ name: 'clickbank', eventId: 'XK4JQ7PL:SALE', eventType: 'SALE', livemode: true });
  });

  it('converts ClickBank’s offset time to UTC', async () => {
    expect(onlyConversion(await deliver()).occurredAt).toBe(AT.toISOString());
    expect(onlyConversion(await deliver({ transactionTime: '20260302T120000+0100' })).occurredAt).toBe('2026-03-02T11:00:00.000Z');
  });

  it('reports what the customer paid by default, what the account earned with CLICKBANK_VALUE=account', async () => {
    expect(onlyConversion(await deliver({ totalOrderAmount: 49.9, totalAccountAmount: 30.51 })).value).toBe(49.9);
    expect(onlyConversion(await deliver({ totalOrderAmount: 49.9, totalAccountAmount: 30.51 }, { ...SETTINGS, CLICKBANK_VALUE: 'account' })).value).toBe(30.51);
    await expect(deliver({}, { ...SETTINGS, CLICKBANK_VALUE: 'profit' })).rejects.toThrow(/CLICKBANK_VALUE/);
  });

  it('keeps amounts in major units in the order currency, rounded to its digits', async () => {
    expect(onlyConversion(await deliver({ currency: 'EUR', totalOrderAmount: 39.999 }))).toMatchObject({ value: 40, currency: 'EUR' });
    expect(onlyConversion(await deliver({ currency: 'jpy', totalOrderAmount: '4800.00' }))).toMatchObject({ value: 4800, currency: 'JPY' });
  });

  it('lists every line item (front end, bump) as contents', async () => {
    const lineItems = [
      { itemNo: '1', productTitle: 'Main', quantity: 1, productPrice: 47.0, lineItemType: 'ORIGINAL', recurring: false },
      { itemNo: 'bump2', productTitle: 'Bump', quantity: 2, productPrice: 9.5, lineItemType: 'BUMP', recurring: false },
    ];
    expect(onlyConversion(await deliver({ lineItems })).contents).toEqual([
      { id: '1', quantity: 1, price: 47, name: 'Main' },
      { id: 'bump2', quantity: 2, price: 9.5, name: 'Bump' },
    ]);
  });

  it('hashes the customer’s billing and shipping details (SHA-256 of the normalized forms) and keeps nothing raw', async () => {
    const result = await deliver();
    const purchase = onlyConversion(result);

    expect(purchase.user).toEqual({
      email: sha256('maria.gonzalez@example.net'),
      emailMicrosoft: sha256('mariagonzalez@example.net'),
      emailReddit: sha256('mariagonzalez@example.net'),
      phone: sha256('15125550147'),
      phoneE164: sha256('+15125550147'),
      firstName: sha256('maria'),
      lastName: sha256('gonzalez'),
      street: sha256('742 evergreen terrace'),
      city: sha256('austin'),
      state: sha256('tx'),
      zip: sha256('78701'),
      country: sha256('us'),
      countryCode: 'us',
    });
    const text = JSON.stringify(result).toLowerCase();
    for (const raw of ['maria', 'gonzalez', '@example.net', '555-0147', '5125550147', 'evergreen', 'austin', '78701']) expect(text, raw).not.toContain(raw);
  });

  it('produces a draft that is a valid Conversion once clicks and consent are attached', async () => {
    const purchase = onlyConversion(await deliver());
    expect(() => asConversion(purchase)).not.toThrow();
  });

  it('is deterministic: a retried notification (attemptCount 2) has the same event ID', async () => {
    const first = onlyConversion(await deliver({ attemptCount: 1 }));
    const retry = onlyConversion(await deliver({ attemptCount: 2 }));
    expect(retry.eventId).toBe(first.eventId);
    expect(retry.source.eventId).toBe(first.source.eventId);
  });
});

describe('clickbank source: finding the visitor', () => {
  it('reads the visitor ID from the vendor variable cr_vid on the order-form link', async () => {
    expect(onlyConversion(await deliver({ vendorVariables: { cr_vid: VISITOR_ID, other: 'x' } })).visitorId).toBe(VISITOR_ID);
  });

  it('reads it from the hop link’s tracking ID, hyphens removed and upper-cased by ClickBank', async () => {
    const tid = VISITOR_ID.replaceAll('-', '').toUpperCase();
    expect(onlyConversion(await deliver({ trackingCodes: [tid] })).visitorId).toBe(VISITOR_ID);
  });

  it('prefers the vendor variable, skips tracking IDs that are not visitor IDs, and leaves the e-mail as the fallback', async () => {
    const other = 'c0ffee00-1111-4222-8333-444455556666';
    expect(onlyConversion(await deliver({ vendorVariables: { cr_vid: VISITOR_ID }, trackingCodes: [other.replaceAll('-', '')] })).visitorId).toBe(VISITOR_ID);
    expect(onlyConversion(await deliver({ trackingCodes: ['fb', VISITOR_ID.replaceAll('-', '')] })).visitorId).toBe(VISITOR_ID);
    const none = onlyConversion(await deliver({ trackingCodes: ['fb ads'], vendorVariables: { cr_vid: '<script>' } }));
    expect(none.visitorId).toBeUndefined();
    expect(none.user.email).toBe(sha256('maria.gonzalez@example.net'));
  });
});

describe('clickbank source: BILL (rebills)', () => {
  it('becomes a Purchase told apart from the first sale by its event ID and source type, server-generated', async () => {
    const rebill = onlyConversion(await deliver({ transactionType: 'BILL', receipt: 'XK4JQ7PL-B002', totalOrderAmount: 29.95 }));

    expect(rebill).toMatchObject({ eventName: 'Purchase', eventId: 'XK4JQ7PL-B002:bill', orderId: 'XK4JQ7PL-B002', value: 29.95, actionSource: 'system_generated' });
    expect(rebill.source.eventType).toBe('BILL');
  });

  it('keeps each rebill of a subscription distinct when the receipt carries no -Bnnn suffix', async () => {
    const line = (n: number) => [{ itemNo: '1', recurring: true, paymentsProcessed: n, productPrice: 29.95, quantity: 1 }];
    const second = onlyConversion(await deliver({ transactionType: 'BILL', lineItems: line(2) }));
    const third = onlyConversion(await deliver({ transactionType: 'BILL', lineItems: line(3) }));
    const sale = onlyConversion(await deliver());

    expect(new Set([second.eventId, third.eventId, sale.eventId]).size).toBe(3);
    expect(second.eventId).toBe('XK4JQ7PL:bill:2');
  });
});

describe('clickbank source: refunds and chargebacks', () => {
  it.each([
    ['RFND', 'Refund', 'refund', 'XK4JQ7PL:rfnd'],
    ['CGBK', 'Chargeback', 'chargeback', 'XK4JQ7PL:cgbk'],
    ['INSF', 'Chargeback', 'chargeback', 'XK4JQ7PL:insf'],
  ])('%s becomes a %s adjustment linked to the sale by its receipt', async (type, eventName, kind, eventId) => {
    const adjustment = onlyConversion(await deliver({ transactionType: type, totalOrderAmount: -47.0, totalAccountAmount: -35.12 }));

    expect(adjustment).toMatchObject({
      eventName,
      eventId,
      orderId: 'XK4JQ7PL',
      value: 47,
      currency: 'USD',
      actionSource: 'system_generated',
      adjustment: { kind, originalOrderId: 'XK4JQ7PL', full: true },
    });
    expect(adjustment.eventId).not.toBe(onlyConversion(await deliver()).eventId);
    expect(() => asConversion(adjustment)).not.toThrow();
  });
});

describe('clickbank source: types that are recorded, not sent', () => {
  it.each([
    ['CANCEL-REBILL', /subscription cancelled/],
    ['UNCANCEL-REBILL', /cancellation reversed/],
    ['SUBSCRIPTION-CHG', /subscription changed/],
    ['CUSTOMER_AUTH_FAILURE', /customer-service/],
    ['CUSTOMER_EMAIL_UPDATE', /customer-service/],
    ['CUSTOMER_UPDATE_CC_NOTIFICATION', /customer-service/],
    ['PURCHASE_DETAILS_EMAIL_RESPONSE', /customer-service/],
    ['CANCEL-TEST-REBILL', /subscription cancelled/],
    ['UNCANCEL-TEST-REBILL', /cancellation reversed/],
  ])('%s is skipped with the reason, keyed on receipt and type', async (type, reason) => {
    const result = skipped(await deliver({ transactionType: type }));
    expect(result.reason).toMatch(reason);
    expect(result).toMatchObject({ sourceEventId: `XK4JQ7PL:${type}`, eventType: type });
  });

  it('skips an unknown transaction type as such', async () => {
    const result = skipped(await deliver({ transactionType: 'JV_SALE' }));
    expect(result.reason).toBe('unknown transaction type JV_SALE: recorded, not forwarded');
  });
});

describe('clickbank source: ABANDONED_ORDER', () => {
  const abandoned = { transactionType: 'ABANDONED_ORDER', receipt: null, totalAccountAmount: null, vendorVariables: { cr_vid: VISITOR_ID } };

  it('is skipped by default, saying which setting sends it', async () => {
    expect(skipped(await deliver(abandoned)).reason).toMatch(/CLICKBANK_ABANDONED_ORDER_EVENT/);
  });

  it('becomes the configured event (e.g. Lead), with the visitor and hashed e-mail and no value', async () => {
    const lead = onlyConversion(await deliver(abandoned, { ...SETTINGS, CLICKBANK_ABANDONED_ORDER_EVENT: 'Lead' }));

    expect(lead).toMatchObject({ eventName: 'Lead', visitorId: VISITOR_ID, user: { email: sha256('maria.gonzalez@example.net') } });
    expect(lead.value).toBeUndefined();
    expect(lead.orderId).toBeUndefined();
    expect(lead.eventId).toMatch(/:lead$/);
    expect(onlyConversion(await deliver(abandoned, { ...SETTINGS, CLICKBANK_ABANDONED_ORDER_EVENT: 'Lead' })).eventId).toBe(lead.eventId);
    expect(() => asConversion(lead)).not.toThrow();
  });

  it('refuses an event name that is not one', async () => {
    await expect(deliver(abandoned, { ...SETTINGS, CLICKBANK_ABANDONED_ORDER_EVENT: 'a lead!' })).rejects.toThrow(/CLICKBANK_ABANDONED_ORDER_EVENT/);
  });
});

describe('clickbank source: test transactions', () => {
  it.each([
    ['TEST_SALE', 'Purchase', 'XK4JQ7PL'],
    ['TEST_BILL', 'Purchase', 'XK4JQ7PL:bill:'],
    ['TEST_RFND', 'Refund', 'XK4JQ7PL:rfnd'],
    ['TEST_CGBK', 'Chargeback', 'XK4JQ7PL:cgbk'],
    ['TEST_INSF', 'Chargeback', 'XK4JQ7PL:insf'],
  ])('%s is mapped like the real type and flagged test', async (type, eventName, eventId) => {
    const conversion = onlyConversion(await deliver({ transactionType: type }));
    expect(conversion).toMatchObject({ eventName, test: true, source: { eventType: type, livemode: false } });
    expect(conversion.eventId.startsWith(eventId)).toBe(true);
  });

  it('flags a sale paid with ClickBank’s test payment method', async () => {
    expect(onlyConversion(await deliver({ paymentMethod: 'TEST' })).test).toBe(true);
  });

  it('gives each press of ClickBank’s Test button (receipt ********) its own event', async () => {
    const first = onlyConversion(await deliver({ transactionType: 'TEST', receipt: '********', transactionTime: '20260302T040000-0700' }));
    const second = onlyConversion(await deliver({ transactionType: 'TEST', receipt: '********', transactionTime: '20260302T040500-0700' }));
    expect(first.test).toBe(true);
    expect(first.eventId).not.toBe(second.eventId);
    expect(first.orderId).toBe('TEST-202603020400000700');
  });
});

describe('clickbank source: bad requests', () => {
  it('answers 400 for a body that is not JSON', async () => {
    const err = await rejection(clickbankSource.read(request('notification=abc'), SETTINGS, NOW));
    expect([err.status, err.code]).toEqual([400, 'malformed_body']);
  });

  it.each([
    ['an empty object', {}],
    ['a missing iv', { notification: 'AAAA' }],
    ['non-string fields', { notification: 1, iv: 2 }],
    ['a legacy (pre-6.0) form post', { ctransreceipt: 'ABC', cverify: 'DEADBEEF' }],
    ['an array', [1, 2]],
  ])('answers 400 for %s', async (_, body) => {
    const err = await rejection(clickbankSource.read(request(JSON.stringify(body)), SETTINGS, NOW));
    expect([err.status, err.code]).toEqual([400, 'malformed_body']);
  });

  it('reads the same two fields sent as a form', async () => {
    const form = new URLSearchParams(clickbankEncrypt(clickbankNotification({}, AT), SECRET)).toString();
    const result = await clickbankSource.read(request(form, 'application/x-www-form-urlencoded'), SETTINGS, NOW);
    expect(onlyConversion(result).eventId).toBe('XK4JQ7PL');
  });

  it('answers 400 for a notification encrypted with another secret, naming neither', async () => {
    const err = await rejection(deliver({}, SETTINGS, 'SOMEOTHERSECRET1'));
    expect([err.status, err.code]).toEqual([400, 'decryption_failed']);
    expect(err.message).not.toContain(SECRET);
    expect(err.message).not.toContain('SOMEOTHERSECRET1');
  });

  it.each([
    ['no transaction type', { transactionType: undefined }],
    ['an unreadable time', { transactionTime: 'yesterday' }],
    ['a text amount', { totalOrderAmount: 'forty-seven' }],
    ['a bad currency', { currency: 'US Dollar' }],
  ])('answers 400 invalid_notification for a decrypted notification with %s, without echoing values', async (_, overrides) => {
    const err = await rejection(deliver(overrides));
    expect([err.status, err.code]).toEqual([400, 'invalid_notification']);
    expect(err.message).not.toMatch(/maria|gonzalez/i);
  });

  it('answers 400 for a sale or rebill with a negative amount (a refund comes as RFND)', async () => {
    for (const transactionType of ['SALE', 'BILL', 'TEST']) {
      const err = await rejection(deliver({ transactionType, totalOrderAmount: -47 }));
      expect([err.status, err.code], transactionType).toEqual([400, 'invalid_notification']);
    }
  });

  it('answers 400 for a sale without a receipt', async () => {
    const err = await rejection(deliver({ receipt: null }));
    expect([err.status, err.code]).toEqual([400, 'invalid_notification']);
  });

  it('answers 400 for encrypted JSON that is not an object', async () => {
    const body = JSON.stringify(clickbankEncrypt(['SALE'], SECRET));
    expect((await rejection(clickbankSource.read(request(body), SETTINGS, NOW))).code).toBe('invalid_notification');
  });

  it('fails as a server error (ClickBank retries) when no secret key is configured', async () => {
    const read = clickbankSource.read(request(JSON.stringify(kat.body)), {}, NOW);
    await expect(read).rejects.toThrow('CLICKBANK_SECRET_KEY is not configured');
    await expect(read).rejects.not.toBeInstanceOf(RequestError);
  });
});
