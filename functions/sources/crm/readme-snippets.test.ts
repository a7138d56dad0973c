import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncomingRequest } from '#sources/types.ts';
import { PROJECT_ROOT } from '../../../test/support/relay-process.ts';
import { crmSource } from './index.ts';

/**
 * The README's signing examples for the generic CRM webhook, run exactly as written (the Node snippet with node,
 * the curl one with bash, openssl and curl) against a local server that captures the request; the captured request
 * must then pass the CRM source's own verification. If the README and the verifier drift apart, this fails.
 */
const run = promisify(execFile);
const SECRET = 'readme-snippet-secret';
/** The curl example needs bash, openssl and curl on the PATH (CI images and laptops have them; say so if not). */
const hasShellTools = ['bash', 'openssl', 'curl'].every((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0);

function readmeBlock(language: string): string {
  const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Any CRM (generic webhook)'));
  const block = new RegExp('```' + language + '\\n([\\s\\S]*?)\\n```').exec(section);
  if (!block) throw new Error(`no \`\`\`${language} block in the README's "Any CRM" section`);
  return block[1];
}

describe('README: signing a CRM webhook', () => {
  let server: Server;
  let url: string;
  let dir: string;
  const captured: IncomingRequest[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
        captured.push({ method: req.method ?? 'POST', path: req.url ?? '/', headers, query: {}, body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"captured"}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = mkdtempSync(path.join(tmpdir(), 'readme-snippets-'));
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  const env = () => ({ PATH: process.env.PATH, RELAY_URL: url, CRM_WEBHOOK_SECRET: SECRET });

  it('the Node.js snippet signs a request the relay accepts', async () => {
    const file = path.join(dir, 'send.mjs');
    writeFileSync(file, readmeBlock('js'));
    captured.length = 0;

    const { stdout } = await run(process.execPath, [file], { env: env() });

    expect(stdout).toMatch(/^200 /);
    expect(captured).toHaveLength(1);
    expect(captured[0].path).toBe('/webhooks/crm');
    const result = await crmSource.read(captured[0], { CRM_WEBHOOK_SECRET: SECRET }, new Date());
    expect(result).toMatchObject({ kind: 'conversions', conversions: [{ eventName: 'Lead', eventId: 'lead-1001' }] });
  });

  it.skipIf(!hasShellTools)('the curl + openssl snippet signs a request the relay accepts (needs bash, openssl, curl)', async () => {
    captured.length = 0;

    await run('bash', ['-euo', 'pipefail', '-c', readmeBlock('bash')], { env: env() });

    expect(captured).toHaveLength(1);
    const result = await crmSource.read(captured[0], { CRM_WEBHOOK_SECRET: SECRET }, new Date());
    expect(result).toMatchObject({ kind: 'conversions', conversions: [{ eventName: 'Purchase', eventId: 'deal-2002', value: 1200, currency: 'USD' }] });
  });

  it('a snippet run with another secret is refused (the check above is not vacuous)', async () => {
    const file = path.join(dir, 'send-other.mjs');
    writeFileSync(file, readmeBlock('js'));
    captured.length = 0;

    await run(process.execPath, [file], { env: { ...env(), CRM_WEBHOOK_SECRET: 'another-secret' } });

    await expect(crmSource.read(captured[0], { CRM_WEBHOOK_SECRET: SECRET }, new Date())).rejects.toMatchObject({ status: 401, code: 'invalid_signature' });
  });
});
