/**
 * The snippet's second part, `/t.js?part=extra`, loaded by the main script only when a page needs it, so most page
 * views never download it: identify's normalization and SubtleCrypto hashing (on the first `identify()`), and the
 * decoding of an IAB TC string (when the page has an `euconsent-v2` cookie but no CMP API).
 */
import { consentFromTcString } from './consent-signals.ts';
import { hashIdentity } from './identify.ts';
import { EXTRA_GLOBAL, type Extra } from './parts.ts';

(window as any)[EXTRA_GLOBAL] = { hash: hashIdentity, tcf: consentFromTcString } satisfies Extra;
