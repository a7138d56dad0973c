import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import type { Settings } from '#sources/types.ts';

/**
 * A function's settings: its environment, overlaid in AWS with the JSON object in its own Secrets Manager
 * secret (`RELAY_SECRET_ARN`), which is where credentials live. Cached for 5 minutes, so a rotated secret is
 * picked up without a redeploy. The local runner sets no ARN and reads the environment (and `.env`) only.
 */
export async function loadSettings(): Promise<Settings> {
  const arn = process.env.RELAY_SECRET_ARN;
  if (!arn) return process.env;
  const secret = await getSecret<Record<string, unknown>>(arn, { transform: 'json', maxAge: 300 });
  // The cache hands back the same object until it refetches: merge once per fetch, not per invocation (copying
  // process.env costs ~0.1 ms, a few percent of a webhook's CPU).
  if (merged && merged.secret === secret) return merged.settings;
  const fromSecret: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret ?? {})) if (typeof v === 'string' && v !== '') fromSecret[k] = v;
  merged = { secret, settings: { ...process.env, ...fromSecret } };
  return merged.settings;
}

let merged: { secret: unknown; settings: Settings } | undefined;
