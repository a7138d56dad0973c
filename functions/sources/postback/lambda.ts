import { createIngestHandler } from '#handlers/ingest.ts';
import { postbackSource } from './index.ts';

/** Lambda entry point for GET and POST /postback. */
export const handler = createIngestHandler(postbackSource);
