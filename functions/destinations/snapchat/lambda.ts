import { createSenderHandler } from '#handlers/sender.ts';
import { snapchatDestination } from './index.ts';

/** Lambda entry point of the Snapchat sender (SQS event source). */
export const handler = createSenderHandler(snapchatDestination);
