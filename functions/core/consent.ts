import type { Consent } from './conversion.ts';

export type ConsentDefault = 'granted' | 'denied';

/**
 * Resolves the visitor's consent against the site-level default that applies where the visitor gave no signal
 * (`CONSENT_DEFAULT`: `granted` suits most US sites, `denied` is the safe choice for EU sites).
 */
export function resolveConsent(consent: Consent | undefined, fallback: ConsentDefault): Required<Consent> {
  const d = fallback === 'granted';
  const marketing = consent?.marketing ?? d;
  return {
    marketing,
    adUserData: consent?.adUserData ?? marketing,
    adPersonalization: consent?.adPersonalization ?? marketing,
    analytics: consent?.analytics ?? d,
  };
}

export function parseConsentDefault(raw: string | undefined): ConsentDefault {
  const v = (raw ?? 'granted').trim().toLowerCase();
  if (v !== 'granted' && v !== 'denied') throw new Error(`CONSENT_DEFAULT must be "granted" or "denied", got "${raw}"`);
  return v;
}

/**
 * The three consent tiers:
 * - `none`: the conversion is recorded in the ledger, nothing is sent anywhere;
 * - `analytics`: sent only to platforms that accept an event without identifiers (GA4 with consent DENIED, no
 *   user data), and there without hashed customer data, click IDs, IP or user agent;
 * - `marketing`: everything the platform takes.
 */
export type ConsentTier = 'none' | 'analytics' | 'marketing';

export interface ConsentDecision {
  tier: ConsentTier;
  /** Identifiers may be sent: hashed customer data, click IDs, fbp/ttp, external ID, IP and user agent. */
  identifiers: boolean;
  /**
   * Marketing granted but personalization denied (Google's `ad_personalization`): use the platform's restricted
   * processing flag — Meta `data_processing_options: ["LDU"]`, TikTok `limited_data_use: true`.
   */
  limitedDataUse: boolean;
  /** Google's consent fields (Google Ads `consent`, GA4 `consent`), from `ad_user_data` / `ad_personalization`. */
  google: { adUserData: 'GRANTED' | 'DENIED'; adPersonalization: 'GRANTED' | 'DENIED' };
}

/**
 * THE consent rule every destination applies: one function, so that no platform reads `Conversion.consent` its
 * own way.
 *
 * Contract:
 * - Input: `Conversion.consent`. Ingest has already resolved it against `CONSENT_DEFAULT` (every field set); a
 *   field still missing is treated as denied here (fail closed).
 * - `tier` is `marketing` when `marketing` is true; else `analytics` when `analytics` is true; else `none`.
 * - `identifiers` is true only in the `marketing` tier.
 * - `limitedDataUse` is true in the `marketing` tier when `adPersonalization` is false.
 * - `google.adUserData` is GRANTED only in the `marketing` tier with `adUserData` not false;
 *   `google.adPersonalization` GRANTED only in the `marketing` tier with `adPersonalization` true.
 * Pure; no I/O. Use `consentSkipReason` for the send / don't-send decision and its ledger reason.
 */
export function consentTier(consent: Consent): ConsentDecision {
  const tier: ConsentTier = consent.marketing === true ? 'marketing' : consent.analytics === true ? 'analytics' : 'none';
  const marketing = tier === 'marketing';
  return {
    tier,
    identifiers: marketing,
    limitedDataUse: marketing && consent.adPersonalization === false,
    google: {
      adUserData: marketing && consent.adUserData !== false ? 'GRANTED' : 'DENIED',
      adPersonalization: marketing && consent.adPersonalization === true ? 'GRANTED' : 'DENIED',
    },
  };
}

/**
 * Why a conversion must not be sent to a platform because of consent, as the ledger records it; undefined when it
 * may be sent. `acceptsWithoutIdentifiers`: the platform takes an event stripped of every identifier (GA4 does;
 * Meta, TikTok and Google Ads match on identifiers, so an anonymous event is useless or refused there).
 */
export function consentSkipReason(consent: Consent, platform: { name: string; acceptsWithoutIdentifiers: boolean }): string | undefined {
  const { tier } = consentTier(consent);
  if (tier === 'none') return 'consent: the visitor gave no marketing or analytics consent; recorded, not sent';
  if (tier === 'analytics' && !platform.acceptsWithoutIdentifiers) {
    return `consent: analytics only; ${platform.name} cannot use an event without identifiers, so it is recorded, not sent`;
  }
  return undefined;
}
