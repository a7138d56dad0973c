import { createSenderHandler } from '#handlers/sender.ts';
import { microsoftDestination } from './index.ts';

/** Lambda entry point of the Microsoft Advertising sender (SQS event source). */
export const handler = createSenderHandler(microsoftDestination);
