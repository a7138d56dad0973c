import type { consentFromTcString } from './consent-signals.ts';
import type { hashIdentity } from './identify.ts';

/** What the extra part (`/t.js?part=extra`) gives the main script, through the window property EXTRA_GLOBAL. */
export interface Extra {
  /** hashIdentity */
  hash: typeof hashIdentity;
  /** consentFromTcString */
  tcf: typeof consentFromTcString;
}

export const EXTRA_GLOBAL = '__conversionRelayExtra';
