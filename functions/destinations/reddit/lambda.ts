import { createSenderHandler } from '#handlers/sender.ts';
import { redditDestination } from './index.ts';

/** Lambda entry point of the Reddit sender (SQS event source). */
export const handler = createSenderHandler(redditDestination);
