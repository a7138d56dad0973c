import { createSenderHandler } from '#handlers/sender.ts';
import { linkedinDestination } from './index.ts';

/** Lambda entry point of the LinkedIn sender (SQS event source). */
export const handler = createSenderHandler(linkedinDestination);
