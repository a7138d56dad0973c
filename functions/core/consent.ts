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
