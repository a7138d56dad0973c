import type { Conversion } from '#core/conversion.ts';

/** An HTTP request as a source sees it: the raw body bytes (signatures are computed over them), lower-case headers. */
export interface IncomingRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  /** The query string exactly as sent, without '?' (signatures over the URL need its original order). */
  rawQuery?: string;
  body: Buffer;
  sourceIp?: string;
}

/** Settings a source or destination reads: the environment locally, environment + its secret in AWS. */
export type Settings = Readonly<Record<string, string | undefined>>;

/**
 * A conversion as a source can build it from the event alone: identifiers already hashed, but not yet joined to
 * the visitor's stored clicks and consent (the ingest pipeline does that).
 */
export type ConversionDraft = Omit<Conversion, 'clicks' | 'consent' | 'actionSource' | 'eventSourceUrl'> &
  Partial<Pick<Conversion, 'actionSource' | 'eventSourceUrl' | 'consent'>>;

/** One event of a batch that is deliberately not a conversion. */
export interface SkippedEvent {
  sourceEventId: string;
  eventType: string;
  reason: string;
}

/**
 * What a verified source event turned out to be. A request carrying several events (HubSpot, CRM batches) lists
 * in `skipped` each event that is not a conversion; each is recorded with its reason.
 */
export type SourceResult =
  | { kind: 'conversions'; sourceEventId: string; eventType: string; conversions: ConversionDraft[]; skipped?: SkippedEvent[] }
  | { kind: 'skipped'; sourceEventId: string; eventType: string; reason: string; skipped?: SkippedEvent[] };

export interface Source {
  /** Also the folder name under functions/sources and the key in the registry. */
  name: string;
  /**
   * Verify the request's authenticity and map it. Throws `RequestError` for a request that will never succeed
   * (bad signature, malformed body); returns `skipped` for a genuine event that is not a conversion.
   */
  read(request: IncomingRequest, settings: Settings, now: Date): Promise<SourceResult>;
}
