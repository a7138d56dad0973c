import { createIngestHandler } from '#handlers/ingest.ts';
import { clickbankSource } from './index.ts';

/** Lambda entry point for POST /webhooks/clickbank. */
export const handler = createIngestHandler(clickbankSource);
