import * as z from '#core/zod.ts';

/**
 * A decrypted ClickBank Instant Notification (v6.0 and later), as far as the relay reads it. Field names and nesting
 * follow the real v7.0 notification in clickbank-ins-kat.json and OpenClickBank's models; unknown fields (v8's
 * tracking data, hopfeed, …) are kept but not read. ClickBank sends `null` for absent values, so almost everything is
 * nullish; what a conversion cannot do without (time, type, receipt of a payment) is required.
 */

/** ClickBank's compact ISO 8601 (`20220810T162015-0700`), or the extended form with an offset or `Z`. */
export function parseTransactionTime(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})([+-])(\d{2})(\d{2})$/.exec(s);
  const iso = m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7]}${m[8]}:${m[9]}` : s;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(iso)) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : new Date(t);
}

/** Amounts are JSON numbers in major units (`47.00`); a decimal string is accepted too. */
const amount = z.union([z.number(), z.pipe(z.string().check(z.regex(/^-?\d+(\.\d+)?$/, 'must be a decimal number')), z.transform(Number))]);
const maxString = (max: number) => z.string().check(z.maxLength(max));
/** What ClickBank may send as `null` or leave out. */
const nullishText = z.nullish(maxString(1000));
const nullishInt = z.nullish(z.number().check(z.int()));

const AddressSchema = z.looseObject({
  address1: nullishText,
  address2: nullishText,
  city: nullishText,
  county: nullishText,
  state: nullishText,
  postalCode: nullishText,
  country: nullishText,
});

const PersonSchema = z.looseObject({
  firstName: nullishText,
  lastName: nullishText,
  fullName: nullishText,
  phoneNumber: nullishText,
  email: nullishText,
  address: z.nullish(AddressSchema),
});

const LineItemSchema = z.looseObject({
  itemNo: z.nullish(z.union([maxString(200), z.pipe(z.number(), z.transform(String))])),
  productTitle: nullishText,
  recurring: z.nullish(z.boolean()),
  accountAmount: z.nullish(amount),
  quantity: nullishInt,
  lineItemType: z.nullish(maxString(64)),
  productPrice: z.nullish(amount),
  paymentsProcessed: z.nullish(z.number().check(z.int(), z.nonnegative())),
  paymentsRemaining: nullishInt,
});

export const NotificationSchema = z.looseObject({
  transactionTime: z.string().check(z.refine((s) => parseTransactionTime(s) !== undefined, 'must be a date-time like 20220810T162015-0700')),
  receipt: z.nullish(z.string().check(z.trim(), z.minLength(1), z.maxLength(100))),
  transactionType: z.string().check(z.trim(), z.minLength(1), z.maxLength(64)),
  vendor: z.nullish(maxString(100)),
  affiliate: z.nullish(maxString(100)),
  role: z.nullish(maxString(32)),
  paymentMethod: z.nullish(maxString(32)),
  totalAccountAmount: z.nullish(amount),
  totalOrderAmount: z.nullish(amount),
  totalTaxAmount: z.nullish(amount),
  totalShippingAmount: z.nullish(amount),
  currency: z.nullish(z.string().check(z.regex(/^[A-Za-z]{3}$/, 'must be an ISO 4217 code'))),
  /** The affiliate's TID(s) from the hop link (`?tid=`). */
  trackingCodes: z.nullish(z.array(maxString(200)).check(z.maxLength(20))),
  /** Extra query parameters the vendor put on the order-form link, by name. */
  vendorVariables: z.nullish(z.record(z.string(), z.unknown())),
  lineItems: z.nullish(z.array(LineItemSchema).check(z.maxLength(200))),
  customer: z.nullish(z.looseObject({ shipping: z.nullish(PersonSchema), billing: z.nullish(PersonSchema) })),
  upsell: z.nullish(z.looseObject({ upsellOriginalReceipt: z.nullish(maxString(100)) })),
  version: z.nullish(z.union([z.number(), maxString(10)])),
  attemptCount: nullishInt,
});

export type Notification = z.infer<typeof NotificationSchema>;
export type Person = z.infer<typeof PersonSchema>;
