import { SHA256_HEX, startConversionApiFake, type ConversionApiFake } from './conversion-api-fake.ts';

/**
 * Snapchat `POST /v3/{pixel}/events?access_token=` (and `/events/validate`) as Snap's SDK schema and docs describe
 * it (platforms-more.md §3): `data` of events with event_name, event_time in **seconds** (a 13-digit ms value is
 * refused), event_id, action_source, hashed `em`/`ph`/… arrays, and `em`, `ph` or IP + UA; at most 2000 events.
 * Answers `{status: "VALID"|"INVALID", reason, errors}`; a wrong token is 401 INVALID.
 */
export type SnapchatFake = ConversionApiFake<any>;

const HASHED = ['em', 'ph', 'fn', 'ln', 'ct', 'st', 'zp', 'country', 'external_id'];

export function snapchatEventError(e: any, nowSeconds: number): string | undefined {
  if (typeof e?.event_name !== 'string' || !/^[A-Z_0-9]+$/.test(e.event_name)) return 'event_name is required';
  if (!Number.isInteger(e.event_time) || e.event_time > 1e10) return 'event_time must be Unix seconds (10 digits)';
  if (e.event_time < nowSeconds - 37 * 86400) return 'event_time is older than 37 days';
  if (typeof e.event_id !== 'string' || !e.event_id) return 'event_id is required';
  if (!['WEB', 'MOBILE_APP', 'OFFLINE'].includes(e.action_source)) return 'action_source is invalid';
  const u = e.user_data ?? {};
  for (const key of HASHED) if (key in u && !(Array.isArray(u[key]) && u[key].every((h: unknown) => typeof h === 'string' && SHA256_HEX.test(h)))) return `user_data.${key} must be an array of SHA-256 hashes`;
  if (!u.em && !u.ph && !(u.client_ip_address && u.client_user_agent)) return 'user_data needs em, ph or client_ip_address + client_user_agent';
  return undefined;
}

export const snapchatInvalid = (message: string) => ({ status: 'INVALID', reason: message, errors: { codes: ['INVALID_EVENT'], error_msgs: [message] } });

export function startSnapchatFake(opts: { pixelId: string; accessToken: string }): Promise<SnapchatFake> {
  return startConversionApiFake(
    (body) => (Array.isArray(body?.data) ? body.data : []),
    ({ url, body }) => {
      const validate = url.pathname === `/v3/${opts.pixelId}/events/validate`;
      if (!validate && url.pathname !== `/v3/${opts.pixelId}/events`) return { status: 404, body: snapchatInvalid('unknown pixel') };
      if (url.searchParams.get('access_token') !== opts.accessToken) return { status: 401, body: { status: 'INVALID', reason: 'Unauthorized', errors: { codes: ['UNAUTHORIZED'], error_msgs: ['invalid access token'] } } };
      if (!Array.isArray(body.data) || body.data.length < 1 || body.data.length > 2000) return { status: 400, body: snapchatInvalid('data must hold 1 to 2000 events') };
      const now = Math.floor(Date.now() / 1000);
      for (const e of body.data) {
        const error = snapchatEventError(e, now);
        // One invalid event: Snap answers one status for the request.
        if (error) return { status: 400, body: snapchatInvalid(error) };
      }
      return { status: 200, body: { status: 'VALID', reason: 'events received' }, accepted: validate ? [] : body.data };
    },
  );
}
