import { build } from 'esbuild';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lambdaBuildOptions } from '../../bench/build.ts';
import { COLLECT_ENTRY, FAN_OUT_ENTRY, SNIPPET_ENTRY, destinationEntry, destinations, sourceEntry, sources } from '../../functions/registry.ts';
import { PROJECT_ROOT } from '../../lib/constructs/relay-function.ts';

/**
 * Ingest reads every destination through the registry for its name and routing rules only: its bundle (built as the
 * stack builds it) must hold each destination's `route.ts` and none of the code that builds or sends requests —
 * that code is each sender's, and loading it on ingest's cold start is time spent for nothing (~64 KB when the
 * registry listed the full definitions).
 */
const REQUEST_CODE = [
  /^functions\/destinations\/[^/]+\/(index|classify|lambda|oauth)\.ts$/,
  /^functions\/destinations\/[^/]+\/[^/]+\/(classify|status)\.ts$/,
  // Not http.ts: the shared node:http transport is also HubSpot's source's, for its CRM API reads.
  /^functions\/destinations\/(deliver|oauth1|settings|adjustments)\.ts$/,
  /^functions\/destinations\/ga4\/schema\.ts$/,
];

const built = new Map<string, Promise<Record<string, number>>>();

/** Each input file of the entry's bundle (built as the stack builds it, once per entry) and its bytes in the output. */
function bundledInputs(entry: string): Promise<Record<string, number>> {
  if (!built.has(entry)) {
    built.set(
      entry,
      build({ ...lambdaBuildOptions(entry, path.join(PROJECT_ROOT, 'bench/.out/ingest-bundle-test/index.mjs')), write: false }).then((result) => {
        const output = Object.values(result.metafile!.outputs).find((o) => o.entryPoint)!;
        return Object.fromEntries(Object.entries(output.inputs).map(([file, v]) => [file, v.bytesInOutput]));
      }),
    );
  }
  return built.get(entry)!;
}

describe('ingest bundles', () => {
  it.each(sources.map((s) => s.name))('ingest-%s carries every destination route and no request-building code', async (source) => {
    const inputs = await bundledInputs(sourceEntry(source));
    const files = Object.keys(inputs);
    for (const d of destinations) expect(files, d.name).toContain(`functions/destinations/${d.name}/route.ts`);
    expect(files.filter((f) => REQUEST_CODE.some((re) => re.test(f)))).toEqual([]);
    const destinationBytes = Object.entries(inputs).filter(([f]) => f.startsWith('functions/destinations/')).reduce((sum, [, bytes]) => sum + bytes, 0);
    // ~8 KB today (the skip rules and the match predicates they call); the full definitions were ~64 KB.
    expect(destinationBytes).toBeLessThan(16_000);
  }, 60_000);

  // Ingest and the fan-out write through the low-level clients only; the document client's package (~10 KB that
  // esbuild keeps once imported, used or not) belongs to the senders' and collect's bundles (functions/store/document-client.ts).
  it.each([...sources.map((s) => sourceEntry(s.name)), FAN_OUT_ENTRY])('%s carries no DynamoDB document client', async (entry) => {
    const files = Object.keys(await bundledInputs(entry));
    expect(files.filter((f) => /node_modules\/@aws-sdk\/(lib|util)-dynamodb\//.test(f))).toEqual([]);
  }, 60_000);
});

/**
 * functions/ builds its schemas with zod/mini (functions/core/zod.ts): zod's classic API (`import … from 'zod'`)
 * cost ~20 ms of an ingest function's cold start in construction and import, and an import of it anywhere in
 * functions/ would bring it back into every bundle that reaches that file. mini registers no locale: English must be
 * in every bundle that carries zod, or each message would read "Invalid input".
 */
const FUNCTION_ENTRIES = [COLLECT_ENTRY, SNIPPET_ENTRY, FAN_OUT_ENTRY, ...sources.map((s) => sourceEntry(s.name)), ...destinations.map((d) => destinationEntry(d.name))];

describe('function bundles', () => {
  it.each(FUNCTION_ENTRIES)('%s carries no zod classic, and English messages wherever it carries zod', async (entry) => {
    const files = Object.keys(await bundledInputs(entry));
    expect(files.filter((f) => /node_modules\/zod\/(v4\/classic|v3)\//.test(f))).toEqual([]);
    if (files.some((f) => f.includes('node_modules/zod/'))) expect(files.filter((f) => f.endsWith('node_modules/zod/v4/locales/en.js'))).toHaveLength(1);
  }, 60_000);
});
