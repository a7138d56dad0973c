import { parseConsentDefault } from '#core/consent.ts';
import type { Conversion } from '#core/conversion.ts';
import type { EnqueueReceipt, IngestOptions, IngestPorts, Route } from '#core/ingest.ts';
import { mappingFrom } from '#core/mapping.ts';
import { tooOldReason } from '#destinations/deliver.ts';
import { destinations } from '#registry';
import type { Settings } from '#sources/types.ts';
import { enqueueOnce } from '#store/idempotency.ts';
import { DynamoLedger } from '#store/ledger.ts';
import { publish } from '#store/queues.ts';
import { DynamoVisitorStore } from '#store/visitors.ts';

/**
 * The I/O the ingest pipeline runs on (visitor lookup, idempotent enqueue + ledger, skip records), built in one place
 * for every caller: the ingest Lambdas (one per source) and the operator CLI's backfill, so that a payment that
 * arrives by webhook and by backfill meets the same store and keeps one conversion. Create once per process: the
 * stores read their table and queue names from the environment (TABLE_ENV, RELAY_QUEUE_URL_<DEST>).
 */
export function createIngestPorts(): IngestPorts {
  const visitors = new DynamoVisitorStore();
  const ledger = new DynamoLedger();
  // The ledger row is written before the message, so a fast sender's "delivered" is never overwritten by "queued".
  const enqueue = enqueueOnce(async (conversion: Conversion, routes: Route[], invocationId: string): Promise<EnqueueReceipt> => {
    await ledger.recordRoutes(conversion, routes);
    await Promise.all(routes.filter((r) => r.status === 'queued').map((r) => publish(r.destination, conversion)));
    return { eventId: conversion.eventId, routes, invocationId };
  });
  return { visitors, enqueue, recordSkip: ledger.recordSkip.bind(ledger) };
}

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
 * The same pipeline with nothing written: the visitor lookup reads, every write is left out, and the enqueue answers
 * the routes it would have queued. `--dry-run` plans with it, so its plan is the pipeline's own.
 */
export function planOnlyPorts(ports: IngestPorts): IngestPorts {
  const read = ports.visitors;
  return {
    visitors: { find: read.find.bind(read), linkEmail: async () => {}, linkPhone: async () => {} },
    enqueue: async (conversion, routes, invocationId) => ({ eventId: conversion.eventId, routes, invocationId }),
    recordSkip: async () => {},
  };
}
