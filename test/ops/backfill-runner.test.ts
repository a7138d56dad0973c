import { describe, expect, it } from 'vitest';
import type { Conversion } from '#core/conversion.ts';
import type { EnqueueReceipt, IngestPorts, Route } from '#core/ingest.ts';
import { ingestOptions, planOnlyPorts } from '#handlers/ingest-ports.ts';
import { asWebhookEvent } from '#sources/stripe/history.ts';
import { readStripeEvent } from '#sources/stripe/index.ts';
import { backfill, parseWindow, type HistoryItem } from '../../lib/ops/backfill.ts';
import { stripeInvoice, stripePaymentIntent, stripeSession } from '../support/stripe-objects.ts';

/**
 * The backfill's bookkeeping over the real pipeline (core/ingest.ts, the registry's destinations and their skip rules)
 * with in-memory ports: what is counted once, what is already sent, what each destination is planned, what a dry run
 * writes (nothing).
 */
const NOW = new Date('2026-11-20T12:00:00Z');
const S = Math.floor(NOW.getTime() / 1000);
const SETTINGS = {};

function memoryPorts() {
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

const item = (kind: string, object: Parameters<typeof asWebhookEvent>[0]): HistoryItem => {
  const wrapped = asWebhookEvent(object);
  return 'skip' in wrapped ? { kind, skip: wrapped.skip } : { kind, read: () => readStripeEvent(wrapped.event, SETTINGS) };
};
async function* list(...items: HistoryItem[]) {
  yield* items;
}

const email = { email: 'buyer@example.com', name: null, phone: null, address: null, tax_exempt: 'none', tax_ids: [] };
const session = stripeSession({ id: 'cs_1', mode: 'payment', status: 'complete', payment_status: 'paid', amount_total: 1000, currency: 'usd', payment_intent: 'pi_1', livemode: true, created: S - 3600, customer_details: email });
const intent = stripePaymentIntent({ id: 'pi_1', status: 'succeeded', amount: 1000, amount_received: 1000, currency: 'usd', livemode: true, created: S - 3600 });
const old = stripeInvoice({ id: 'in_old', status: 'paid', billing_reason: 'manual', amount_paid: 500, currency: 'usd', livemode: true, created: S - 8 * 86400, status_transitions: { paid_at: S - 8 * 86400 }, customer_email: 'old@example.com' });
const known = stripePaymentIntent({ id: 'pi_known', status: 'succeeded', amount: 700, amount_received: 700, currency: 'usd', livemode: true, created: S - 7200, receipt_email: 'known@example.com' });
const unpaid = stripePaymentIntent({ id: 'pi_unpaid', status: 'requires_payment_method', livemode: true, created: S - 60 });

describe('backfill bookkeeping', () => {
  const history = () => list(item('checkout sessions', session), item('invoices', old), item('payment intents', intent), item('payment intents', known), item('payment intents', unpaid));

  it('counts one conversion per payment, leaves what the ledger knows, plans each destination with its age limit', async () => {
    const { ports, enqueued } = memoryPorts();
    const summary = await backfill(history(), { source: 'stripe', ports, options: (at) => ingestOptions(SETTINGS, { ageCheckedAt: at }), known: async (id) => id === 'pi_known', dryRun: false, now: () => NOW });
    expect(summary).toMatchObject({ found: 3, alreadySent: 1, queued: 2, read: { 'checkout sessions': 1, invoices: 1, 'payment intents': 3 }, notConversions: { 'payment intent requires_payment_method': 1 } });
    expect(enqueued.map((e) => e.conversion.eventId)).toEqual(['pi_1', 'in_old']);
    // Eight days old: past Meta's, TikTok's and GA4's limits, inside Google Ads', LinkedIn's and Snapchat's.
    const routes = Object.fromEntries(enqueued[1].routes.map((r) => [r.destination, r.status === 'skipped' ? r.reason : 'queued']));
    expect(routes.meta).toMatch(/^too old for meta: occurred 192 h ago, the platform accepts at most 167 h$/);
    expect(routes.tiktok).toMatch(/^too old for tiktok/);
    expect(routes.ga4).toMatch(/^too old for ga4/);
    expect(routes['google-ads']).toBe('queued');
    expect(summary.destinations.meta).toEqual({ queued: 1, skipped: { 'too old for meta': { count: 1, example: routes.meta } } });
  });

  it('a second run over the same store finds everything already sent (the idempotency receipt, when the ledger missed it)', async () => {
    const { ports, enqueued } = memoryPorts();
    const deps = { source: 'stripe', ports, options: (at: Date) => ingestOptions(SETTINGS, { ageCheckedAt: at }), known: async () => false, dryRun: false, now: () => NOW };
    await backfill(history(), deps);
    const again = await backfill(history(), deps);
    expect(again).toMatchObject({ found: 3, alreadySent: 3, queued: 0, destinations: {} });
    expect(enqueued).toHaveLength(3);
  });

  it('a dry run plans through the same pipeline and writes nothing', async () => {
    const { ports, enqueued, writes } = memoryPorts();
    const summary = await backfill(history(), { source: 'stripe', ports: planOnlyPorts(ports), options: (at) => ingestOptions(SETTINGS, { ageCheckedAt: at }), known: async () => false, dryRun: true, now: () => NOW });
    expect(summary).toMatchObject({ dryRun: true, found: 3, queued: 3 });
    expect(enqueued).toEqual([]);
    expect(writes).toEqual([]);
  });

  it('reads --since / --until as durations or dates', () => {
    expect(parseWindow('7d', undefined, NOW)).toEqual({ gte: S - 7 * 86400, lte: S });
    expect(parseWindow('2026-11-01', '2026-11-08', NOW)).toEqual({ gte: Date.parse('2026-11-01') / 1000, lte: Date.parse('2026-11-08') / 1000 });
    expect(() => parseWindow('1d', '3d', NOW)).toThrow(/is after --until/);
  });
});
