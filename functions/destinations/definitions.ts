import { destinations } from '#registry';
import type { Destination, DestinationRoute } from './types.ts';

/**
 * Every destination's full definition, in the registry's order: each route's folder `index.ts` (its default export),
 * found by convention as the Lambda entry is, so adding a platform stays one folder and one registry line. For the
 * stack, the local runner, the CLI and the tests — never imported by a Lambda (each sender imports its own
 * definition; ingest needs only the routes).
 */
export const destinationDefinitions: readonly Destination<any>[] = await Promise.all(destinations.map(definitionOf));

async function definitionOf(route: DestinationRoute<any>): Promise<Destination<any>> {
  const definition = ((await import(`./${route.name}/index.ts`)) as { default?: Destination<any> }).default;
  // Ingest routes by the route, the sender checks the definition: they must be one and the same rules.
  if (!definition || definition.name !== route.name || definition.maxEventAgeMs !== route.maxEventAgeMs || definition.skipReason !== route.skipReason) {
    throw new Error(`functions/destinations/${route.name}/index.ts must default-export the destination spreading its route.ts`);
  }
  return definition;
}
