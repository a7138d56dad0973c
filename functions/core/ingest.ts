import { resolveConsent, type ConsentDefault } from './consent.ts';
import { ConversionSchema, type Conversion } from './conversion.ts';
import { sha256Hex } from './normalize.ts';
import type { Visitor, VisitorLookup } from './visitor.ts';
import type { ConversionDraft, SourceResult } from '#sources/types.ts';

/** Where one conversion goes: queued for a destination, or deliberately not sent there (with the reason). */
export type Route = { destination: string; status: 'queued' } | { destination: string; status: 'skipped'; reason: string };

export interface RoutingRule {
  name: string;
  /** A reason not to send this conversion to this destination (consent, allowlist), or undefined. */
  blocks?(conversion: Conversion): string | undefined;
}

export interface EnqueueReceipt {
  eventId: string;
  routes: Route[];
  /** Set by the first invocation; a duplicate delivery gets the first one's receipt back. */
  invocationId: string;
}

export interface IngestPorts {
  visitors: VisitorLookup;
  /**
   * Durably enqueue one message per queued route and write the ledger; must be idempotent on `eventId` and answer a
   * duplicate with the first call's receipt.
   */
  enqueue(conversion: Conversion, routes: Route[], invocationId: string): Promise<EnqueueReceipt>;
  /** Record a source event that was verified but deliberately not turned into a conversion. */
  recordSkip(source: string, sourceEventId: string, eventType: string, reason: string): Promise<void>;
}

export interface IngestOptions {
  consentDefault: ConsentDefault;
  destinations: readonly RoutingRule[];
}

export type IngestOutcome =
  | { kind: 'skipped'; sourceEventId: string; eventType: string; reason: string }
  | { kind: 'accepted'; sourceEventId: string; eventType: string; receipts: (EnqueueReceipt & { duplicate: boolean })[] };

/** Joins a conversion drafted from a source event with what the visitor's landing told us. */
export function attachVisitor(draft: ConversionDraft, visitor: Visitor | undefined, consentDefault: ConsentDefault): Conversion {
  const user = { ...draft.user };
  user.ip ??= visitor?.ip;
  user.userAgent ??= visitor?.userAgent;
  const visitorId = draft.visitorId ?? visitor?.visitorId;
  if (!user.externalId && visitorId) user.externalId = sha256Hex(visitorId);
  const eventSourceUrl = draft.eventSourceUrl ?? visitor?.landingUrl;
  const conversion: Conversion = {
    ...draft,
    visitorId,
    user,
    clicks: { ...visitor?.clicks },
    consent: resolveConsent(draft.consent ?? visitor?.consent, consentDefault),
    eventSourceUrl,
    // A website event needs the browser's user agent and page URL (Meta's rule); without them it is server-generated.
    actionSource: draft.actionSource ?? (user.userAgent && eventSourceUrl ? 'website' : 'system_generated'),
  };
  return ConversionSchema.parse(conversion);
}

export function planRoutes(conversion: Conversion, destinations: readonly RoutingRule[]): Route[] {
  return destinations.map((d) => {
    const reason = d.blocks?.(conversion);
    return reason ? { destination: d.name, status: 'skipped', reason } : { destination: d.name, status: 'queued' };
  });
}

/**
 * The ingest pipeline after a source has verified and read a request: join each conversion to its visitor,
 * decide where it goes, enqueue it once.
 */
export async function ingest(
  source: string,
  result: SourceResult,
  ports: IngestPorts,
  opts: IngestOptions,
  invocationId: string,
): Promise<IngestOutcome> {
  if (result.kind === 'skipped') {
    await ports.recordSkip(source, result.sourceEventId, result.eventType, result.reason);
    return result;
  }
  const receipts = [];
  for (const draft of result.conversions) {
    const visitor = await ports.visitors.find({ visitorId: draft.visitorId, emailHash: draft.user.email, phoneHash: draft.user.phone });
    const conversion = attachVisitor(draft, visitor, opts.consentDefault);
    // Remember which visitor this e-mail / phone belongs to, so a later conversion with only one of them finds the clicks.
    if (visitor && draft.visitorId) {
      if (conversion.user.email) await ports.visitors.linkEmail(conversion.user.email, visitor.visitorId);
      if (conversion.user.phone) await ports.visitors.linkPhone?.(conversion.user.phone, visitor.visitorId);
    }
    const receipt = await ports.enqueue(conversion, planRoutes(conversion, opts.destinations), invocationId);
    receipts.push({ ...receipt, duplicate: receipt.invocationId !== invocationId });
  }
  return { kind: 'accepted', sourceEventId: result.sourceEventId, eventType: result.eventType, receipts };
}

