import { createSenderHandler } from '#handlers/sender.ts';
import { ga4Destination } from './index.ts';

/** Lambda entry point of the GA4 sender (SQS event source). */
export const handler = createSenderHandler(ga4Destination);
