/**
 * Fake of Meta's Dataset Quality API (`GET /{version}/dataset_quality?dataset_id=…&fields=web{…}`), mounted by the
 * Meta fake (meta-server.ts) so it answers about the events that fake accepted. Shapes as documented
 * (conversions-api/dataset-quality-api; see lib/ops/meta-dataset-quality.ts): `web[]` per event_name with
 * `event_match_quality{composite_score, match_key_feedback[]{identifier, coverage{percentage},
 * potential_aly_acr_increase{percentage,description}}, diagnostics[]}`, `event_coverage`, `dedupe_key_feedback`,
 * `data_freshness`, `acr`. Graph's error envelope for refusals: 104 without a token, 190 for a bad one, 100/33 for an
 * unknown dataset, and — `denyPermission()` — code 10 for a token lacking the dataset-quality permission.
 * The composite score is the fake's own (a coverage average), not Meta's formula, which is unpublished.
 */
export interface DatasetQualityFake {
  /** Answer the next requests with Graph's permission error (code 10), as for a token without ads_read. */
  denyPermission(on?: boolean): void;
  /** Adds EMQ diagnostics to an event's answer. */
  addDiagnostic(eventName: string, diagnostic: Record<string, unknown>): void;
  requests: { query: Record<string, string>; status: number }[];
}

/** Meta's user_data key → the identifier name the Dataset Quality API reports (email, ip_address, user_agent, external_id as in Meta's examples). */
const IDENTIFIERS: Record<string, string> = {
  em: 'email', ph: 'phone', client_ip_address: 'ip_address', client_user_agent: 'user_agent', external_id: 'external_id',
  fbc: 'click_id', fbp: 'browser_id', fn: 'first_name', ln: 'last_name', ct: 'city', st: 'state', zp: 'zip', country: 'country',
};
/** The documented Purchase example's uplift figures (email 58.96 %, IP 20.65 %); the rest are the fake's. */
const UPLIFT: Record<string, number> = { email: 58.96, ip_address: 20.65, phone: 14.2, click_id: 11.8, external_id: 6.1, browser_id: 3.4 };

type Error = (status: number, body: unknown) => { status: number; body: unknown };

export function createDatasetQualityFake(opts: { pixelId?: string; accessToken?: string; events: () => any[]; error: (code: number, message: string, extra?: { subcode?: number; type?: string }) => unknown }) {
  let denied = false;
  const diagnostics = new Map<string, Record<string, unknown>[]>();
  const requests: DatasetQualityFake['requests'] = [];
  const reply: Error = (status, body) => ({ status, body });

  const handle = (method: string, pathname: string, query: Record<string, string>, token: string | undefined) => {
    if (!/^\/v\d+\.\d+\/dataset_quality\/?$/.test(pathname)) return undefined;
    const answer = (() => {
      if (method !== 'GET') return reply(400, opts.error(100, `Unsupported ${method.toLowerCase()} request.`, { type: 'GraphMethodException' }));
      if (!token) return reply(400, opts.error(104, 'An access token is required to request this resource.'));
      if (opts.accessToken !== undefined && token !== opts.accessToken) return reply(400, opts.error(190, 'Invalid OAuth access token - Cannot parse access token'));
      if (!query.dataset_id) return reply(400, opts.error(100, '(#100) The parameter dataset_id is required'));
      if (opts.pixelId !== undefined && query.dataset_id !== opts.pixelId) {
        return reply(400, opts.error(100, `Unsupported get request. Object with ID '${query.dataset_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`, { subcode: 33, type: 'GraphMethodException' }));
      }
      if (denied) return reply(403, opts.error(10, '(#10) Application does not have permission for this action'));
      if (!/^web\{.*\}$/.test(query.fields ?? '')) return reply(400, opts.error(100, '(#100) The web field is required'));
      // EMQ covers web events only.
      const byName = new Map<string, any[]>();
      for (const e of opts.events()) if (e.action_source === 'website') byName.set(e.event_name, [...(byName.get(e.event_name) ?? []), e]);
      const web = [...byName.entries()].map(([name, events]) => {
        const counts = new Map<string, number>();
        for (const e of events) for (const k of Object.keys(e.user_data ?? {})) if (IDENTIFIERS[k]) counts.set(IDENTIFIERS[k], (counts.get(IDENTIFIERS[k]) ?? 0) + 1);
        const feedback = [...counts.entries()].map(([identifier, n]) => ({
          identifier,
          coverage: { percentage: Math.round((n / events.length) * 1000) / 10 },
          ...(UPLIFT[identifier] ? { potential_aly_acr_increase: { percentage: UPLIFT[identifier], description: `Similar advertisers who sent valid ${identifier} for ${name} saw a ${UPLIFT[identifier]}% median increase in their existing additional conversions reported.` } } : {}),
        }));
        const cov = (id: string) => (counts.get(id) ?? 0) / events.length;
        const composite = Math.round(Math.min(10, 1 + 4 * cov('email') + 2 * cov('phone') + 1.5 * cov('ip_address') + 1.5 * cov('click_id')) * 10) / 10;
        return {
          event_name: name,
          event_match_quality: { composite_score: composite, match_key_feedback: feedback, diagnostics: diagnostics.get(name) ?? [] },
          event_coverage: { percentage: 0, goal_percentage: 75, description: 'The percentage of events received from your Conversions API compared to unique browser events from the Meta Pixel.' },
          dedupe_key_feedback: [{ dedupe_key: 'event_id', server_events_with_dedupe_key: { percentage: 100 }, overall_browser_coverage_from_dedupe_key: { percentage: 0 } }],
          data_freshness: { upload_frequency: 'real_time', description: 'The average frequency with which instances of this event are received through the Conversions API.' },
          acr: { percentage: 0, description: 'In the last 7 days, you saw about 0% more conversions reported by using the Conversions API alongside the Meta Pixel.' },
        };
      });
      return reply(200, { web });
    })();
    requests.push({ query, status: answer.status });
    return answer;
  };

  const control: DatasetQualityFake = {
    denyPermission: (on = true) => void (denied = on),
    addDiagnostic: (eventName, d) => void diagnostics.set(eventName, [...(diagnostics.get(eventName) ?? []), d]),
    requests,
  };
  return { handle, control };
}
