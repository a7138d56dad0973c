import { createCipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * ClickBank's side of an Instant Notification, written from ClickBank's published algorithm independently of the
 * relay's decrypt code (so the two cannot share a bug unnoticed; the real vector in clickbank-ins-kat.json guards the
 * decrypt side): key = first 32 characters of hex SHA-1(secret key) as ASCII bytes, AES-256-CBC, PKCS#7 padding, IV
 * of 16 upper-case hex characters, both base64 in a JSON body `{"notification", "iv"}`.
 */
export function clickbankEncrypt(notification: unknown, secretKey: string, iv?: Buffer): { notification: string; iv: string } {
  return clickbankEncryptBytes(Buffer.from(JSON.stringify(notification), 'utf8'), secretKey, iv);
}

/** The same, over plaintext bytes exactly as given (the bad-input suite encrypts what is not a valid notification). */
export function clickbankEncryptBytes(plaintext: string | Buffer, secretKey: string, iv?: Buffer): { notification: string; iv: string } {
  const keyHex = createHash('sha1').update(Buffer.from(secretKey, 'utf8')).digest('hex');
  const key = Buffer.from(keyHex.substring(0, 32), 'ascii');
  const ivBytes = iv ?? Buffer.from(randomBytes(8).toString('hex').toUpperCase(), 'ascii');
  const cipher = createCipheriv('aes-256-cbc', key, ivBytes);
  const ciphertext = Buffer.concat([cipher.update(Buffer.from(plaintext)), cipher.final()]);
  return { notification: ciphertext.toString('base64'), iv: ivBytes.toString('base64') };
}

/** ClickBank's compact transaction time, `yyyyMMdd'T'HHmmss±hhmm`, in Pacific-like fixed offset −0700. */
export function clickbankTime(date: Date, offsetMinutes = -420): string {
  const local = new Date(date.getTime() + offsetMinutes * 60_000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const sign = offsetMinutes < 0 ? '-' : '+';
  const off = Math.abs(offsetMinutes);
  return (
    `${local.getUTCFullYear()}${p(local.getUTCMonth() + 1)}${p(local.getUTCDate())}T` +
    `${p(local.getUTCHours())}${p(local.getUTCMinutes())}${p(local.getUTCSeconds())}${sign}${p(Math.floor(off / 60))}${p(off % 60)}`
  );
}

export interface ClickbankNotificationOverrides {
  [key: string]: unknown;
}

/**
 * A v7.0 notification shaped like the real one in clickbank-ins-kat.json (same fields and nesting), for a SALE of
 * one $47.00 product to a customer with a full billing address.
 */
export function clickbankNotification(overrides: ClickbankNotificationOverrides = {}, at = new Date()): Record<string, unknown> {
  return {
    transactionTime: clickbankTime(at),
    receipt: 'XK4JQ7PL',
    transactionType: 'SALE',
    vendor: 'relaytest',
    affiliate: 'someaff',
    role: 'VENDOR',
    totalAccountAmount: 35.12,
    paymentMethod: 'VISA',
    totalOrderAmount: 47.0,
    totalTaxAmount: 0.0,
    totalShippingAmount: 0.0,
    currency: 'USD',
    orderLanguage: 'EN',
    trackingCodes: [],
    lineItems: [
      {
        itemNo: '1',
        productTitle: 'Relay Test Product',
        shippable: false,
        recurring: false,
        accountAmount: 35.12,
        quantity: 1,
        lineItemType: 'ORIGINAL',
        productPrice: 47.0,
        productDiscount: 0.0,
        taxAmount: 0.0,
        shippingAmount: 0.0,
        shippingLiable: false,
      },
    ],
    customer: {
      shipping: {
        firstName: 'Maria',
        lastName: 'Gonzalez',
        fullName: 'Maria Gonzalez',
        phoneNumber: '(512) 555-0147',
        email: 'Maria.Gonzalez@Example.net',
        address: { address1: '742 Evergreen Terrace', city: 'Austin', state: 'TX', postalCode: '78701-2001', country: 'US' },
      },
      billing: {
        firstName: 'Maria',
        lastName: 'Gonzalez',
        fullName: 'Maria Gonzalez',
        phoneNumber: '(512) 555-0147',
        email: 'Maria.Gonzalez@Example.net',
        address: { state: 'TX', postalCode: '78701-2001', country: 'US' },
      },
    },
    upsell: null,
    hopfeed: null,
    vendorVariables: null,
    version: 7.0,
    attemptCount: 1,
    ...overrides,
  };
}

/** The Orders API's transaction time: extended ISO 8601 with ClickBank's offset (`2026-03-02T04:00:00-07:00`). */
export function clickbankIsoTime(date: Date, offsetMinutes = -420): string {
  const c = clickbankTime(date, offsetMinutes);
  return `${c.slice(0, 4)}-${c.slice(4, 6)}-${c.slice(6, 8)}T${c.slice(9, 11)}:${c.slice(11, 13)}:${c.slice(13, 15)}${c.slice(15, 18)}:${c.slice(18)}`;
}

/**
 * An order as the Orders API lists it (`orderData[]`, fields as OpenClickBank's OrderData / LineItemData models name
 * them), for the same sale `clickbankNotification` notifies: receipt XK4JQ7PL, one $47.00 product, the customer's
 * billing fields. Plain values here; the fake API (test/fakes/clickbank-orders-server.ts) encodes them as ClickBank does.
 */
export function clickbankOrder(overrides: Record<string, unknown> = {}, at = new Date()): Record<string, unknown> {
  return {
    transactionTime: clickbankIsoTime(at),
    receipt: 'XK4JQ7PL',
    trackingId: null,
    paytmentMethod: 'VISA',
    transactionType: 'SALE',
    totalOrderAmount: '47.00',
    totalShippingAmount: '0.00',
    totalTaxAmount: '0.00',
    vendor: 'relaytest',
    affiliate: 'someaff',
    country: 'US',
    state: 'TX',
    lastName: 'Gonzalez',
    firstName: 'Maria',
    currency: 'USD',
    declinedConsent: false,
    email: 'Maria.Gonzalez@Example.net',
    postalCode: '78701-2001',
    role: 'VENDOR',
    fullName: 'Maria Gonzalez',
    customerRefundableState: null,
    vendorVariables: null,
    lineItemData: [
      {
        itemNo: '1',
        productTitle: 'Relay Test Product',
        recurring: false,
        shippable: false,
        customerAmount: '47.00',
        accountAmount: '35.12',
        quantity: 1,
        lineItemType: 'ORIGINAL',
        rebillAmount: null,
        processedPayments: 1,
        futurePayments: 0,
        nextPaymentDate: null,
        status: 'COMPLETED',
        role: 'VENDOR',
      },
    ],
    ...overrides,
  };
}
