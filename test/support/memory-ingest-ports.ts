import type { Conversion } from '#core/conversion.ts';
import type { EnqueueReceipt, IngestPorts, Route } from '#core/ingest.ts';

/**
 * The ingest pipeline's ports in memory, for the backfill's tests: what was enqueued (with its routes), and every write
 * as a word. A duplicate is answered at the commit with the first receipt, as the real store does.
 */
export function memoryIngestPorts() {
  const enqueued: { conversion: Conversion; routes: Route[] }[] = [];
  const receipts = new Map<string, EnqueueReceipt>();
  const writes: string[] = [];
  const ports: IngestPorts = {
    visitors: { find: async () => undefined },
    // A duplicate's commit is answered with the first receipt, as the real store does.
    async commit(conversion, routes, invocationId, links) {
      const first = receipts.get(conversion.eventId);
      if (first) return { kind: 'duplicate', receipt: first };
      for (const l of links) writes.push(`link ${l.kind}`);
      const receipt = { eventId: conversion.eventId, routes, invocationId };
      receipts.set(conversion.eventId, receipt);
      enqueued.push({ conversion, routes });
      return { kind: 'committed', receipt };
    },
    recordSkip: async () => void writes.push('recordSkip'),
  };
  return { ports, enqueued, writes };
}
