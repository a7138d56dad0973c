/**
 * Consent signals a page may already carry, read by the snippet (pure functions; tested in Node).
 * The relay's fields: `marketing` (advertising use at all), `ad_user_data`, `ad_personalization` (Google's), `analytics`.
 */
export interface ConsentState {
  marketing?: boolean;
  ad_user_data?: boolean;
  ad_personalization?: boolean;
  analytics?: boolean;
}

export const GCM_FIELDS: Record<string, keyof ConsentState> = {
  ad_storage: 'marketing',
  ad_user_data: 'ad_user_data',
  ad_personalization: 'ad_personalization',
  analytics_storage: 'analytics',
};

/**
 * Google Consent Mode: the `gtag('consent', 'default' | 'update', {...})` calls queued in `dataLayer`, applied in
 * order (an update overrides the default). `ad_storage` stands for marketing, `analytics_storage` for analytics.
 */
export function consentFromDataLayer(dataLayer: unknown): ConsentState {
  const out: ConsentState = {};
  if (!Array.isArray(dataLayer)) return out;
  for (const entry of dataLayer) {
    // gtag queues `arguments` objects: ['consent', 'default' | 'update', {...}].
    if (entry?.[0] == 'consent' && entry[2]) {
      for (const k in GCM_FIELDS) {
        const v = entry[2][k];
        if (v == 'granted' || v == 'denied') out[GCM_FIELDS[k]] = v == 'granted';
      }
    }
  }
  return out;
}

/**
 * IAB TCF v2 purposes → the relay's fields, as Google maps TCF to Consent Mode for the ad fields: advertising
 * storage and measurement (purposes 1 and 7) → `marketing` and `ad_user_data`; personalised ads (3 and 4) →
 * `ad_personalization`. `analytics`: purposes 1 and 8 (measure content performance) — our choice; Google maps none.
 * Vendor consents are not checked: the relay sends to several vendors, some of which are not TCF vendors at all.
 */
export function consentFromPurposes(granted: (purpose: number) => boolean): ConsentState {
  const ads = granted(1) && granted(7);
  return { marketing: ads, ad_user_data: ads, ad_personalization: granted(3) && granted(4), analytics: granted(1) && granted(8) };
}

/**
 * Reads purpose consents from a TC string (the `euconsent-v2` cookie): the core segment's PurposesConsent bit field
 * starts at bit 152 (after Version 6, Created 36, LastUpdated 36, CmpId 12, CmpVersion 12, ConsentScreen 6,
 * ConsentLanguage 12, VendorListVersion 12, TcfPolicyVersion 6, IsServiceSpecific 1, UseNonStandardTexts 1,
 * SpecialFeatureOptIns 12). Anything that is not a version-2 string gives undefined.
 */
export function consentFromTcString(tc: string | undefined): ConsentState | undefined {
  try {
    const bytes = atob(tc!.split('.')[0].replace(/-/g, '+').replace(/_/g, '/'));
    const bit = (i: number) => (bytes.charCodeAt(i >> 3) >> (7 - (i & 7))) & 1;
    if (bytes.length < 22 || bytes.charCodeAt(0) >> 2 !== 2) return undefined;
    return consentFromPurposes((n) => bit(151 + n) === 1);
  } catch {
    return undefined;
  }
}
