import { SHA256_HEX, startConversionApiFake, type ConversionApiFake } from './conversion-api-fake.ts';

/**
 * Reddit `POST /api/v3/pixels/{pixel_id}/conversion_events` as Reddit's v3 docs describe it (platforms-more.md §4;
 * the docs captured in segmentio/action-destinations `reddit-conversions-api/V3-API-REFERENCE.md`):
 * - `Authorization: Bearer <conversion access token>`: none → 401 "No bearer token provided", a wrong one → 401
 *   `{success: false, error: {reason: "UNAUTHORIZED"}}`;
 * - body `{data: {test_id?, partner?, events: [1..1000]}}`; more than 1000 → 400 "Bad Request"; a field Reddit does
 *   not know (e.g. `test_id` inside an event) → 400 `JSON error "unknown field" on field "…"`;
 * - per event: `event_at` integer Unix **ms**, at most 168 h old and 5 min ahead; `action_source` upper case
 *   `WEBSITE|APP|PHYSICAL_STORE|OTHER` (else "invalid action_source: web"); `type.tracking_type` of Reddit's enum,
 *   `CUSTOM` with a `custom_event_name` ≤ 64; `event_source_url` only on WEBSITE events; `metadata.value` (a number)
 *   and `currency` together, neither on PAGE_VISIT / VIEW_CONTENT / SEARCH; a match key (`click_id` or a `user` key
 *   other than data_processing_options / screen_dimensions);
 * - `user.email` / `phone_number` / `external_id`: Reddit takes them hashed or clear; the relay promises hashes, so
 *   this fake accepts only SHA-256 hex there (a clear value would be raw personal data leaving the relay);
 * - one invalid event rejects the request: 400 "There were N invalid conversion events. None were processed." with
 *   `invalid_events[{error_message, event}]`; success: 200 `{data: {message: "Successfully processed N conversion events."}}`;
 * - `test_id` (Event Testing): validated and answered alike, kept nowhere (`testEvents()` lists them).
 */
export type RedditFake = ConversionApiFake<any> & { testEvents(): any[] };

const DATA_KEYS = new Set(['test_id', 'partner', 'events']);
const EVENT_KEYS = new Set(['event_at', 'action_source', 'type', 'click_id', 'event_source_url', 'metadata', 'user']);
const USER_KEYS = new Set(['email', 'phone_number', 'external_id', 'ip_address', 'user_agent', 'uuid', 'idfa', 'aaid', 'screen_dimensions', 'data_processing_options']);
const TRACKING_TYPES = new Set(['PAGE_VISIT', 'VIEW_CONTENT', 'SEARCH', 'ADD_TO_CART', 'ADD_TO_WISHLIST', 'LEAD', 'PURCHASE', 'SIGN_UP', 'CUSTOM']);
const ACTION_SOURCES = new Set(['WEBSITE', 'APP', 'PHYSICAL_STORE', 'OTHER']);
const WITHOUT_VALUE = new Set(['PAGE_VISIT', 'VIEW_CONTENT', 'SEARCH']);
const HASHED = ['email', 'phone_number', 'external_id'];
const MAX_AGE_MS = 168 * 3600_000;

/** Reddit's schema error (the request is not read further). */
export const redditSchemaError = (message: string) => ({ error: { code: 400, message } });
/** Reddit's answer to a request with invalid events: nothing of it is processed. */
export const redditInvalid = (messages: string[], events: unknown[] = []) => ({
  message: `There were ${messages.length} invalid conversion events. None were processed.`,
  invalid_events: messages.map((error_message, i) => ({ error_message, event: events[i] ?? {} })),
});

const unknownField = (obj: Record<string, unknown>, known: Set<string>) => Object.keys(obj).find((k) => !known.has(k));

/** A schema error (answered as `JSON error …`) or undefined. */
function schemaError(e: any): string | undefined {
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return 'JSON error: each event must be an object';
  const extra = unknownField(e, EVENT_KEYS) ?? (e.user && typeof e.user === 'object' ? unknownField(e.user, USER_KEYS) : undefined);
  if (extra) return `JSON error "unknown field" on field "${extra}"`;
  if (e.action_source === undefined) return 'missing action_source';
  if (!ACTION_SOURCES.has(e.action_source)) return `invalid action_source: ${e.action_source}`;
  return undefined;
}

