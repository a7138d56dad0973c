import { createIngestHandler } from '#handlers/ingest.ts';
import { hubspotSource } from './index.ts';

/** Lambda entry point for POST /webhooks/hubspot. */
export const handler = createIngestHandler(hubspotSource);
