import { spawn } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../lib/constructs/relay-function.ts';

/**
 * A stand-in for what a Lambda Node.js runtime (nodejs22.x / nodejs24.x) offers a function's bundle, so that a bundle
 * can be imported the way Lambda imports it: in a fresh process, from a directory of its own, with no node_modules but
 * the runtime's.
 *
 * Which packages: AWS documents that "all supported Lambda Node.js runtimes include a specific minor version of the
 * AWS SDK for JavaScript v3" (docs.aws.amazon.com/lambda/latest/dg/lambda-nodejs.html#nodejs-sdk-included), on the
 * runtime's search path at /var/lang/lib/node_modules (…/nodejs-package.html#nodejs-package-searchpath). The docs do
 * not enumerate the packages; we take the SDK v3 to be the `@aws-sdk/*` packages (clients and libraries such as
 * lib-dynamodb, which AWS's console-code examples import without a deployment package), with what they depend on
 * (`@smithy/*`, `@aws-crypto/*`, tslib, …). That is exactly what BUNDLING leaves external
 * (lib/constructs/relay-function.ts); anything else a bundle imports at run time would be missing on Lambda.
 * Built from the installed packages: each package folder is copied (never linked: Node would resolve a link back
 * into the project's node_modules), with its dependency closure.
 */
export const RUNTIME_PACKAGE_SCOPES = ['@aws-sdk/'];

const PROJECT_MODULES = path.join(PROJECT_ROOT, 'node_modules');

/** Where `name` resolves from the package folder `from` (Node's node_modules walk, up to the project's). */
function resolvePackageDir(name: string, from: string): string | undefined {
  for (let dir = from; dir.startsWith(PROJECT_MODULES); dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === PROJECT_MODULES) break;
  }
  const top = path.join(PROJECT_MODULES, name);
  return existsSync(path.join(top, 'package.json')) ? top : undefined;
}

/** The installed top-level packages of the runtime set: every `@aws-sdk/*` package in the project's node_modules. */
function runtimeRoots(): string[] {
  return RUNTIME_PACKAGE_SCOPES.flatMap((scope) => {
    const dir = path.join(PROJECT_MODULES, scope);
    return existsSync(dir) ? readdirSync(dir).map((n) => `${scope}${n}`) : [];
  });
}

/**
 * Writes `<dir>/node_modules` holding the runtime's packages and their dependency closure (top-level packages only:
 * a package's nested node_modules travel with its folder). Returns the package names copied.
 */
export function writeRuntimeNodeModules(dir: string): string[] {
  const out = path.join(dir, 'node_modules');
  const copied = new Set<string>();
  const visited = new Set<string>();
  const queue: string[] = runtimeRoots().map((n) => path.join(PROJECT_MODULES, n));
  while (queue.length) {
    const pkgDir = queue.pop()!;
    if (visited.has(pkgDir)) continue;
    visited.add(pkgDir);
    const rel = path.relative(PROJECT_MODULES, pkgDir);
    const topLevel = !rel.includes(`${path.sep}node_modules${path.sep}`);
    if (topLevel) {
      copied.add(rel);
      cpSync(pkgDir, path.join(out, rel), { recursive: true, dereference: true });
    }
    const pkg = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies, ...pkg.peerDependencies })) {
      const found = resolvePackageDir(dep, pkgDir);
      if (found && !visited.has(found)) queue.push(found);
    }
  }
  return [...copied].sort();
}

export interface BundleRun {
  /** What the handler returned. */
  result: any;
  stderr: string;
}

const DRIVER = path.join(PROJECT_ROOT, 'bench/cold-driver.mjs');
let runs = 0;

/**
 * Imports a function's bundle (`assetDir`: its index.mjs, as staged for upload) in a fresh Node process, as Lambda's
 * runtime does, from a task directory inside `runtimeDir` (whose node_modules is the runtime's), with only `env` in
 * its environment, and serves it `event`. Throws an error naming `name` when the import fails, the handler throws,
 * or the process dies: what Lambda would report as Runtime.ImportModuleError or a function error.
 */
export async function runBundle(opts: { name: string; assetDir: string; runtimeDir: string; event: unknown; env: Record<string, string>; memoryMb?: number }): Promise<BundleRun> {
  const n = ++runs;
  const task = path.join(opts.runtimeDir, `task-${n}-${opts.name.replace(/\W+/g, '-')}`);
  rmSync(task, { recursive: true, force: true });
  cpSync(opts.assetDir, task, { recursive: true });
  const eventFile = path.join(opts.runtimeDir, `event-${n}.json`);
  const resultFile = path.join(opts.runtimeDir, `result-${n}.json`);
  writeFileSync(eventFile, JSON.stringify({ event: opts.event, functionName: opts.name, memoryMb: opts.memoryMb ?? 256 }));
  // HOME points into the runtime directory: no ~/.node_modules of this machine can satisfy a require.
  const env = { ...opts.env, HOME: opts.runtimeDir };
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [DRIVER, path.join(task, 'index.mjs'), eventFile, resultFile], { cwd: task, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (c) => resolve({ code: c, stderr: err }));
  });
  const firstLines = (s: string) => s.split('\n').filter(Boolean).slice(0, 6).join('\n');
  if (!existsSync(resultFile)) throw new Error(`${opts.name}: the bundle did not load or serve its event (exit ${code}):\n${firstLines(stderr)}`);
  const r = JSON.parse(readFileSync(resultFile, 'utf8'));
  if (r.error) throw new Error(`${opts.name}: the handler threw: ${firstLines(r.error)}`);
  if (code !== 0) throw new Error(`${opts.name}: exit ${code}:\n${firstLines(stderr)}`);
  return { result: r.result, stderr };
}
