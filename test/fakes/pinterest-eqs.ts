import { createServer } from 'node:http';
import { listenOnLoopback } from './http.ts';

/**
 * Fake of Pinterest's Event Quality Score API, `GET /v5/ad_accounts/{ad_account_id}/conversion_eqs` (see
 * lib/ops/pinterest-eqs.ts for the documented shapes): Bearer token, `lookback_period` required (1d | 14d),
 * `source_platform` (MOBILE | WEB) and `ingestion_source` (CONVERSIONS_API | TAG | MMP) optional and checked. It
 * answers about the events it is given (those the Pinterest fake accepted): per parameter and event type the share
 * of events carrying it. The overall status is the fake's own rule (Pinterest does not publish its rating).
 * Errors in Pinterest's v5 shape `{code, message}`: 401 code 2 for a wrong token, 400 for a bad parameter, and —
 * `denyScope()` — 401 code 3 for a token without `ads:read` (the answer Pinterest gives a token lacking a scope,
 * pinterest/api-quickstart#97).
 */
export interface PinterestEqsFake {
  baseUrl: string;
  requests: { path: string; query: Record<string, string>; status: number; authorization?: string }[];
  denyScope(on?: boolean): void;
  /** Adds an issue to a parameter × event type of the answer. */
  addIssue(parameter: string, eventType: string, issue: { id: string; name: string; reason: string }): void;
  close(): Promise<void>;
}

/** Pinterest `events` user_data / event keys → the quality component the EQS reports (names of Pinterest's OpenAPI). */
const COMPONENTS: Record<string, (e: any) => boolean> = {
  hashed_email: (e) => Array.isArray(e.user_data?.em) && e.user_data.em.length > 0,
  ip_address: (e) => typeof e.user_data?.client_ip_address === 'string',
  user_agent: (e) => typeof e.user_data?.client_user_agent === 'string',
  advertiser_external_id: (e) => Array.isArray(e.user_data?.external_id) && e.user_data.external_id.length > 0,
  click_id_epik: (e) => typeof e.user_data?.click_id === 'string',
  hashed_maid: (e) => Array.isArray(e.user_data?.hashed_maids) && e.user_data.hashed_maids.length > 0,
  external_event_id: (e) => typeof e.event_id === 'string',
  order_id: (e) => typeof e.custom_data?.order_id === 'string',
  order_value: (e) => e.custom_data?.value !== undefined,
  product_id: (e) => Array.isArray(e.custom_data?.content_ids) && e.custom_data.content_ids.length > 0,
  source_url: (e) => typeof e.event_source_url === 'string',
};

export async function startPinterestEqsFake(opts: { adAccountId: string; accessToken: string; events: () => any[] }): Promise<PinterestEqsFake> {
  let denied = false;
  const issues = new Map<string, { id: string; name: string; reason: string }[]>();
  const requests: PinterestEqsFake['requests'] = [];

  const answer = (method: string, url: URL, authorization: string | undefined): { status: number; body: unknown } => {
    const path = /^\/v5\/ad_accounts\/([^/]+)\/conversion_eqs\/?$/.exec(url.pathname);
    if (!path) return { status: 404, body: { code: 404, message: 'Not found' } };
    if (method !== 'GET') return { status: 405, body: { code: 405, message: 'Method not allowed' } };
    if (authorization !== `Bearer ${opts.accessToken}`) return { status: 401, body: { code: 2, message: 'Authentication failed.' } };
    if (denied) return { status: 401, body: { code: 3, message: 'Your token does not have sufficient permissions to perform this operation. Please ensure your token is authorized with the correct set of scopes.' } };
    if (path[1] !== opts.adAccountId) return { status: 404, body: { code: 2601, message: 'Ad account not found.' } };
    const q = url.searchParams;
    if (!['1d', '14d'].includes(q.get('lookback_period') ?? '')) return { status: 400, body: { code: 1, message: 'lookback_period: must be one of 1d, 14d' } };
    if (q.has('source_platform') && !['MOBILE', 'WEB'].includes(q.get('source_platform')!)) return { status: 400, body: { code: 1, message: 'source_platform: invalid value' } };
    if (q.has('ingestion_source') && !['CONVERSIONS_API', 'TAG', 'MMP'].includes(q.get('ingestion_source')!)) return { status: 400, body: { code: 1, message: 'ingestion_source: invalid value' } };
    const platform = q.get('source_platform');
    const events = opts.events().filter((e) => !platform || platform === (e.action_source === 'web' ? 'WEB' : 'MOBILE'));
    if (events.length === 0) return { status: 200, body: [] };
    const byType = new Map<string, any[]>();
    for (const e of events) byType.set(e.event_name, [...(byType.get(e.event_name) ?? []), e]);
    const quality_components: Record<string, Record<string, unknown>> = {};
    for (const [component, has] of Object.entries(COMPONENTS)) {
      for (const [type, list] of byType) {
        const coverage = Math.round((list.filter(has).length / list.length) * 1000) / 10;
        if (coverage === 0 && !issues.has(`${component}|${type}`)) continue;
        const found = issues.get(`${component}|${type}`);
        (quality_components[component] ??= {})[type] = { coverage, ...(component === 'external_event_id' ? { overlap: 0 } : {}), ...(found ? { issues: found } : {}) };
      }
    }
    const emailShare = events.filter(COMPONENTS.hashed_email).length / events.length;
    const overall_status = emailShare >= 0.9 ? 'GOOD' : emailShare >= 0.5 ? 'FAIR' : 'NEEDS_IMPROVEMENT';
    return {
      status: 200,
      body: [{ overall_status, source_platform: q.get('source_platform') ?? 'WEB', ingestion_source: q.get('ingestion_source') ?? 'CONVERSIONS_API', lookback_period: q.get('lookback_period'), quality_components }],
    };
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const a = answer(req.method ?? 'GET', url, req.headers.authorization);
    requests.push({ path: url.pathname, query: Object.fromEntries(url.searchParams), status: a.status, authorization: req.headers.authorization });
    res.writeHead(a.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(a.body));
  });
  const { baseUrl, close } = await listenOnLoopback(server);
  return {
    baseUrl,
    requests,
    denyScope: (on = true) => void (denied = on),
    addIssue: (parameter, eventType, issue) => void issues.set(`${parameter}|${eventType}`, [...(issues.get(`${parameter}|${eventType}`) ?? []), issue]),
    close,
  };
}
