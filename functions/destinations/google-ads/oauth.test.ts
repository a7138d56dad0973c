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

  it('sends the scope when the client names one and no client_secret when it has none (Microsoft public clients)', async () => {
    const seen: Record<string, string>[] = [];
    const transport = async (req: PlatformRequest) => {
      seen.push(req.body as Record<string, string>);
      return { status: 200, headers: {}, body: { access_token: 'ms-token', expires_in: 3600 } };
    };
    const microsoft = { tokenUrl: 'https://login.example/token', clientId: 'm', refreshToken: 'ms-refresh', scope: 'https://ads.microsoft.com/msads.manage offline_access' };
    await accessToken(microsoft, transport, now);
    await accessToken(google, transport, now);
    expect(seen[0]).toEqual({ grant_type: 'refresh_token', client_id: 'm', refresh_token: 'ms-refresh', scope: 'https://ads.microsoft.com/msads.manage offline_access' });
    expect(seen[1]).toEqual({ grant_type: 'refresh_token', client_id: 'g', client_secret: 's', refresh_token: 'google' });
  });
});
