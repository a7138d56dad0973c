import { createSenderHandler } from '#handlers/sender.ts';
import { metaDestination } from './index.ts';

/** Lambda entry point of the Meta sender (SQS event source). */
export const handler = createSenderHandler(metaDestination);
