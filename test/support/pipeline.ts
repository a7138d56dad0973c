import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Conversion } from '#core/conversion.ts';
import { ingest, type IngestPorts, type Route } from '#core/ingest.ts';
import type { Visitor } from '#core/visitor.ts';
import { ingestOptions } from '#handlers/ingest-ports.ts';
import type { Source } from '#sources/types.ts';
import { PROJECT_ROOT } from './relay-process.ts';
import type { SourceRequest } from './source-requests.ts';

/** A source by its registry name (functions/sources/<name>/index.ts exports it). */
export async function sourceNamed(name: string): Promise<Source> {
  const module = await import(pathToFileURL(path.join(PROJECT_ROOT, `functions/sources/${name}/index.ts`)).href);
  const source = Object.values(module).find((v): v is Source => typeof v === 'object' && v !== null && (v as Source).name === name && typeof (v as Source).read === 'function');
  if (!source) throw new Error(`functions/sources/${name}/index.ts exports no Source named "${name}"`);
  return source;
}

/**
 * What ingest would enqueue for a source's request — each Conversion and its routes to the registry's destinations —
 * through the source's own `read` and the real pipeline with every commit granted and nothing written; `visitor` is
 * what the visitor lookup finds (default: nobody).
 */
export async function enqueuedFor(sourceName: string, request: SourceRequest, settings: Record<string, string>, opts: { visitor?: Visitor; now?: Date } = {}): Promise<{ conversion: Conversion; routes: Route[] }[]> {
  const now = opts.now ?? new Date();
  const source = await sourceNamed(sourceName);
  const body = typeof request.body === 'string' ? Buffer.from(request.body) : request.body;
  const url = new URL(request.path, 'https://relay.example');
  const result = await source.read({ method: request.method, path: url.pathname, headers: request.headers, query: Object.fromEntries(url.searchParams), rawQuery: url.search.slice(1), body }, settings, now);
  const enqueued: { conversion: Conversion; routes: Route[] }[] = [];
  const ports: IngestPorts = {
    visitors: { find: async () => opts.visitor },
    commit: async (conversion, routes, invocationId) => {
      enqueued.push({ conversion, routes });
      return { kind: 'committed', receipt: { eventId: conversion.eventId, routes, invocationId } };
    },
    recordSkip: async () => undefined,
  };
  await ingest(sourceName, result, ports, { ...ingestOptions({ CONSENT_DEFAULT: 'granted', ...settings }), now }, 'inv-pipeline');
  return enqueued;
}
