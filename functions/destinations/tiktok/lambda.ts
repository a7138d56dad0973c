import { createSenderHandler } from '#handlers/sender.ts';
import { tiktokDestination } from './index.ts';

/** Lambda entry point of the TikTok sender (SQS event source). */
export const handler = createSenderHandler(tiktokDestination);
