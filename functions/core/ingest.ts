import { resolveConsent, type ConsentDefault } from './consent.ts';
import { ConversionSchema, type Conversion } from './conversion.ts';
import { allowlistReason, type Mapping } from './mapping.ts';
import { RequestError } from './errors.ts';
import { sha256Hex } from './normalize.ts';
import type { Visitor, VisitorLookup } from './visitor.ts';
import type { ConversionDraft, SkippedEvent, SourceResult } from '#sources/types.ts';

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

/**
 * What committing a conversion found: nobody had recorded it (now recorded: the ledger's stream fans it out), or it
 * was recorded already (a duplicate delivery), answered with the first one's receipt.
 */
export type Commit = { kind: 'committed'; receipt: EnqueueReceipt } | { kind: 'duplicate'; receipt: EnqueueReceipt };

/** A hashed e-mail or phone to point at a visitor (written only when the lookup did not find it already so). */
export interface VisitorLink {
  kind: 'email' | 'phone';
  hash: string;
  visitorId: string;
}

export interface IngestPorts {
  visitors: VisitorLookup;
  /**
   * Record the accepted conversion (its routes, the Conversion itself) in one conditional write, unless its event ID
   * is recorded already: that write is the commit, and every queued route reaches its queue from it (the fan-out on
   * the ledger's stream). Then the new visitor links.
   */
  commit(conversion: Conversion, routes: Route[], invocationId: string, links: VisitorLink[]): Promise<Commit>;
  /** Record a source event that was verified but deliberately not turned into a conversion. */
  recordSkip(source: string, sourceEventId: string, eventType: string, reason: string): Promise<void>;
}

export interface IngestOptions {
  consentDefault: ConsentDefault;
  destinations: readonly RoutingRule[];
  /** The mapping configuration: its per-destination allowlists apply before each destination's own rules. */
  mapping?: Mapping;
  /** The relay's clock (default: now). */
  now?: Date;
}

export type IngestOutcome =
  | { kind: 'skipped'; sourceEventId: string; eventType: string; reason: string }
  | {
      kind: 'accepted';
      sourceEventId: string;
      eventType: string;
      receipts: (EnqueueReceipt & { duplicate: boolean })[];
      /** Events of the same request that were not conversions (already recorded). */
      skipped?: SkippedEvent[];
    };

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
  // A genuine (signed) event whose values no platform could take will not get better on a retry: 422, not 500.
  const parsed = ConversionSchema.safeParse(conversion);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join('.') || 'conversion'}: ${i.message}`).join('; ');
    throw new RequestError(422, 'invalid_conversion', `the event cannot be a conversion: ${why}`.slice(0, 500));
  }
  return parsed.data;
}

/**
 * Remember which visitor this e-mail / phone belongs to, so a later conversion with only one of them finds the clicks;
 * a link the lookup found already pointing at this visitor (and not near expiry) is not written again.
 */
function newLinks(draft: ConversionDraft, conversion: Conversion, visitor: Visitor | undefined): VisitorLink[] {
  if (!visitor || !draft.visitorId) return [];
  const links: VisitorLink[] = [];
  if (conversion.user.email && visitor.links?.email !== visitor.visitorId) links.push({ kind: 'email', hash: conversion.user.email, visitorId: visitor.visitorId });
  if (conversion.user.phone && visitor.links?.phone !== visitor.visitorId) links.push({ kind: 'phone', hash: conversion.user.phone, visitorId: visitor.visitorId });
  return links;
}

/** No lone UTF-16 surrogate (what String.prototype.isWellFormed checks; ES2024, not in this target). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const wellFormed = (s: string) => !LONE_SURROGATE.test(s);

/** Clock skew tolerated between a source and the relay; a conversion further in the future is refused. */
export const MAX_FUTURE_SKEW_MS = 3600_000;

export function planRoutes(conversion: Conversion, destinations: readonly RoutingRule[], mapping?: Mapping): Route[] {
  return destinations.map((d) => {
    const reason = allowlistReason(mapping, d.name, conversion.eventName) ?? d.blocks?.(conversion);
    return reason ? { destination: d.name, status: 'skipped', reason } : { destination: d.name, status: 'queued' };
  });
}

/**
 * The ingest pipeline after a source has verified and read a request: join each conversion to its visitor, decide
 * where it goes, commit it once (a duplicate delivery meets the first one's record and gets its receipt).
 */
export async function ingest(
  source: string,
  result: SourceResult,
  ports: IngestPorts,
  opts: IngestOptions,
  invocationId: string,
): Promise<IngestOutcome> {
  // They become ledger keys (DynamoDB keys are at most 2 KB) and log fields: only short strings will do.
  for (const [field, v] of [['source event ID', result.sourceEventId], ['event type', result.eventType]] as const) {
    if (typeof v !== 'string' || v.length === 0 || v.length > 255 || !wellFormed(v)) {
      throw new RequestError(422, 'invalid_event', `the ${field} must be a well-formed string of 1 to 255 characters`);
    }
  }
  // A batch (HubSpot, CRM) may mix conversions and events that are not: each of those is recorded with its reason.
  for (const s of result.skipped ?? []) await ports.recordSkip(source, s.sourceEventId, s.eventType, s.reason);
  if (result.kind === 'skipped') {
    if (!result.skipped?.length) await ports.recordSkip(source, result.sourceEventId, result.eventType, result.reason);
    return { kind: 'skipped', sourceEventId: result.sourceEventId, eventType: result.eventType, reason: result.reason };
  }
  const receipts = [];
  const now = opts.now ?? new Date();
  for (const draft of result.conversions) {
    // Every platform refuses events from the future: better a 422 the source sees than a dead letter later.
    if (Date.parse(draft.occurredAt) > now.getTime() + MAX_FUTURE_SKEW_MS) {
      throw new RequestError(422, 'event_in_future', `the event occurred at ${draft.occurredAt}, in the future`);
    }
    // The event ID is a ledger key: a lone UTF-16 surrogate (hostile input) cannot be stored as UTF-8 and would
    // fail the write; refuse it before anything is read or written.
    if (!wellFormed(draft.eventId)) throw new RequestError(422, 'invalid_event', 'the event ID holds malformed Unicode (a lone surrogate)');
    // Nothing is written before the commit: a crash or a refusal (422) up to here leaves nothing behind, and the
    // source's retry does it all again.
    const visitor = await ports.visitors.find({ visitorId: draft.visitorId, emailHash: draft.user.email, phoneHash: draft.user.phone });
    const conversion = attachVisitor(draft, visitor, opts.consentDefault);
    const commit = await ports.commit(conversion, planRoutes(conversion, opts.destinations, opts.mapping), invocationId, newLinks(draft, conversion, visitor));
    // A second commit by the same invocation (the same event twice in one batch) is not another delivery.
    receipts.push({ ...commit.receipt, duplicate: commit.kind === 'duplicate' && commit.receipt.invocationId !== invocationId });
  }
  return { kind: 'accepted', sourceEventId: result.sourceEventId, eventType: result.eventType, receipts, skipped: result.skipped };
}
