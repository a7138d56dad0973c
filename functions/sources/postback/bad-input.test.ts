import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestError } from '#core/errors.ts';
import { attachVisitor } from '#core/ingest.ts';
import type { IncomingRequest } from '#sources/types.ts';
import { NOW } from '../../../test/support/factories.ts';
import { postbackSource } from './index.ts';

/** Whatever the parameters, a postback is read (into conversions the ingest pipeline accepts) or refused with a 4xx. */
const TOKEN = 'pb_fuzz_token_0123456789';
const PARAMS = ['clickid', 'payout', 'txid', 'status', 'currency', 'event', 'token'] as const;

async function outcome(request: IncomingRequest): Promise<'read' | number> {
  try {
    const result = await postbackSource.read(request, { POSTBACK_TOKEN: TOKEN }, NOW);
    if (result.kind === 'conversions') for (const draft of result.conversions) attachVisitor(draft, undefined, 'granted');
    return 'read';
  } catch (err) {
    if (err instanceof RequestError) return err.status;
    throw err;
  }
}

const value = fc.oneof(fc.string({ maxLength: 250 }), fc.constantFrom('', '{txid}', '-1', '1e9', '0.001', 'lead', 'rejected', 'b6f1c1d2-9a4e-4c1e-8f3a-2d7e5c9b0a11'), fc.double({ noNaN: true }).map(String));

describe('postback source: arbitrary input', () => {
  it('reads or refuses (4xx) arbitrary query parameters with the right token', async () => {
    await fc.assert(
      fc.asyncProperty(fc.record(Object.fromEntries(PARAMS.filter((p) => p !== 'token').map((p) => [p, value])), { requiredKeys: [] }), async (params) => {
        const query = { clickid: 'b6f1c1d2-9a4e-4c1e-8f3a-2d7e5c9b0a11', ...params, token: TOKEN } as Record<string, string>;
        const result = await outcome({ method: 'GET', path: '/postback', headers: {}, query, body: Buffer.alloc(0) });
        expect(['read', 400]).toContain(result);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses arbitrary bodies and headers without the token with 401, 400 or 415', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', ''), fc.string({ maxLength: 60 }), async (bytes, contentType, authorization) => {
        const result = await outcome({ method: 'POST', path: '/postback', headers: { 'content-type': contentType, authorization }, query: {}, body: Buffer.from(bytes) });
        expect([400, 401, 415]).toContain(result);
      }),
      { numRuns: 500 },
    );
  });
});
