import { afterEach, describe, expect, it } from 'vitest';
import type { PlatformRequest } from '#destinations/types.ts';
import { accessToken, forgetAccessToken } from './oauth.ts';

/** A token endpoint that hands out a new token per refresh and counts refreshes per refresh token. */
function tokenEndpoint() {
  const refreshes: string[] = [];
  const transport = async (req: PlatformRequest) => {
    const body = req.body as Record<string, string>;
    refreshes.push(body.refresh_token);
    return { status: 200, headers: {}, body: { access_token: `${body.refresh_token}-token-${refreshes.length}`, expires_in: 3600 } };
  };
  return { refreshes, transport };
}

describe('OAuth access-token cache', () => {
  afterEach(() => forgetAccessToken());
  const now = new Date('2026-12-02T12:00:00Z');
  const google = { tokenUrl: 'https://oauth2.example/token', clientId: 'g', clientSecret: 's', refreshToken: 'google' };
  const linkedin = { tokenUrl: 'https://linkedin.example/token', clientId: 'l', clientSecret: 's', refreshToken: 'linkedin' };

  it('keeps one token per client: two destinations in one process do not evict each other', async () => {
    const { refreshes, transport } = tokenEndpoint();
    const g1 = await accessToken(google, transport, now);
    const l1 = await accessToken(linkedin, transport, now);
    expect(await accessToken(google, transport, now)).toBe(g1);
    expect(await accessToken(linkedin, transport, now)).toBe(l1);
    expect(refreshes).toEqual(['google', 'linkedin']);
  });

  it('forgets only the token the API refused', async () => {
    const { refreshes, transport } = tokenEndpoint();
    const g1 = await accessToken(google, transport, now);
    const l1 = await accessToken(linkedin, transport, now);
    forgetAccessToken(g1);
    expect(await accessToken(google, transport, now)).not.toBe(g1);
    expect(await accessToken(linkedin, transport, now)).toBe(l1);
    expect(refreshes).toEqual(['google', 'linkedin', 'google']);
  });
});
