import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { IncomingRequest } from '#sources/types.ts';
import { NOW } from '../../../test/support/factories.ts';
import { TEST_VISITOR_ID, incomingRequest } from '../../../test/support/requests.ts';
import { readOutcome } from '../../../test/support/source-results.ts';
import { postbackSource } from './index.ts';

/** Whatever the parameters, a postback is read (into conversions the ingest pipeline accepts) or refused with a 4xx. */
const TOKEN = 'pb_fuzz_token_0123456789';
const PARAMS = ['clickid', 'payout', 'txid', 'status', 'currency', 'event', 'token'] as const;

const outcome = (request: IncomingRequest) => readOutcome(() => postbackSource.read(request, { POSTBACK_TOKEN: TOKEN }, NOW));

const value = fc.oneof(fc.string({ maxLength: 250 }), fc.constantFrom('', '{txid}', '-1', '1e9', '0.001', 'lead', 'rejected', TEST_VISITOR_ID), fc.double({ noNaN: true }).map(String));

describe('postback source: arbitrary input', () => {
  it('reads or refuses (4xx) arbitrary query parameters with the right token', async () => {
    await fc.assert(
      fc.asyncProperty(fc.record(Object.fromEntries(PARAMS.filter((p) => p !== 'token').map((p) => [p, value])), { requiredKeys: [] }), async (params) => {
        const query = { clickid: TEST_VISITOR_ID, ...params, token: TOKEN } as Record<string, string>;
        const result = await outcome(incomingRequest({ method: 'GET', path: '/postback', query }));
        expect(['read', 400]).toContain(result);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses arbitrary bodies and headers without the token with 401, 400 or 415', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', ''), fc.string({ maxLength: 60 }), async (bytes, contentType, authorization) => {
        const result = await outcome(incomingRequest({ path: '/postback', headers: { 'content-type': contentType, authorization }, body: Buffer.from(bytes) }));
        expect([400, 401, 415]).toContain(result);
      }),
      { numRuns: 500 },
    );
  });
});
