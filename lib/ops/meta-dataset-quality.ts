import { metaDestination } from '../../functions/destinations/meta/index.ts';
import type { Settings } from '../../functions/sources/types.ts';

/**
 * Meta's own verdict on a dataset (pixel): the Dataset Quality API (formerly Integration Quality),
 * `GET {graph}/{version}/dataset_quality?dataset_id=…&access_token=…&fields=web{…}`. Checked against Meta's page
 * developers.facebook.com/docs/marketing-api/conversions-api/dataset-quality-api (copy updated Dec 2025):
 * - `web[]` per `event_name`: `event_match_quality{composite_score, match_key_feedback[]{identifier,
 *   coverage{percentage}, potential_aly_acr_increase{percentage,description}}, diagnostics[]{name, description,
 *   solution, percentage, affected_event_count, total_event_count}}`, `event_coverage{percentage, goal_percentage}`,
 *   `dedupe_key_feedback[]{dedupe_key, server_events_with_dedupe_key{percentage}, …}` (the fields table spells it
 *   `dedup_key_feedback`; every example, and Meta's SDK field list, use `dedupe_…`, as here),
 *   `data_freshness{upload_frequency}`, `acr{percentage}`;
 * - web events only (EMQ is not computed for offline, app or CRM events);
 * - access: user permission "Partial access → Use events dataset"; app permissions `ads_read` + `ads_management`
 *   or `business_management`. A token generated in Events Manager can read it (one made before July 2025 needs
 *   the opt-in in Events Manager); client system-user tokens cannot.
 * Unverified: the exact error a token without the permission gets. Graph answers a missing permission with code 10
 * ("Application does not have permission for this action") or 200 ("Permissions error"), an unknown or inaccessible
 * dataset with 100/33; the offline-events page names 10 and 2044055 (unknown dataset). All are reported in words.
 */
export interface MetaDatasetQuality {
  eventName: string;
  compositeScore?: number;
  matchKeys: { identifier: string; coverage?: number; upliftPercent?: number }[];
  diagnostics: { name: string; solution?: string; percentage?: number; affected?: number; total?: number }[];
  eventCoverage?: number;
  dedupe: { key: string; serverPercent?: number; browserCoveragePercent?: number }[];
  uploadFrequency?: string;
  acrPercent?: number;
}

export const DATASET_QUALITY_FIELDS =
  'web{event_name,event_match_quality{composite_score,match_key_feedback{identifier,coverage{percentage},potential_aly_acr_increase{percentage,description}},diagnostics},' +
  'event_coverage{percentage,goal_percentage},dedupe_key_feedback{dedupe_key,server_events_with_dedupe_key{percentage},overall_browser_coverage_from_dedupe_key{percentage}},' +
  'data_freshness{upload_frequency},acr{percentage}}';

export type MetaVerdict = { ok: true; events: MetaDatasetQuality[] } | { ok: false; message: string };

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const pctOf = (v: any) => num(v?.percentage);

export function parseDatasetQuality(body: any): MetaDatasetQuality[] {
  const web: any[] = Array.isArray(body?.web) ? body.web : [];
  return web.map((row) => ({
    eventName: String(row?.event_name ?? '?'),
    compositeScore: num(row?.event_match_quality?.composite_score),
    matchKeys: (Array.isArray(row?.event_match_quality?.match_key_feedback) ? row.event_match_quality.match_key_feedback : []).map((k: any) => ({
      identifier: String(k?.identifier ?? '?'),
      coverage: pctOf(k?.coverage),
      upliftPercent: pctOf(k?.potential_aly_acr_increase),
    })),
    diagnostics: (Array.isArray(row?.event_match_quality?.diagnostics) ? row.event_match_quality.diagnostics : []).map((d: any) => ({
      name: String(d?.name ?? '?'),
      solution: typeof d?.solution === 'string' ? d.solution : undefined,
      percentage: num(d?.percentage),
      affected: num(d?.affected_event_count),
      total: num(d?.total_event_count),
    })),
    eventCoverage: pctOf(row?.event_coverage),
    dedupe: (Array.isArray(row?.dedupe_key_feedback) ? row.dedupe_key_feedback : []).map((d: any) => ({
      key: String(d?.dedupe_key ?? '?'),
      serverPercent: pctOf(d?.server_events_with_dedupe_key),
      browserCoveragePercent: pctOf(d?.overall_browser_coverage_from_dedupe_key),
    })),
    uploadFrequency: typeof row?.data_freshness?.upload_frequency === 'string' ? row.data_freshness.upload_frequency : undefined,
    acrPercent: pctOf(row?.acr),
  }));
}

/** What to tell the operator when Graph refuses: the fix, not only the code. */
export function explainGraphError(status: number, error: any): string {
  const code = num(error?.code);
  const sub = num(error?.error_subcode);
  const said = `Meta answered HTTP ${status}${code !== undefined ? `, code ${code}${sub !== undefined ? `/${sub}` : ''}` : ''}: ${error?.message ?? 'no message'}`;
  if (code === 10 || code === 200 || (code !== undefined && code >= 200 && code < 300)) {
    return `${said}. The CAPI token may not read dataset quality: it needs the "Use events dataset" permission on the dataset and the app permissions ads_read + ads_management (or business_management). A token generated in Events Manager can read it; one made before July 2025 needs the opt-in there first.`;
  }
  if (code === 190 || code === 102) return `${said}. The token is invalid or expired: generate a new one in Events Manager → Settings → Conversions API.`;
  if (code === 100 || code === 2044055) return `${said}. Check META_PIXEL_ID: the dataset is unknown, or this token has no access to it.`;
  if (code === 4 || code === 17 || code === 613 || code === 80004) return `${said}. Rate-limited: try again later.`;
  return said;
}

/** Fetches the Dataset Quality of the configured pixel with the configured CAPI token; never throws. */
export async function fetchMetaDatasetQuality(settings: Settings, fetcher: typeof fetch = fetch): Promise<MetaVerdict | undefined> {
  let configured;
  try {
    configured = metaDestination.configure(settings);
  } catch (err) {
    return { ok: false, message: `Meta settings are invalid: ${(err as Error).message}` };
  }
  if (!configured.config) return undefined;
  const { baseUrl, apiVersion, pixelId, accessToken } = configured.config;
  const url = new URL(`${baseUrl}/${apiVersion}/dataset_quality`);
  url.searchParams.set('dataset_id', pixelId);
  url.searchParams.set('fields', DATASET_QUALITY_FIELDS);
  try {
    // The token goes in a header, not the URL, so it never lands in a proxy's access log (Graph accepts both).
    const res = await fetcher(url, { headers: { authorization: `Bearer ${accessToken}` }, signal: AbortSignal.timeout(15_000) });
    const body: any = await res.json().catch(() => undefined);
    if (!res.ok || body?.error) return { ok: false, message: explainGraphError(res.status, body?.error) };
    return { ok: true, events: parseDatasetQuality(body) };
  } catch (err) {
    return { ok: false, message: `Could not reach Meta's Dataset Quality API at ${url.origin}: ${(err as Error).message}` };
  }
}
