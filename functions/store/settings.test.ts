import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const getSecretString = vi.fn();
vi.mock('./secret-value.ts', () => ({ getSecretString }));
const { loadSettings } = await import('./settings.ts');

describe('loadSettings with a secret', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-02T12:00:00Z'));
    vi.stubEnv('RELAY_SECRET_ARN', 'arn:aws:secretsmanager:us-east-1:000000000000:secret:relay');
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllEnvs();
  });

  it('overlays the secret on the environment, fetches it once per 5 minutes and sees a rotated value after them', async () => {
    getSecretString.mockResolvedValueOnce(JSON.stringify({ STRIPE_WEBHOOK_SECRET: 'whsec_old' })).mockResolvedValueOnce(JSON.stringify({ STRIPE_WEBHOOK_SECRET: 'whsec_new' }));

    const first = await loadSettings();
    vi.setSystemTime(new Date('2026-12-02T12:04:59Z'));
    const within = await loadSettings();
    vi.setSystemTime(new Date('2026-12-02T12:05:01Z'));
    const after = await loadSettings();

    expect(first.STRIPE_WEBHOOK_SECRET).toBe('whsec_old');
    expect(first.RELAY_SECRET_ARN).toBe(process.env.RELAY_SECRET_ARN);
    expect(within.STRIPE_WEBHOOK_SECRET).toBe('whsec_old');
    expect(after.STRIPE_WEBHOOK_SECRET).toBe('whsec_new');
    expect(getSecretString).toHaveBeenCalledTimes(2);
    expect(getSecretString).toHaveBeenCalledWith(process.env.RELAY_SECRET_ARN);
  });
});
