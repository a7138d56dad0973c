import { generateKeyPairSync, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { googleAdsDestination as dest } from './index.ts';
import { DATA_MANAGER_SCOPE, parseServiceAccountKey, serviceAccountAssertion } from './oauth.ts';

// A key pair made per run: no private key is ever committed.
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KEY_JSON = JSON.stringify({ type: 'service_account', client_email: 'relay@proj.iam.gserviceaccount.com', private_key_id: 'kid1', private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }), token_uri: 'https://oauth2.googleapis.com/token' });
const NOW = new Date('2026-03-02T12:00:00Z');
const decode = (p: string) => JSON.parse(Buffer.from(p, 'base64url').toString());

describe('service-account JWT (RFC 7523, Google server-to-server OAuth)', () => {
  it('is RS256-signed with the key and carries iss, scope, aud, iat, exp = iat + 3600', () => {
    const jwt = serviceAccountAssertion(parseServiceAccountKey('K', KEY_JSON), DATA_MANAGER_SCOPE, NOW);
    const [h, c, s] = jwt.split('.');
    expect(decode(h)).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'kid1' });
    const iat = NOW.getTime() / 1000;
    expect(decode(c)).toEqual({ iss: 'relay@proj.iam.gserviceaccount.com', scope: 'https://www.googleapis.com/auth/datamanager', aud: 'https://oauth2.googleapis.com/token', iat, exp: iat + 3600 });
    expect(verify('sha256', Buffer.from(`${h}.${c}`), publicKey, Buffer.from(s, 'base64url'))).toBe(true);
    expect(verify('sha256', Buffer.from(`${h}.${c}x`), publicKey, Buffer.from(s, 'base64url'))).toBe(false);
  });
});

describe('configure() with GOOGLE_SERVICE_ACCOUNT_KEY', () => {
  const base = { GOOGLE_ADS_CUSTOMER_ID: '123-456-7890', GOOGLE_ADS_CONVERSION_ACTIONS: 'Purchase=111' };
  it('needs no client ID, secret or refresh token', () => {
    const { config, missing } = dest.configure({ ...base, GOOGLE_SERVICE_ACCOUNT_KEY: KEY_JSON });
    expect(missing).toEqual([]);
    expect(config?.serviceAccount?.client_email).toBe('relay@proj.iam.gserviceaccount.com');
    expect(config?.refreshToken).toBeUndefined();
  });
  it('names the key when its JSON is malformed, without quoting it', () => {
    expect(() => dest.configure({ ...base, GOOGLE_SERVICE_ACCOUNT_KEY: '{"client_email": "x@y", "private_key": "-----BEGIN' })).toThrow(/^GOOGLE_SERVICE_ACCOUNT_KEY .*not valid JSON/);
    expect(() => dest.configure({ ...base, GOOGLE_SERVICE_ACCOUNT_KEY: '{"client_email":"x@y","private_key":"nope"}' })).toThrow(/GOOGLE_SERVICE_ACCOUNT_KEY: private_key is not a readable PEM/);
  });
  it('still lists the refresh-token keys as missing without a service account', () => {
    expect(dest.configure(base).missing).toEqual(['GOOGLE_ADS_CLIENT_ID', 'GOOGLE_ADS_CLIENT_SECRET', 'GOOGLE_ADS_REFRESH_TOKEN']);
  });
});
