import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

/**
 * zod for every schema in functions/: `zod/mini`, the tree-shakable API over the same zod/v4/core (same parsing,
 * issues and paths as `zod`), without the classic API's heavier schema constructors and the JSON-schema code it drags
 * in, which cost the cold start's import. Unlike `zod`, mini registers no locale, so its default messages would all
 * read "Invalid input": English is loaded here, once, for the messages the relay's error responses quote ("Too big:
 * expected string to have <=1000 characters"). Import zod through this module, never `zod` or `zod/mini` directly
 * (test/cdk/ingest-bundle.test.ts checks the bundles for both).
 */
config(en());

export * from 'zod/mini';
