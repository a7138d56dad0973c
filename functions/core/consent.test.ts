import { describe, expect, it } from 'vitest';
import { consentSkipReason, consentTier, resolveConsent } from './consent.ts';

describe('consentTier: the three tiers', () => {
  it('marketing granted → everything, Google fields granted', () => {
    expect(consentTier(resolveConsent({ marketing: true }, 'denied'))).toEqual({
      tier: 'marketing',
      identifiers: true,
      limitedDataUse: false,
      google: { adUserData: 'GRANTED', adPersonalization: 'GRANTED' },
    });
  });

  it('analytics only → no identifiers, Google fields denied', () => {
    const d = consentTier(resolveConsent({ marketing: false, analytics: true }, 'granted'));
    expect(d).toMatchObject({ tier: 'analytics', identifiers: false, limitedDataUse: false, google: { adUserData: 'DENIED', adPersonalization: 'DENIED' } });
  });

  it('nothing granted → none', () => {
    expect(consentTier(resolveConsent(undefined, 'denied')).tier).toBe('none');
    expect(consentTier({ marketing: false, analytics: false }).tier).toBe('none');
  });

  it('marketing without personalization → limited data use, ad_personalization DENIED, ad_user_data GRANTED', () => {
    const d = consentTier({ marketing: true, adUserData: true, adPersonalization: false, analytics: true });
    expect(d).toMatchObject({ tier: 'marketing', limitedDataUse: true, google: { adUserData: 'GRANTED', adPersonalization: 'DENIED' } });
  });

  it('fails closed on fields that were never resolved', () => {
    expect(consentTier({})).toMatchObject({ tier: 'none', identifiers: false, google: { adUserData: 'DENIED', adPersonalization: 'DENIED' } });
    expect(consentTier({ marketing: true }).google.adPersonalization).toBe('DENIED');
  });

  it('the site default decides where the visitor said nothing', () => {
    expect(consentTier(resolveConsent({}, 'granted')).tier).toBe('marketing');
    expect(consentTier(resolveConsent({}, 'denied')).tier).toBe('none');
  });
});

describe('consentSkipReason', () => {
  const meta = { name: 'meta', acceptsWithoutIdentifiers: false };
  const ga4 = { name: 'ga4', acceptsWithoutIdentifiers: true };

  it('sends nothing anywhere without consent, saying why', () => {
    const none = { marketing: false, analytics: false };
    expect(consentSkipReason(none, meta)).toMatch(/^consent: .*no marketing or analytics consent/);
    expect(consentSkipReason(none, ga4)).toMatch(/^consent: /);
  });

  it('analytics only: skipped where identifiers are needed, sent where the platform takes anonymous events', () => {
    const analytics = { marketing: false, analytics: true };
    expect(consentSkipReason(analytics, meta)).toMatch(/analytics only; meta cannot use an event without identifiers/);
    expect(consentSkipReason(analytics, ga4)).toBeUndefined();
  });

  it('full marketing consent: sent everywhere', () => {
    expect(consentSkipReason({ marketing: true, analytics: false }, meta)).toBeUndefined();
  });
});
