import * as z from 'zod';

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
const amount = z.union([z.number().finite(), z.string().regex(/^-?\d+(\.\d+)?$/, 'must be a decimal number').transform(Number)]);
const text = z.string().max(1000);

const AddressSchema = z
  .object({
    address1: text.nullish(),
    address2: text.nullish(),
    city: text.nullish(),
    county: text.nullish(),
    state: text.nullish(),
    postalCode: text.nullish(),
    country: text.nullish(),
  })
  .loose();

const PersonSchema = z
  .object({
    firstName: text.nullish(),
    lastName: text.nullish(),
    fullName: text.nullish(),
    phoneNumber: text.nullish(),
    email: text.nullish(),
    address: AddressSchema.nullish(),
  })
  .loose();

const LineItemSchema = z
  .object({
    itemNo: z.union([z.string().max(200), z.number().transform(String)]).nullish(),
    productTitle: text.nullish(),
    recurring: z.boolean().nullish(),
    accountAmount: amount.nullish(),
    quantity: z.number().int().nullish(),
    lineItemType: z.string().max(64).nullish(),
    productPrice: amount.nullish(),
    paymentsProcessed: z.number().int().nonnegative().nullish(),
    paymentsRemaining: z.number().int().nullish(),
  })
  .loose();

export const NotificationSchema = z
  .object({
    transactionTime: z.string().refine((s) => parseTransactionTime(s) !== undefined, 'must be a date-time like 20220810T162015-0700'),
    receipt: z.string().trim().min(1).max(100).nullish(),
    transactionType: z.string().trim().min(1).max(64),
    vendor: z.string().max(100).nullish(),
    affiliate: z.string().max(100).nullish(),
    role: z.string().max(32).nullish(),
    paymentMethod: z.string().max(32).nullish(),
    totalAccountAmount: amount.nullish(),
    totalOrderAmount: amount.nullish(),
    totalTaxAmount: amount.nullish(),
    totalShippingAmount: amount.nullish(),
    currency: z.string().regex(/^[A-Za-z]{3}$/, 'must be an ISO 4217 code').nullish(),
    /** The affiliate's TID(s) from the hop link (`?tid=`). */
    trackingCodes: z.array(z.string().max(200)).max(20).nullish(),
    /** Extra query parameters the vendor put on the order-form link, by name. */
    vendorVariables: z.record(z.string(), z.unknown()).nullish(),
    lineItems: z.array(LineItemSchema).max(200).nullish(),
    customer: z.object({ shipping: PersonSchema.nullish(), billing: PersonSchema.nullish() }).loose().nullish(),
    upsell: z.object({ upsellOriginalReceipt: z.string().max(100).nullish() }).loose().nullish(),
    version: z.union([z.number(), z.string().max(10)]).nullish(),
    attemptCount: z.number().int().nullish(),
  })
  .loose();

export type Notification = z.infer<typeof NotificationSchema>;
export type Person = z.infer<typeof PersonSchema>;
