import type { Settings } from '#sources/types.ts';
import { getSecretString } from './secret-value.ts';

/**
 * A function's settings: its environment, overlaid in AWS with the JSON object in its own Secrets Manager
 * secret (`RELAY_SECRET_ARN`), which is where credentials live. Cached for 5 minutes, so a rotated secret is
 * picked up without a redeploy. The local runner sets no ARN and reads the environment (and `.env`) only.
 */
export async function loadSettings(): Promise<Settings> {
  const arn = process.env.RELAY_SECRET_ARN;
  if (!arn) return process.env;
  // Merged once per fetch, not per invocation (copying process.env costs ~0.1 ms, a few percent of a webhook's CPU).
  const now = Date.now();
  if (merged && merged.arn === arn && now < merged.freshUntil) return merged.settings;
  const secret: unknown = JSON.parse(await getSecretString(arn));
  const fromSecret: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret && typeof secret === 'object' ? secret : {})) if (typeof v === 'string' && v !== '') fromSecret[k] = v;
  // The lifetime counts from the fetch's start, so a rotation is seen within the 5 minutes.
  merged = { arn, freshUntil: now + SECRET_MAX_AGE_S * 1000, settings: { ...process.env, ...fromSecret } };
  return merged.settings;
}

/** How long a fetched secret is used before it is fetched again (a rotation is picked up within this). */
const SECRET_MAX_AGE_S = 300;
let merged: { arn: string; freshUntil: number; settings: Settings } | undefined;
