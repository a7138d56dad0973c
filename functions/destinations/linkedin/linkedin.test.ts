import { describe, expect, it } from 'vitest';
import type { PlatformRequest, PlatformResponse } from '#destinations/types.ts';
import { NOW, conversionFactory, sha256 } from '../../../test/support/factories.ts';
import { classifyLinkedInResponse } from './classify.ts';
import { linkedinDestination, type LinkedInConfig } from './index.ts';
import { toLinkedInElement } from './payload.ts';

// Facts from platforms-more.md §1 (LinkedIn Conversions API): /rest/conversionEvents with LinkedIn-Version,
// X-Restli-Protocol-Version 2.0.0 and BATCH_CREATE; conversionHappenedAt in ms; amount a string; SHA256_EMAIL and
// li_fat_id userIds; userIds always present; 422 fails the whole batch.

const CONFIG: LinkedInConfig = { rules: { Purchase: '104012' }, accessToken: 'li-token', apiVersion: '202603', baseUrl: 'https://api.linkedin.com' };
const res = (status: number, body: unknown): PlatformResponse => ({ status, headers: {}, body });

describe('toLinkedInElement', () => {
  it('sends the rule URN, milliseconds, the event ID and the value as a decimal string', () => {
    const el = toLinkedInElement(conversionFactory({ occurredAt: '2026-03-02T11:50:00.000Z', value: 49.99 }), '104012', NOW);

    expect(el).toMatchObject({
      conversion: 'urn:lla:llaPartnerConversion:104012',
      conversionHappenedAt: Date.UTC(2026, 2, 2, 11, 50),
      conversionValue: { currencyCode: 'USD', amount: '49.99' },
      eventId: 'cs_test_order_1',
    });
  });

  it('sends SHA256_EMAIL, li_fat_id and the IPv4 address as userIds, the hashed external ID in externalIds, no names', () => {
    const el = toLinkedInElement(conversionFactory({ clicks: { liFatId: { value: 'df5gf5-gh6t7-ph4j7h-fgf6n1', capturedAt: 1 } } }), '1', NOW);

    expect(el.user).toEqual({
      userIds: [
        { idType: 'SHA256_EMAIL', idValue: sha256('jenny.rosen@example.com') },
        { idType: 'LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID', idValue: 'df5gf5-gh6t7-ph4j7h-fgf6n1' },
        { idType: 'PLAINTEXT_IP_ADDRESS', idValue: '203.0.113.7' },
      ],
      externalIds: [sha256('cus_123')],
    });
  });

  it('keeps userIds as [] when there is none (LinkedIn refuses a missing userIds) and leaves out an IPv6 address', () => {
    const el = toLinkedInElement(conversionFactory({ user: { ip: '2001:db8::1', externalId: sha256('x') } }), '1', NOW);
    expect(el.user.userIds).toEqual([]);
  });
});

describe('linkedinDestination', () => {
  it('posts {elements} with the versioned headers and BATCH_CREATE', () => {
    const r = linkedinDestination.buildRequest([conversionFactory()], CONFIG, NOW);
    expect(r.url).toBe('https://api.linkedin.com/rest/conversionEvents');
    expect(r.headers).toMatchObject({ authorization: 'Bearer li-token', 'linkedin-version': '202603', 'x-restli-protocol-version': '2.0.0', 'x-restli-method': 'BATCH_CREATE' });
    expect((r.body as { elements: unknown[] }).elements).toHaveLength(1);
  });

  it('needs the rules and a token or a refresh token; reads rules per event name', () => {
    expect(linkedinDestination.configure({})).toEqual({ config: undefined, missing: ['LINKEDIN_CONVERSION_RULES', 'LINKEDIN_ACCESS_TOKEN'] });
    const { config } = linkedinDestination.configure({ LINKEDIN_CONVERSION_RULES: 'Purchase=1, Lead=2', LINKEDIN_CLIENT_ID: 'c', LINKEDIN_CLIENT_SECRET: 's', LINKEDIN_REFRESH_TOKEN: 'r' });
    expect(config).toMatchObject({ rules: { Purchase: '1', Lead: '2' }, refresh: { tokenUrl: 'https://www.linkedin.com/oauth/v2/accessToken', refreshToken: 'r' } });
    expect(() => linkedinDestination.configure({ LINKEDIN_CONVERSION_RULES: 'Purchase', LINKEDIN_ACCESS_TOKEN: 't' })).toThrow(/LINKEDIN_CONVERSION_RULES/);
    expect(() => linkedinDestination.configure({ LINKEDIN_API_VERSION: 'v2' })).toThrow(/LINKEDIN_API_VERSION/);
  });

  it('skips an event name without a rule, refunds and unconsented conversions, with the reason', () => {
    expect(linkedinDestination.skipReason!(conversionFactory({ eventName: 'Lead' }), CONFIG)).toMatch(/no conversion rule configured for Lead/);
    expect(linkedinDestination.skipReason!(conversionFactory(), CONFIG)).toBeUndefined();
    expect(linkedinDestination.skipReason!(conversionFactory({ eventName: 'Refund', adjustment: { kind: 'refund', originalOrderId: 'o', full: true } }))).toMatch(/refund is recorded/);
  });

  it('refreshes the access token at LinkedIn’s token endpoint before a batch', async () => {
    const seen: PlatformRequest[] = [];
    const refresh = { tokenUrl: 'https://www.linkedin.com/oauth/v2/accessToken', clientId: 'c', clientSecret: 's', refreshToken: 'r-' + Math.random() };
    const prepared = await linkedinDestination.prepare!({ ...CONFIG, accessToken: undefined, refresh }, async (req) => {
      seen.push(req);
      return { status: 200, headers: {}, body: { access_token: 'fresh', expires_in: 5183999 } };
    }, NOW);
    expect(prepared.accessToken).toBe('fresh');
    expect(seen[0]).toMatchObject({ url: refresh.tokenUrl, encoding: 'form', body: { grant_type: 'refresh_token', refresh_token: refresh.refreshToken } });
  });
});

describe('classifyLinkedInResponse', () => {
  it('reads per-element statuses of a batch', () => {
    expect(classifyLinkedInResponse(res(200, { elements: [{ status: 201 }, { status: 201 }] }))).toEqual({ kind: 'ok' });
    expect(classifyLinkedInResponse(res(200, { elements: [{ status: 201 }, { status: 400, message: 'bad' }] }))).toMatchObject({ kind: 'partial', failures: [{ index: 1, transient: false }] });
  });

  it('splits a 422 batch; expired token is transient only with a refresh token; 426 and revoked reject the batch', () => {
    expect(classifyLinkedInResponse(res(422, { status: 422, message: 'Index: 0, ERROR :: /conversionValue/amount :: field is required\n' })).kind).toBe('rejected-data');
    expect(classifyLinkedInResponse(res(401, { status: 401, serviceErrorCode: 65600, code: 'INVALID_ACCESS_TOKEN', message: 'Invalid access token' }), true).kind).toBe('transient');
    expect(classifyLinkedInResponse(res(401, { status: 401, serviceErrorCode: 65600, code: 'INVALID_ACCESS_TOKEN', message: 'x' })).kind).toBe('rejected-batch');
    expect(classifyLinkedInResponse(res(401, { code: 'REVOKED_ACCESS_TOKEN' }), true).kind).toBe('rejected-batch');
    expect(classifyLinkedInResponse(res(426, { message: 'version sunset' })).kind).toBe('rejected-batch');
    for (const status of [408, 423, 429, 500]) expect(classifyLinkedInResponse(res(status, {})).kind).toBe('transient');
  });
});
