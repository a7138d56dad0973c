import { createIngestHandler } from '#handlers/ingest.ts';
import { crmSource } from './index.ts';

/** Lambda entry point for POST /webhooks/crm. */
export const handler = createIngestHandler(crmSource);
