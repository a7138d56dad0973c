import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { ingest, type IngestOptions } from '#core/ingest.ts';
import { MAPPING_SETTING } from '#core/mapping.ts';
import type { Settings, Source } from '#sources/types.ts';
import { loadSettings } from '#store/settings.ts';
import { SOURCE_METRICS, reasonCategory } from '#core/metric-names.ts';
import { sources } from '#registry';
import { answer, checkRoute, json, toIncomingRequest } from './http.ts';
import { createIngestPorts, ingestOptions } from './ingest-ports.ts';
import { countOutcome, logger, metrics } from './powertools.ts';

/**
 * The Lambda entry point of one source, served by its function URL (or an HTTP API route): check the route, verify
 * and read the request (the source's job), then the shared ingest pipeline. Answers 2xx only once the conversion is
 * committed (its ledger item written: the stream fans it out).
 */
export function createIngestHandler(source: Source) {
  const ports = createIngestPorts();
  const routes = sources.find((s) => s.name === source.name)?.routes;
  if (!routes) throw new Error(`source ${source.name} is not in functions/registry.ts`);
  // The routing options depend on two settings only (the consent default and the mapping): built again when either
  // changes, not per webhook.
  let built: { consent?: string; mapping?: string; options: IngestOptions } | undefined;
  const optionsFor = (settings: Settings): IngestOptions => {
    const consent = settings.CONSENT_DEFAULT;
    const mapping = settings[MAPPING_SETTING];
    if (!built || built.consent !== consent || built.mapping !== mapping) built = { consent, mapping, options: ingestOptions(settings) };
    return built.options;
  };

  return middy(async (event: APIGatewayProxyEventV2, context: Context) =>
    answer(source.name, async () => {
      const invocationId = context.awsRequestId;
      // Every outcome (accepted, duplicate, skipped, rejected, failed) is counted on the invocation's metrics, published
      // once by logMetrics when it ends: one EMF document per webhook.
      metrics.addDimension('source', source.name);
      checkRoute(event, routes);
      const request = toIncomingRequest(event);
      const settings = await loadSettings();
      const result = await source.read(request, settings, new Date());
      const outcome = await ingest(source.name, result, ports, optionsFor(settings), invocationId);
      if (outcome.kind === 'skipped') {
        logger.info('source event skipped', { source: source.name, sourceEventId: outcome.sourceEventId, eventType: outcome.eventType, reason: outcome.reason });
        countOutcome(SOURCE_METRICS.skipped, reasonCategory(outcome.reason));
        return json(200, { status: 'skipped', reason: outcome.reason });
      }
      for (const r of outcome.receipts) {
        logger.info(r.duplicate ? 'duplicate delivery: conversion already committed' : 'conversion committed', {
          source: source.name,
          sourceEventId: outcome.sourceEventId,
          eventType: outcome.eventType,
          eventId: r.eventId,
          routes: r.routes,
        });
      }
      metrics.addMetric(SOURCE_METRICS.accepted, MetricUnit.Count, outcome.receipts.filter((r) => !r.duplicate).length);
      metrics.addMetric(SOURCE_METRICS.duplicates, MetricUnit.Count, outcome.receipts.filter((r) => r.duplicate).length);
      return json(200, {
        status: outcome.receipts.every((r) => r.duplicate) ? 'duplicate' : 'accepted',
        conversions: outcome.receipts.map((r) => ({ eventId: r.eventId, routes: r.routes })),
        ...(outcome.skipped?.length ? { skipped: outcome.skipped.map((s) => ({ sourceEventId: s.sourceEventId, reason: s.reason })) } : {}),
      });
    }, countOutcome),
  )
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics));
}
