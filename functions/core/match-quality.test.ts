import { describe, expect, it } from 'vitest';
import { destinationDefinitions as destinations } from '../destinations/definitions.ts';
import { NOW, conversionFactory } from '../../test/support/factories.ts';
import { META_WEIGHTS, calibrateMetaWeights, matchRecord, metaScore } from './match-quality.ts';

const dest = (name: string) => destinations.find((d) => d.name === name)!;
const recordAt = (name: string, c = conversionFactory()) => matchRecord(name, c, dest(name).signals(c));

describe('match record', () => {
  it('Meta: a full website purchase scores 10 and lists every key sent, by name only', () => {
    const c = conversionFactory();
    const m = recordAt('meta', c);
    expect(m.k.split(' ').sort()).toEqual(['country', 'ct', 'em', 'fbc', 'fbp', 'fn', 'ip', 'ln', 'ph', 'st', 'ua', 'xid', 'zp'].sort());
    expect(m.s).toBe(10);
    expect(m.c).toBe('fbc');
    expect(m.a).toBe(Math.round((Date.parse(c.occurredAt) - c.clicks.fbc!.capturedAt) / 1000));
    expect(m.t).toBe('m');
    expect(m.w).toBeUndefined();
    // Nothing of the values: no hash, IP, user agent or click ID.
    const text = JSON.stringify(m);
    for (const v of [c.user.email!, c.user.ip!, c.user.userAgent!, c.clicks.fbc!.value]) expect(text).not.toContain(v);
  });

  it('Meta: e-mail outweighs IP as in the Dataset Quality example (58.96 % vs 20.65 %)', () => {
    const base = conversionFactory({ user: { userAgent: 'UA/1' }, clicks: {}, visitorId: undefined });
    const withEmail = recordAt('meta', { ...base, user: { ...base.user, email: 'a'.repeat(64) } });
    const withIp = recordAt('meta', { ...base, user: { ...base.user, ip: '203.0.113.9' } });
    expect(withEmail.s).toBe(META_WEIGHTS.em + META_WEIGHTS.ua);
    expect(withIp.s).toBe(META_WEIGHTS.ip + META_WEIGHTS.ua);
    expect(withEmail.s).toBeGreaterThan(withIp.s);
  });

  it('Meta: a website event without user agent scores 0 and says why; a malformed fbc is not counted', () => {
    const c = conversionFactory({ user: { email: 'b'.repeat(64) }, clicks: { fbc: { value: 'fb.1.12.x', capturedAt: NOW.getTime() - 60_000 } } });
    const m = recordAt('meta', c);
    expect(m.s).toBe(0);
    expect(m.w).toEqual(expect.arrayContaining(['no_ua', 'fbc_bad', 'no_click', 'no_ph', 'no_ip']));
    expect(m.c).toBeUndefined();
  });

  it('Meta: only address keys + user agent is a combination Meta refuses: 0', () => {
    const c = conversionFactory({ actionSource: 'crm', user: { city: 'c'.repeat(64), zip: 'd'.repeat(64), userAgent: 'UA/1' }, clicks: {}, visitorId: undefined });
    const m = recordAt('meta', c);
    expect(m.s).toBe(0);
    expect(m.w).toEqual(expect.arrayContaining(['meta_weak_combo', 'no_click_unseen', 'no_em']));
  });

  it('Google Ads: the click ID carries most of the score; without one it says whether the visitor was ever seen', () => {
    const gclid = { value: 'Cj0KCQ_test', capturedAt: NOW.getTime() - 3 * 86400_000 };
    const withClick = recordAt('google-ads', conversionFactory({ clicks: { gclid } }));
    expect(withClick).toMatchObject({ c: 'gclid', s: 10, a: Math.round((Date.parse(conversionFactory().occurredAt) - gclid.capturedAt) / 1000) });
    const unseen = recordAt('google-ads', conversionFactory({ clicks: {}, visitorId: undefined, user: { email: 'e'.repeat(64) } }));
    expect(unseen.s).toBe(2.5);
    expect(unseen.w).toContain('no_click_unseen');
    const seen = recordAt('google-ads', conversionFactory({ clicks: {} }));
    expect(seen.w).toContain('no_click');
  });

  it('TikTok and GA4 get a coverage score; GA4 scores a synthetic client ID as none', () => {
    const tt = recordAt('tiktok', conversionFactory({ clicks: { ttclid: { value: 'E.C.P.abc', capturedAt: NOW.getTime() - 3600_000 } } }));
    expect(tt.k.split(' ')).toEqual(expect.arrayContaining(['em', 'ph', 'xid', 'ttclid', 'ip', 'ua']));
    expect(tt.s).toBe(8.5); // all but ttp (1.5)
    const gaSynthetic = recordAt('ga4', conversionFactory({ clicks: {}, visitorId: undefined }));
    expect(gaSynthetic.k).toContain('cid~');
    const gaReal = recordAt('ga4', conversionFactory({ clicks: { gaClientId: { value: '123.456', capturedAt: NOW.getTime() } } }));
    expect(gaReal.s - gaSynthetic.s).toBe(4);
  });

  it('records the consent tier: analytics-only at GA4 is flagged as identifiers withheld', () => {
    const m = recordAt('ga4', conversionFactory({ consent: { marketing: false, analytics: true, adUserData: false, adPersonalization: false } }));
    expect(m.t).toBe('a');
    expect(m.w).toContain('consent_limited');
  });
});

