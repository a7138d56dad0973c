import type { Conversion } from '#core/conversion.ts';
import { baseUrlSetting, missingSettings } from '#destinations/settings.ts';
import type { Destination } from '#destinations/types.ts';
import { classifyGa4Response } from './classify.ts';
import { ga4ClientId } from './client-id.ts';
import { ga4UserFields, toGa4Event, toGa4Request } from './payload.ts';
import { MAX_EVENTS_PER_REQUEST, ga4Problem } from './schema.ts';
import { ga4Route } from './route.ts';

export interface Ga4Config {
  measurementId: string;
  apiSecret: string;
  baseUrl: string;
  /** GA4's test mode: send to the validation server, which checks events and records none. */
  validate: boolean;
}

const DEFAULT_BASE_URL = 'https://www.google-analytics.com';

/** GA4 Measurement Protocol: https://developers.google.com/analytics/devguides/collection/protocol/ga4 */
export const ga4Destination: Destination<Ga4Config> = {
  ...ga4Route,
  // "Requests can have a maximum of 25 events."
  maxBatchSize: MAX_EVENTS_PER_REQUEST,
  settingKeys: ['GA4_MEASUREMENT_ID', 'GA4_API_SECRET', 'GA4_API_BASE_URL', 'GA4_VALIDATE'],

  configure(settings) {
    const validateRaw = settings.GA4_VALIDATE?.trim().toLowerCase() || 'false';
    if (!['true', 'false', '1', '0'].includes(validateRaw)) throw new Error(`GA4_VALIDATE must be true or false, got "${settings.GA4_VALIDATE}"`);
    const missing = missingSettings(settings, ['GA4_MEASUREMENT_ID', 'GA4_API_SECRET']);
    if (missing.length) return { config: undefined, missing };
    const measurementId = settings.GA4_MEASUREMENT_ID!.trim();
    if (!/^G-[A-Z0-9]{4,20}$/.test(measurementId)) throw new Error('GA4_MEASUREMENT_ID must be the web stream’s measurement ID, like G-XXXXXXXXXX');
    return {
      missing: [],
      config: {
        measurementId,
        apiSecret: settings.GA4_API_SECRET!.trim(),
        baseUrl: baseUrlSetting(settings, 'GA4_API_BASE_URL', DEFAULT_BASE_URL),
        validate: validateRaw === 'true' || validateRaw === '1',
      },
    };
  },


  rejectReason(c, now) {
    const problem = ga4Problem({ ...ga4UserFields(c), events: [toGa4Event(c, now)] });
    return problem ? { code: 'ga4_invalid_payload', message: `GA4 would drop this event silently: ${problem}` } : undefined;
  },

  // One client (and one set of user fields) per request.
  groupKey(c) {
    return JSON.stringify(ga4UserFields(c));
  },

  buildRequest(conversions, config, now) {
    const base = config?.baseUrl ?? DEFAULT_BASE_URL;
    const query = new URLSearchParams({
      measurement_id: config?.measurementId ?? '<GA4_MEASUREMENT_ID>',
      // GA4 takes the secret only as a query parameter; it is never logged (dry-run records the placeholder).
      api_secret: config?.apiSecret ?? '<GA4_API_SECRET>',
    });
    return {
      method: 'POST',
      url: `${base}${config?.validate ? '/debug' : ''}/mp/collect?${query}`,
      headers: { 'content-type': 'application/json' },
      body: toGa4Request(conversions, now, config?.validate ?? false),
    };
  },

  classify: classifyGa4Response,

  signals(c: Conversion) {
    const client = ga4ClientId(c);
    const signals = [client?.derivedFrom ? `client_id_from_${client.derivedFrom}` : 'client_id'];
    // Read off the request fields themselves, so the ledger lists exactly what consent let through.
    const fields = ga4UserFields(c);
    if (fields.user_id) signals.push('user_id');
    if (fields.ip_override) signals.push('ip_override');
    const data = fields.user_data;
    if (data?.sha256_email_address) signals.push('sha256_email_address');
    if (data?.sha256_phone_number) signals.push('sha256_phone_number');
    for (const key of Object.keys(data?.address?.[0] ?? {})) signals.push(`address.${key}`);
    return signals;
  },
};

export default ga4Destination;
