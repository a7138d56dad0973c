import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { Settings } from '../../functions/sources/types.ts';
import type { Target } from './target.ts';

/**
 * A destination's settings as its sender sees them, for CLI commands that call the platform themselves (`quality`
 * asks Meta and Pinterest for their own verdicts): against AWS, the JSON object in the destination's Secrets Manager
 * secret (its ARN from the stack outputs `<dest>SecretArn`, or RELAY_SECRET_ARN_<DEST>) over the local settings, as
 * functions/store/settings.ts merges it over the function's environment; locally, or without a known secret, the
 * local settings (environment and .env). A secret that cannot be read falls back to them, with a warning saying why.
 */
export async function destinationSettings(target: Target, destination: string, local: Settings): Promise<{ settings: Settings; from: string; warning?: string }> {
  const arn = target.secretArns[destination];
  if (target.kind !== 'aws' || !arn || !target.secrets) return { settings: local, from: 'the environment' };
  try {
    const res = await target.secrets.send(new GetSecretValueCommand({ SecretId: arn }));
    const parsed: unknown = JSON.parse(res.SecretString ?? '{}');
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('the secret is not a JSON object');
    const fromSecret: Record<string, string> = {};
    for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string' && v !== '') fromSecret[k] = v;
    return { settings: { ...local, ...fromSecret }, from: `secret ${arn}` };
  } catch (err) {
    const e = err as Error;
    const why = e.name === 'AccessDeniedException' ? 'your AWS credentials may not read it (secretsmanager:GetSecretValue)' : e.name === 'ResourceNotFoundException' ? 'it does not exist (check --stack/--outputs and the region)' : `${e.name}: ${e.message}`;
    return { settings: local, from: 'the environment', warning: `could not read the ${destination} secret ${arn}: ${why}; using the environment instead` };
  }
}
