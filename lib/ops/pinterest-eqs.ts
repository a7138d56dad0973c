import { pinterestDestination } from '../../functions/destinations/pinterest/index.ts';
import type { Settings } from '../../functions/sources/types.ts';

/**
 * Pinterest's own verdict on an ad account's conversions: the Event Quality Score API,
 * `GET {api}/v5/ad_accounts/{ad_account_id}/conversion_eqs?lookback_period=1d|14d[&source_platform=WEB|MOBILE]
 * [&ingestion_source=CONVERSIONS_API|TAG|MMP]`, OAuth scope `ads:read` (developers.pinterest.com/docs/track-conversions/
 * get-event-quality-score; Pinterest's OpenAPI 5.23 `conversion_eqs/list`, as generated in oapicf/pinterest-sdk).
 * The answer is an array, one entry per source platform × ingestion source:
 * `{overall_status: GOOD|FAIR|NEEDS_IMPROVEMENT, source_platform, ingestion_source, lookback_period,
 * quality_components: {<parameter, e.g. hashed_email, ip_address, click_id_epik, external_event_id>: {<event type,
 * e.g. checkout>: {coverage (percent, 0–100), overlap (external_event_id only), issues[]{id, name, reason}}}}}`.
 * There is no numeric score: Pinterest rates, and reports coverage per parameter and event type.
 * Errors are `{code, message}`: 401 code 2 "Authentication failed." is a bad token; a token without the scope gets
 * 401 code 3 "Your token does not have sufficient permissions…" (seen in pinterest/api-quickstart#97, for pins:read);
 * 403 (code 29 "not permitted") is a user without access to the ad account. The conversion access token made in Ads
 * Manager cannot read it: Pinterest's OpenAPI (pinterest/api-description v5/openapi.json) accepts the `conversion_token`
 * scheme on `POST /ad_accounts/{id}/events` only ("This security scheme only applies to the conversion events
 * endpoint"), and `conversion_eqs/list` only with OAuth or client credentials carrying `ads:read`. Hence a token of its
 * own, PINTEREST_EQS_TOKEN, so the sending token can stay a conversion token.
 */
export interface PinterestEqs {
  overallStatus?: string;
  sourcePlatform?: string;
  ingestionSource?: string;
  lookbackPeriod?: string;
  /** One row per parameter × event type. */
  components: { parameter: string; eventType: string; coverage?: number; overlap?: number; issues: { id?: string; name: string; reason?: string }[] }[];
}

export type PinterestVerdict = { ok: true; scores: PinterestEqs[] } | { ok: false; message: string };

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

export function parsePinterestEqs(body: unknown): PinterestEqs[] {
  const list: any[] = Array.isArray(body) ? body : [];
  return list.map((entry) => ({
    overallStatus: str(entry?.overall_status),
    sourcePlatform: str(entry?.source_platform),
    ingestionSource: str(entry?.ingestion_source),
    lookbackPeriod: str(entry?.lookback_period),
    components: Object.entries((entry?.quality_components ?? {}) as Record<string, Record<string, any>>).flatMap(([parameter, byEvent]) =>
      Object.entries(byEvent ?? {}).map(([eventType, d]) => ({
        parameter,
        eventType,
        coverage: num(d?.coverage),
        overlap: num(d?.overlap),
        issues: (Array.isArray(d?.issues) ? d.issues : []).map((i: any) => ({ id: str(i?.id), name: String(i?.name ?? i?.id ?? '?'), reason: str(i?.reason) })),
      })),
    ),
  }));
}

/** What to tell the operator when Pinterest refuses: the fix, not only the code. */
export function explainPinterestError(status: number, body: any, adAccountId: string): string {
  const code = num(body?.code);
  const said = `Pinterest answered HTTP ${status}${code !== undefined ? `, code ${code}` : ''}: ${body?.message ?? 'no message'}`;
  if (status === 401 && code === 2) return `${said}. The token is invalid or expired: set PINTEREST_ACCESS_TOKEN to a current one.`;
  if (status === 401 || status === 403) {
    return `${said}. The Event Quality Score needs a token with the ads:read scope and access to ad account ${adAccountId}; the conversion access token from Ads Manager is accepted only for sending events. Generate an OAuth token with ads:read (Pinterest developer app) for a user with access to this ad account and set it as PINTEREST_EQS_TOKEN.`;
  }
  if (status === 404) return `${said}. Check PINTEREST_AD_ACCOUNT_ID: the ad account is unknown, or this token has no access to it.`;
  if (status === 429) return `${said}. Rate-limited: try again later.`;
  return said;
}

/**
 * Fetches the Event Quality Score of the configured ad account for the relay's own events (ingestion source
 * CONVERSIONS_API), over 1 day when the report covers a day or less, else 14 days (the two windows Pinterest offers).
 * Uses PINTEREST_EQS_TOKEN when set, else PINTEREST_ACCESS_TOKEN. Never throws; undefined without Pinterest credentials.
 */
export async function fetchPinterestEqs(settings: Settings, opts: { lookback: '1d' | '14d' }, fetcher: typeof fetch = fetch): Promise<PinterestVerdict | undefined> {
  let configured;
  try {
    configured = pinterestDestination.configure(settings);
  } catch (err) {
    return { ok: false, message: `Pinterest settings are invalid: ${(err as Error).message}` };
  }
  if (!configured.config) return undefined;
  const { baseUrl, adAccountId, accessToken } = configured.config;
  // A conversion token cannot read the score (see above); an older setup with an OAuth token in PINTEREST_ACCESS_TOKEN still works.
  const token = settings.PINTEREST_EQS_TOKEN?.trim() || accessToken;
  const url = new URL(`${baseUrl}/v5/ad_accounts/${adAccountId}/conversion_eqs`);
  url.searchParams.set('lookback_period', opts.lookback);
  url.searchParams.set('ingestion_source', 'CONVERSIONS_API');
  try {
    const res = await fetcher(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, signal: AbortSignal.timeout(15_000) });
    const body: any = await res.json().catch(() => undefined);
    if (!res.ok) return { ok: false, message: explainPinterestError(res.status, body, adAccountId) };
    if (!Array.isArray(body)) return { ok: false, message: `Pinterest's Event Quality Score API answered HTTP ${res.status} without the documented list` };
    return { ok: true, scores: parsePinterestEqs(body) };
  } catch (err) {
    return { ok: false, message: `Could not reach Pinterest's Event Quality Score API at ${url.origin}: ${(err as Error).message}` };
  }
}

/** The EQS window for a report: Pinterest offers 1 day or 14 days. */
export const eqsLookback = (since: Date, now = new Date()): '1d' | '14d' => (now.getTime() - since.getTime() <= 86400_000 ? '1d' : '14d');
