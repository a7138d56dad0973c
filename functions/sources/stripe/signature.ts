// The `stripe` package's own webhook verifier (the module behind `Stripe.webhooks`), without the API client: the
// package's entry point loads every API resource, ~240 KB of the ingest bundle parsed at each cold start, for a
// verifier that needs none of it. The package's exports map names no subpath, hence the path into node_modules.
import { createWebhooks } from '../../../node_modules/stripe/esm/Webhooks.js';
import { NodeCryptoProvider } from '../../../node_modules/stripe/esm/crypto/NodeCryptoProvider.js';
import type { PlatformFunctions } from '../../../node_modules/stripe/esm/platform/PlatformFunctions.js';
import { signaturesMatch } from '#core/signature.ts';

/**
 * What `Stripe.webhooks` is built from (stripe.core.js: `createWebhooks(platformFunctions)`), limited to the two
 * functions the verifier calls: a constant-time comparison and Node's crypto provider.
 */
const platform = { secureCompare: signaturesMatch, createDefaultCryptoProvider: () => new NodeCryptoProvider() } as unknown as PlatformFunctions;

/** `Stripe.webhooks`, as the `stripe` package builds it for Node. */
export const stripeWebhooks = createWebhooks(platform);
