import { createIngestHandler } from '#handlers/ingest.ts';
import { stripeSource } from './index.ts';

/** Lambda entry point for POST /webhooks/stripe. */
export const handler = createIngestHandler(stripeSource);
