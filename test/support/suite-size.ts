/**
 * The cross-cutting suites run small in `npm test` and full in `npm run test:faults` (which sets RELAY_SUITE=full):
 * the same scenarios and properties, with more webhooks, longer outages and more property runs.
 */
export const FULL_SUITE = process.env.RELAY_SUITE === 'full';
export const bySize = <T>(small: T, full: T): T => (FULL_SUITE ? full : small);
