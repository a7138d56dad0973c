import { createSenderHandler } from '#handlers/sender.ts';
import { pinterestDestination } from './index.ts';

/** Lambda entry point of the Pinterest sender (SQS event source). */
export const handler = createSenderHandler(pinterestDestination);
