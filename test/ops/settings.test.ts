import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchRemoteVerdicts } from '../../lib/ops/quality-remote.ts';
import { destinationSettings } from '../../lib/ops/settings.ts';
import { startMetaFake } from '../fakes/meta-server.ts';
import type { Target } from '../../lib/ops/target.ts';

/**
 * The CLI reads a destination's credentials where its sender does: against AWS, from the destination's Secrets
 * Manager secret over the environment; locally, from the environment (and .env).
 */
const secrets = mockClient(SecretsManagerClient);
const META_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:metaCredentials-AbCdEf';
const awsTarget = (secretArns: Record<string, string> = { meta: META_ARN }) =>
  ({ kind: 'aws', description: 'AWS stack', secretArns, secrets: new SecretsManagerClient({ region: 'eu-west-1' }), queues: {}, ledgerTable: 'L' }) as unknown as Target;
const LOCAL = { META_PIXEL_ID: 'from-env', META_API_BASE_URL: 'http://127.0.0.1:1' };

describe('destinationSettings', () => {
  afterEach(() => secrets.reset());

  it('against AWS, reads the destination’s secret and lays it over the environment, as the sender does', async () => {
    secrets.on(GetSecretValueCommand, { SecretId: META_ARN }).resolves({ SecretString: JSON.stringify({ META_PIXEL_ID: '4455667788990', META_ACCESS_TOKEN: 'EAAB-secret', META_TEST_EVENT_CODE: '' }) });
    const { settings, from, warning } = await destinationSettings(awsTarget(), 'meta', LOCAL);
    expect(settings).toMatchObject({ META_PIXEL_ID: '4455667788990', META_ACCESS_TOKEN: 'EAAB-secret', META_API_BASE_URL: 'http://127.0.0.1:1' });
    // An empty value in the secret does not blank a setting (as functions/store/settings.ts).
    expect(settings.META_TEST_EVENT_CODE).toBeUndefined();
    expect(from).toBe(`secret ${META_ARN}`);
    expect(warning).toBeUndefined();
    expect(secrets).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: META_ARN });
  });

  it('falls back to the environment with a warning when the secret cannot be read', async () => {
    secrets.on(GetSecretValueCommand).rejects(Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException' }));
    const denied = await destinationSettings(awsTarget(), 'meta', LOCAL);
    expect(denied.settings).toEqual(LOCAL);
    expect(denied.warning).toMatch(/could not read the meta secret .*secretsmanager:GetSecretValue.*using the environment/);

    secrets.reset();
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '["not", "an object"]' });
    expect((await destinationSettings(awsTarget(), 'meta', LOCAL)).warning).toMatch(/not a JSON object/);
  });

  it('locally, or for a destination without a known secret, uses the environment and asks AWS nothing', async () => {
    const local = { kind: 'local', secretArns: {} } as unknown as Target;
    expect(await destinationSettings(local, 'meta', LOCAL)).toEqual({ settings: LOCAL, from: 'the environment' });
    expect(await destinationSettings(awsTarget({}), 'pinterest', LOCAL)).toEqual({ settings: LOCAL, from: 'the environment' });
    expect(secrets).not.toHaveReceivedCommand(GetSecretValueCommand);
  });

  it('quality asks Meta with the credentials in the meta secret; an unreadable secret and no environment says why there is no verdict', async () => {
    const meta = await startMetaFake({ pixelId: '4455667788990', accessToken: 'EAAB-secret' });
    try {
      secrets.on(GetSecretValueCommand, { SecretId: META_ARN }).resolves({ SecretString: JSON.stringify({ META_PIXEL_ID: '4455667788990', META_ACCESS_TOKEN: 'EAAB-secret', META_API_BASE_URL: meta.baseUrl }) });
      const warnings: string[] = [];
      const remote = await fetchRemoteVerdicts(awsTarget(), ['meta', 'pinterest', 'tiktok'], new Date(Date.now() - 86400_000), {}, (w) => warnings.push(w));
      expect(remote.meta).toMatchObject({ platform: 'Meta Dataset Quality API', ok: true, events: [] });
      expect(meta.datasetQuality.requests.at(-1)).toMatchObject({ status: 200, query: { dataset_id: '4455667788990' } });
      // No pinterest secret known and no credentials in the environment: no verdict, no noise. TikTok has no such API.
      expect(Object.keys(remote)).toEqual(['meta']);
      expect(warnings).toEqual([]);

      secrets.reset();
      secrets.on(GetSecretValueCommand).rejects(Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException' }));
      const denied = await fetchRemoteVerdicts(awsTarget(), ['meta'], new Date(), {}, (w) => warnings.push(w));
      expect(denied.meta).toMatchObject({ ok: false, message: expect.stringMatching(/^no credentials: could not read the meta secret/) });
      expect(warnings).toHaveLength(1);
    } finally {
      await meta.close();
    }
  });
});
