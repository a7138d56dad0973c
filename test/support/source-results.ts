/**
 * Unwrapping what a source's `read` returns or throws, with the expectation that makes a test fail when the
 * result is of another kind. Shared by the source unit tests.
 */
import { expect } from 'vitest';
import { ConversionSchema, type Conversion } from '#core/conversion.ts';
import { RequestError } from '#core/errors.ts';
import { attachVisitor } from '#core/ingest.ts';
import type { ConversionDraft, SourceResult } from '#sources/types.ts';

/** The conversions of a result that must be `conversions`. */
export function conversionsOf(result: SourceResult): ConversionDraft[] {
  expect(result.kind, JSON.stringify(result)).toBe('conversions');
  return result.kind === 'conversions' ? result.conversions : [];
}

/** The one conversion of a result that must be `conversions` with exactly one. */
export function onlyConversion(result: SourceResult): ConversionDraft {
  const conversions = conversionsOf(result);
  expect(conversions).toHaveLength(1);
  return conversions[0];
}

/** A result that must be `skipped`. */
export function skippedResult(result: SourceResult): Extract<SourceResult, { kind: 'skipped' }> {
  expect(result.kind, JSON.stringify(result)).toBe('skipped');
  if (result.kind !== 'skipped') throw new Error('unreachable');
  return result;
}

/** What a read that must fail threw (any error). */
export async function readFailure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the read to fail');
}

/** The `RequestError` (a 4xx answer) a read that must be refused threw. */
export async function rejection(promise: Promise<unknown>): Promise<RequestError> {
  const err = await readFailure(promise);
  expect(err).toBeInstanceOf(RequestError);
  return err as RequestError;
}

/**
 * The draft completed as the ingest pipeline would for a visitor it does not know (no clicks, no consent), parsed
 * by the Conversion schema: throws when the draft cannot become a valid conversion.
 */
export function asConversion(draft: ConversionDraft): Conversion {
  return ConversionSchema.parse({ ...draft, actionSource: draft.actionSource ?? 'system_generated', clicks: {}, consent: draft.consent ?? {} });
}

/**
 * For property tests over arbitrary input: 'read' when the source read the request and every conversion passes the
 * ingest pipeline's schema check (else ingest would answer 500), the status when it refused it with a RequestError.
 * Any other error is rethrown: a crash would answer 500 and make the sender retry a request that can never succeed.
 */
export async function readOutcome(read: () => Promise<SourceResult>): Promise<'read' | number> {
  try {
    const result = await read();
    if (result.kind === 'conversions') for (const draft of result.conversions) attachVisitor(draft, undefined, 'granted');
    return 'read';
  } catch (err) {
    if (err instanceof RequestError) return err.status;
    throw err;
  }
}
