import { parseConsentDefault } from '#core/consent.ts';
import type { Conversion } from '#core/conversion.ts';
import type { IngestOptions, IngestPorts } from '#core/ingest.ts';
import { mappingFrom } from '#core/mapping.ts';
import { tooOldReason } from '#destinations/skip-rules.ts';
import { destinations } from '#registry';
import type { Settings } from '#sources/types.ts';

/**
 * The I/O the ingest pipeline runs on (visitor lookup, the commit of the conversion item, skip records) is built in
 * one place for every caller — the ingest Lambdas (one per source) and the operator CLI's backfill — so that a
 * payment that arrives by webhook and by backfill meets the same store and keeps one conversion; the ledger's stream
 * fans out what either commits. Create once per process: the store reads its tables from the environment (TABLE_ENV).
 */
export { createIngestPorts } from '#store/ingest-store.ts';

export interface IngestOptionsExtra {
  /**
   * Skip, at ingest, routes to platforms that would refuse the conversion for its age (each destination's
   * `maxEventAgeMs`, as the sender checks it), measured at this time. The backfill sets it: history is often older
   * than a platform accepts, and a skip with the reason beats a queued message the sender then drops.
   */
  ageCheckedAt?: Date;
}

/** The routing options of the pipeline from the settings: consent default, each destination's skip rules, the mapping. */
export function ingestOptions(settings: Settings, extra: IngestOptionsExtra = {}): IngestOptions {
  const at = extra.ageCheckedAt;
  return {
    consentDefault: parseConsentDefault(settings.CONSENT_DEFAULT),
    destinations: destinations.map((d) => ({
      name: d.name,
      blocks: (c: Conversion) => (at ? tooOldReason(d, c, at) : undefined) ?? d.skipReason?.(c),
    })),
    mapping: mappingFrom(settings),
    ...(at ? { now: at } : {}),
  };
}

/**
 * The same pipeline with nothing written: the visitor lookup reads, and the commit answers the routes it would have
 * queued. `--dry-run` plans with it, so its plan is the pipeline's own.
 */
export function planOnlyPorts(ports: IngestPorts): IngestPorts {
  return {
    visitors: ports.visitors,
    commit: async (conversion, routes, invocationId) => ({ kind: 'committed', receipt: { eventId: conversion.eventId, routes, invocationId } }),
    recordSkip: async () => {},
  };
}
