import { createSenderHandler } from '#handlers/sender.ts';
import { xDestination } from './index.ts';

/** Lambda entry point of the X sender (SQS event source). */
export const handler = createSenderHandler(xDestination);
