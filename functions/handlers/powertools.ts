import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/** One logger and one metrics instance per function, as Powertools recommends. No event is ever logged whole. */
export const logger = new Logger({ serviceName: 'conversion-relay' });
export const metrics = new Metrics({ namespace: 'ConversionRelay', serviceName: 'conversion-relay' });