/** Why Reddit would refuse one event (an entry of invalid_events), or undefined. */
export function redditEventError(e: any, nowMs: number): string | undefined {
  if (!Number.isInteger(e.event_at) || e.event_at < 1e12) return 'event_at must be a Unix timestamp in milliseconds';
  if (e.event_at < nowMs - MAX_AGE_MS) return 'event_at timestamp must be less than 168h0m0s old';
  if (e.event_at > nowMs + 5 * 60_000) return 'event_at timestamp must not be more than 5m0s in the future';
  const type = e.type?.tracking_type;
  if (!TRACKING_TYPES.has(type)) return `invalid tracking_type: ${type}`;
  if (type === 'CUSTOM' && !(typeof e.type.custom_event_name === 'string' && e.type.custom_event_name.length >= 1 && e.type.custom_event_name.length <= 64)) return 'custom_event_name is required for CUSTOM events (1 to 64 characters)';
  if (e.event_source_url !== undefined && e.action_source !== 'WEBSITE') return 'event_source_url is only accepted for WEBSITE events';
  const m = e.metadata ?? {};
  if (m.conversion_id !== undefined && (typeof m.conversion_id !== 'string' || !m.conversion_id)) return 'metadata.conversion_id must be a string';
  if ((m.value === undefined) !== (m.currency === undefined)) return 'metadata.value and metadata.currency must be sent together';
  if (m.value !== undefined && (typeof m.value !== 'number' || !Number.isFinite(m.value) || m.value < 0)) return 'metadata.value must be a number';
  if (m.currency !== undefined && !/^[A-Z]{3}$/.test(m.currency)) return 'metadata.currency must be an ISO 4217 code';
  if (WITHOUT_VALUE.has(type) && (m.value !== undefined || m.item_count !== undefined)) return `metadata.value and item_count are not accepted for ${type}`;
  if (m.item_count !== undefined && !(Number.isInteger(m.item_count) && m.item_count > 0)) return 'metadata.item_count must be a positive integer';
  const u = e.user ?? {};
  for (const key of HASHED) if (key in u && !(typeof u[key] === 'string' && SHA256_HEX.test(u[key]))) return `user.${key} must be a SHA-256 hex digest here`;
  if (u.data_processing_options !== undefined && !(Array.isArray(u.data_processing_options.modes) && u.data_processing_options.modes.every((mode: unknown) => mode === 'LDU'))) return 'user.data_processing_options.modes must be ["LDU"]';
  const keys = Object.keys(u).filter((k) => k !== 'data_processing_options' && k !== 'screen_dimensions');
  if (!e.click_id && keys.length === 0) return 'a click_id or at least one user match key is required';
  return undefined;
}

export async function startRedditFake(opts: { pixelId: string; accessToken: string }): Promise<RedditFake> {
  const testEvents: any[] = [];
  const fake = await startConversionApiFake(
    (body) => (Array.isArray(body?.data?.events) ? body.data.events : []),
    ({ url, headers, body }) => {
      if (url.pathname !== `/api/v3/pixels/${opts.pixelId}/conversion_events`) return { status: 404, body: { message: 'Not Found' } };
      const auth = String(headers.authorization ?? '');
      if (!auth.startsWith('Bearer ')) return { status: 401, body: { message: 'No bearer token provided' } };
      if (auth !== `Bearer ${opts.accessToken}`) return { status: 401, body: { success: false, error: { reason: 'UNAUTHORIZED', explanation: 'The access token could not be authenticated' } } };
      const data = body?.data;
      if (typeof data !== 'object' || data === null || Array.isArray(data)) return { status: 400, body: redditSchemaError('JSON error: missing data') };
      const extra = unknownField(data, DATA_KEYS);
      if (extra) return { status: 400, body: redditSchemaError(`JSON error "unknown field" on field "${extra}"`) };
      if (!Array.isArray(data.events) || data.events.length < 1) return { status: 400, body: redditSchemaError('data.events must hold at least one event') };
      if (data.events.length > 1000) return { status: 400, body: { message: 'Bad Request' } };
      for (const e of data.events) {
        const schema = schemaError(e);
        if (schema) return { status: 400, body: redditSchemaError(schema) };
      }
      const now = Date.now();
      const invalid = data.events.map((e: any) => ({ e, error: redditEventError(e, now) })).filter((x: { error?: string }) => x.error);
      if (invalid.length) return { status: 400, body: redditInvalid(invalid.map((x: { error: string }) => x.error), invalid.map((x: { e: unknown }) => x.e)) };
      const answer = { data: { message: `Successfully processed ${data.events.length} conversion events.` } };
      if (data.test_id !== undefined) {
        testEvents.push(...data.events);
        return { status: 200, body: answer, accepted: [] };
      }
      return { status: 200, body: answer, accepted: data.events };
    },
  );
  const reset = fake.reset;
  return {
    ...fake,
    testEvents: () => [...testEvents],
    reset: () => {
      reset();
      testEvents.length = 0;
    },
  };
}
