import type * as z from './zod.ts';

/**
 * `schema.safeParse` with the process's first parse run interpreted (zod's `jitless`) and every later one on zod's
 * compiled fast path. zod compiles a parser (`new Function`) for each object schema the first time it parses with
 * it — milliseconds for a nested schema such as the Conversion, paid inside a cold start's first event. This moves
 * that compile to the second parse, off the cold request, and keeps the compiled path for the steady state
 * (interpreted parses take about twice as long). Both paths accept and reject the same values with the same issues.
 */
export function compiledAfterFirstParse<S extends z.ZodMiniType>(schema: S): (value: unknown) => z.core.util.SafeParseResult<z.output<S>> {
  let parsedBefore = false;
  return (value) => {
    const result = schema.safeParse(value, parsedBefore ? undefined : { jitless: true });
    parsedBefore = true;
    return result;
  };
}
