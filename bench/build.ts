import { build, type BuildOptions, type Metafile } from 'esbuild';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { BUNDLING, LAMBDA_ALIASES, PROJECT_ROOT } from '../lib/constructs/relay-function.ts';

export const OUT_DIR = path.join(PROJECT_ROOT, 'bench/.out');

/** The kitchen-sink reference: stripe + Meta's SDK + AWS SDK clients + Powertools + middy, doing the same job. */
export const REFERENCE_ENTRY = 'bench/reference/kitchen-sink.ts';

/**
 * How the reference is built, fixed so the target does not move when the relay's own BUNDLING changes: the way a
 * kitchen-sink function is usually shipped (NodejsFunction's ESM output, minified, the AWS SDK left to the runtime's
 * copy). Passed as overrides to `bundle` (the diagnostic "reference with the AWS SDK bundled" adds `external: []`).
 */
export const REFERENCE_BUILD: BuildOptions = {
  format: 'esm',
  sourcesContent: true,
  target: 'node24',
  minify: true,
  mainFields: ['module', 'main'],
  external: ['@aws-sdk/*'],
  banner: { js: "import{createRequire as __cr}from'module';const require=__cr(import.meta.url);" },
  // None of the relay's own aliases (LAMBDA_ALIASES): the reference keeps the SDK's default credential chain.
  alias: {},
};

/**
 * The esbuild options CDK's NodejsFunction derives from `BUNDLING` (lib/constructs/relay-function.ts):
 * `esbuild --bundle --platform=node --format=esm --target=node24 --minify --sourcemap --sources-content=false
 * --main-fields=module,main --banner:js=… --alias:…` (the AWS SDK bundled), output `index.mjs`.
 */
export function lambdaBuildOptions(entry: string, outfile: string): BuildOptions {
  return {
    entryPoints: [path.join(PROJECT_ROOT, entry)],
    outfile,
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    platform: 'node',
    format: BUNDLING.format === OutputFormat.ESM ? 'esm' : 'cjs',
    target: BUNDLING.target,
    minify: BUNDLING.minify,
    sourcemap: BUNDLING.sourceMap,
    sourcesContent: BUNDLING.sourcesContent,
    mainFields: BUNDLING.mainFields,
    external: BUNDLING.externalModules,
    banner: { js: BUNDLING.banner },
    alias: LAMBDA_ALIASES,
    metafile: true,
    logLevel: 'silent',
  };
}

export interface BuiltBundle {
  name: string;
  entry: string;
  /** Absolute path of `index.mjs`. */
  file: string;
  bytes: number;
  gzipBytes: number;
  mapBytes: number;
  /** Bytes in the output by package (`own code` for the project's files), largest first. */
  composition: { part: string; bytes: number }[];
}

/** Bundles one function exactly as the stack does (`overrides` for the reference and the diagnostics). */
export async function bundle(name: string, entry: string, overrides: BuildOptions = {}): Promise<BuiltBundle> {
  const dir = path.join(OUT_DIR, name);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'index.mjs');
  const result = await build({ ...lambdaBuildOptions(entry, file), ...overrides });
  const code = readFileSync(file);
  return {
    name,
    entry,
    file,
    bytes: code.length,
    gzipBytes: gzipSync(code, { level: 9 }).length,
    mapBytes: statSync(`${file}.map`).size,
    composition: composition(result.metafile!, file),
  };
}

export function packageOf(input: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  return m ? m[1] : 'own code';
}

function composition(meta: Metafile, file: string): { part: string; bytes: number }[] {
  const out = meta.outputs[path.relative(PROJECT_ROOT, file)] ?? Object.values(meta.outputs).find((o) => o.entryPoint);
  const byPart = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(out?.inputs ?? {})) {
    byPart.set(packageOf(input), (byPart.get(packageOf(input)) ?? 0) + bytesInOutput);
  }
  return [...byPart].map(([part, bytes]) => ({ part, bytes })).sort((a, b) => b.bytes - a.bytes);
}
