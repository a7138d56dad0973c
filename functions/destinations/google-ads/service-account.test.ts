import { generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deliver } from '#destinations/deliver.ts';
import { fetchTransport } from '#destinations/http.ts';
import { startDataManagerFake, type DataManagerFake } from '../../../test/fakes/data-manager-server.ts';
import { conversionFactory } from '../../../test/support/factories.ts';
import { googleAdsDestination as dest } from './index.ts';
import { DATA_MANAGER_SCOPE, JWT_BEARER_GRANT, parseServiceAccountKey, serviceAccountAssertion } from './oauth.ts';

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
  it('names the refresh token or the service account key as missing without either', () => {
    expect(dest.configure(base).missing).toEqual(['GOOGLE_ADS_CLIENT_ID + GOOGLE_ADS_CLIENT_SECRET + GOOGLE_ADS_REFRESH_TOKEN (OAuth refresh token for the scope https://www.googleapis.com/auth/datamanager) or GOOGLE_SERVICE_ACCOUNT_KEY']);
  });
});

describe('a delivery authenticated by service account, against the Data Manager fake’s token endpoint', () => {
  const ACCOUNT = '1234567890';
  const EMAIL = 'relay-sa@proj.iam.gserviceaccount.com';
  const transport = fetchTransport(5000);
  let google: DataManagerFake;
  const keyFile = (key: KeyObject, email = EMAIL) =>
    JSON.stringify({ type: 'service_account', client_email: email, private_key_id: 'kid-e2e', private_key: key.export({ type: 'pkcs8', format: 'pem' }), token_uri: google.tokenUrl });
  const configFor = (key: string) =>
    dest.configure({
      GOOGLE_ADS_CUSTOMER_ID: '123-456-7890',
      GOOGLE_ADS_CONVERSION_ACTIONS: 'Purchase=111',
      GOOGLE_SERVICE_ACCOUNT_KEY: key,
      GOOGLE_DATA_MANAGER_API_BASE_URL: google.baseUrl,
      GOOGLE_OAUTH_TOKEN_URL: google.tokenUrl,
    }).config!;
  // Real time throughout: the fake checks the JWT's exp against its own clock.
  const purchase = (gclid: string) =>
    conversionFactory({ eventId: `cs_sa_${gclid}`, orderId: `cs_sa_${gclid}`, occurredAt: new Date().toISOString(), clicks: { gclid: { value: gclid, capturedAt: Date.now() - 3600_000 } } });

  beforeAll(async () => {
    // The fake trusts this service account: its e-mail and the public half of the key pair made above.
    google = await startDataManagerFake({ accountId: ACCOUNT, clientId: 'unused', clientSecret: 'unused', refreshToken: 'unused', serviceAccount: { email: EMAIL, publicKey }, conversionActions: ['111'] });
  });
  afterAll(() => google?.close());
  beforeEach(() => google.reset());

  it('trades a JWT the fake verifies (RS256 with the public key; iss, scope, aud, exp) for the token the upload carries', async () => {
    const [result] = await deliver(dest, configFor(keyFile(privateKey)), [purchase('Cj0-sa-1')], transport, new Date());

    expect(result).toMatchObject({ status: 'delivered', requestId: expect.any(String) });
    expect(google.tokenRequests).toMatchObject([{ status: 200, grant: JWT_BEARER_GRANT }]);
    const [h, c, s] = google.tokenRequests[0].assertion!.split('.');
    expect(verify('sha256', Buffer.from(`${h}.${c}`), publicKey, Buffer.from(s, 'base64url'))).toBe(true);
    const claims = decode(c);
    expect(claims).toMatchObject({ iss: EMAIL, scope: DATA_MANAGER_SCOPE, aud: google.tokenUrl });
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(3600);
    expect(claims.exp * 1000).toBeGreaterThan(Date.now());
    // The upload went out with the access token the fake issued for that assertion (the fake refuses any other).
    expect(google.requests.map((r) => [r.path, r.status])).toEqual([['/v1/events:ingest', 200]]);
    expect(google.events().map((e) => e.event.adIdentifiers.gclid)).toEqual(['Cj0-sa-1']);
  });

  it.each([
    ['signed with another key', () => keyFile(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey)],
    ['naming another service account', () => keyFile(privateKey, 'someone-else@proj.iam.gserviceaccount.com')],
  ])('is refused when the JWT is %s: nothing uploaded, dead-lettered as a configuration error', async (_, key) => {
    const [result] = await deliver(dest, configFor(key()), [purchase('Cj0-sa-2')], transport, new Date());

    expect(result).toMatchObject({ status: 'failed', error: { code: 'oauth.invalid_grant' } });
    expect(google.tokenRequests).toMatchObject([{ status: 400, grant: JWT_BEARER_GRANT }]);
    expect(google.requests).toEqual([]);
  });
});
