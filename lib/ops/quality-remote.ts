import type { Settings } from '../../functions/sources/types.ts';
import { fetchMetaDatasetQuality } from './meta-dataset-quality.ts';
import { eqsLookback, fetchPinterestEqs } from './pinterest-eqs.ts';
import type { RemoteVerdict } from './quality.ts';
import { destinationSettings } from './settings.ts';
import type { Target } from './target.ts';

/**
 * The platforms' own verdicts for the quality report, where a platform has an API for it: Meta's Dataset Quality and
 * Pinterest's Event Quality Score, each read with the destination's own credentials (its secret on AWS, else the
 * environment). Google's verdict needs no call: the follow-up keeps it on the ledger rows. TikTok, GA4, LinkedIn and
 * Snapchat offer no such API (quality-backfill.md A2). A refusal becomes a message; nothing here throws.
 */
const REMOTE: Record<string, { platform: string; fetch(settings: Settings, since: Date): Promise<{ ok: true; [k: string]: unknown } | { ok: false; message: string } | undefined> }> = {
  meta: { platform: 'Meta Dataset Quality API', fetch: (settings) => fetchMetaDatasetQuality(settings) },
  pinterest: { platform: 'Pinterest Event Quality Score API', fetch: (settings, since) => fetchPinterestEqs(settings, { lookback: eqsLookback(since) }) },
};

export async function fetchRemoteVerdicts(target: Target, destinations: readonly string[], since: Date, local: Settings, warn: (message: string) => void): Promise<Record<string, RemoteVerdict>> {
  const out: Record<string, RemoteVerdict> = {};
  for (const d of destinations) {
    const remote = REMOTE[d];
    if (!remote) continue;
    const { settings, warning } = await destinationSettings(target, d, local);
    if (warning) warn(warning);
    const verdict = await remote.fetch(settings, since);
    // Without credentials there is no verdict; if that is because the secret could not be read, say so.
    if (verdict) out[d] = { platform: remote.platform, ...verdict } as RemoteVerdict;
    else if (warning) out[d] = { platform: remote.platform, ok: false, message: `no credentials: ${warning}` };
  }
  return out;
}