describe('calibrateMetaWeights', () => {
  it('rescales to an account’s uplift figures with e-mail as the anchor', () => {
    const w = calibrateMetaWeights([
      { identifier: 'email', upliftPercent: 58.96 },
      { identifier: 'ip_address', upliftPercent: 20.65 },
    ]);
    expect(w.em).toBe(3);
    expect(w.ip).toBeCloseTo(1.05, 2);
    expect(w.ph).toBe(META_WEIGHTS.ph);
    expect(calibrateMetaWeights([{ identifier: 'ip_address', upliftPercent: 10 }])).toEqual(META_WEIGHTS);
  });
});

describe('metaScore (rescoring a stored match record)', () => {
  const fullWeb = conversionFactory();
  const noUa = conversionFactory({ user: { email: 'b'.repeat(64), userAgent: undefined } });
  const badFbc = conversionFactory({ clicks: { fbc: { value: 'fb.1.12.x', capturedAt: NOW.getTime() - 60_000 } } });
  const emailOnly = conversionFactory({ user: { email: 'c'.repeat(64), userAgent: 'UA/1' }, clicks: {}, visitorId: undefined });

  it('gives back the score the sender stored, under the default weights', () => {
    for (const c of [fullWeb, noUa, badFbc, emailOnly]) {
      const m = recordAt('meta', c);
      expect(metaScore(m)).toBe(m.s);
    }
  });

  it('with Meta’s uplift figures: e-mail stays 3, IP follows its uplift, the gates and a malformed fbc still count', () => {
    const calibrated = calibrateMetaWeights([
      { identifier: 'email', upliftPercent: 58.96 },
      { identifier: 'ip_address', upliftPercent: 58.96 },
      { identifier: 'click_id', upliftPercent: 0 },
    ]);
    const base = conversionFactory({ user: { email: 'd'.repeat(64), ip: '203.0.113.9', userAgent: 'UA/1' }, clicks: {}, visitorId: undefined });
    const m = recordAt('meta', base);
    expect(m.s).toBe(META_WEIGHTS.em + META_WEIGHTS.ip + META_WEIGHTS.ua);
    // IP as valuable as e-mail on this account: 3 instead of 1.
    expect(metaScore(m, calibrated)).toBe(3 + 3 + META_WEIGHTS.ua);
    expect(metaScore(recordAt('meta', noUa), calibrated)).toBe(0);
    const bad = recordAt('meta', badFbc);
    expect(metaScore(bad, { ...calibrated, fbc: 5 })).toBe(metaScore(bad, calibrated));
    // An fbc Meta says adds nothing weighs nothing.
    const withClick = recordAt('meta', fullWeb);
    expect(metaScore({ k: 'em fbc ua', w: [] }, calibrated)).toBe(3 + META_WEIGHTS.ua);
    expect(metaScore(withClick, calibrated)).toBeLessThanOrEqual(10);
  });
});
