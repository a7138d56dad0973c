import { createSenderHandler } from '#handlers/sender.ts';
import { googleAdsDestination } from './index.ts';

/** Lambda entry point of the Google Ads sender (SQS event source). */
export const handler = createSenderHandler(googleAdsDestination);
