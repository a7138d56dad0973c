import { SHA256_HEX, startConversionApiFake, type ConversionApiFake } from './conversion-api-fake.ts';

/**
 * Pinterest `POST /v5/ad_accounts/{id}/events` as its OpenAPI documents it (platforms-more.md §2): Bearer token,
 * `data` of 1..1000, required event_name / action_source / event_time (seconds) / event_id / user_data, hashed
 * arrays of SHA-256 hex, `em` or IP + UA, value a string; per-event results, 422 code 953 when any event failed,
 * 401 code 2 for a wrong token. `?test=true` validates without keeping events.
 */
export type PinterestFake = ConversionApiFake<any>;

const EVENT_NAMES = new Set(['add_payment_info', 'add_to_cart', 'add_to_wishlist', 'app_install', 'checkout', 'custom', 'initiate_checkout', 'lead', 'page_visit', 'search', 'signup', 'subscribe', 'view_category', 'view_content', 'watch_video']);
const HASHED = ['em', 'ph', 'fn', 'ln', 'ct', 'st', 'zp', 'country', 'external_id'];

export function pinterestEventError(e: any, nowSeconds: number): string | undefined {
  if (!EVENT_NAMES.has(e?.event_name)) return `event_name: invalid value ${e?.event_name}`;
  if (!['web', 'offline', 'app_android', 'app_ios'].includes(e.action_source)) return 'action_source: invalid value';
  if (!Number.isInteger(e.event_time) || e.event_time > nowSeconds + 60 || e.event_time < 1e9 || e.event_time > 1e10) return 'event_time must be Unix seconds';
  if (typeof e.event_id !== 'string' || !e.event_id) return 'event_id is required';
  const u = e.user_data;
  if (typeof u !== 'object' || !u) return 'user_data is required';
  for (const key of HASHED) if (key in u && !(Array.isArray(u[key]) && u[key].every((h: unknown) => typeof h === 'string' && SHA256_HEX.test(h)))) return `user_data.${key} must be an array of SHA-256 hashes`;
  if (!u.em && !(u.client_ip_address && u.client_user_agent)) return 'user_data needs em, hashed_maids or client_ip_address + client_user_agent';
  if (e.custom_data?.value !== undefined && typeof e.custom_data.value !== 'string') return 'custom_data.value must be a string';
  return undefined;
}

export function startPinterestFake(opts: { adAccountId: string; accessToken: string }): Promise<PinterestFake> {
  return startConversionApiFake(
    (body) => (Array.isArray(body?.data) ? body.data : []),
    ({ url, headers, body }) => {
      if (url.pathname !== `/v5/ad_accounts/${opts.adAccountId}/events`) return { status: 404, body: { code: 404, message: 'Not found' } };
      if (headers.authorization !== `Bearer ${opts.accessToken}`) return { status: 401, body: { code: 2, message: 'Authentication failed.' } };
      if (!Array.isArray(body.data) || body.data.length < 1 || body.data.length > 1000) return { status: 400, body: { code: 4196, message: 'data must hold 1 to 1000 events' } };
      const now = Math.floor(Date.now() / 1000);
      const results = body.data.map((e: any) => {
        const error = pinterestEventError(e, now);
        return error ? { status: 'failed', error_message: error, warning_message: null } : { status: 'processed', error_message: null, warning_message: null };
      });
      const kept = url.searchParams.get('test') === 'true' ? [] : body.data.filter((_: unknown, i: number) => results[i].status === 'processed');
      const summary = { num_events_received: body.data.length, num_events_processed: body.data.length - results.filter((r: any) => r.status === 'failed').length, events: results };
      return results.some((r: any) => r.status === 'failed')
        ? { status: 422, body: { code: 953, message: 'Not all events were successfully processed', details: summary }, accepted: kept }
        : { status: 200, body: summary, accepted: kept };
    },
  );
}
