import type { Conversion } from '#core/conversion.ts';
import type { Settings } from '#sources/types.ts';

/** Sends one request; throws on network failure or timeout. */
export type Transport = (request: PlatformRequest) => Promise<PlatformResponse>;

/** The exact HTTP request a destination would make; what dry-run records. */
export interface PlatformRequest {
  /** GET carries no body (a status query such as Data Manager's requestStatus:retrieve). */
  method: 'POST' | 'GET';
  url: string;
  headers: Record<string, string>;
  body: unknown;
  /** How `body` goes on the wire: JSON (default) or an HTML form (OAuth token endpoints). */
  encoding?: 'json' | 'form';
}

export interface PlatformResponse {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

export interface PlatformError {
  /** The platform's own error code where it has one (e.g. Meta `100/2804050`), else `http_<status>` or `network`. */
  code: string;
  message: string;
}

/**
 * How a platform answered a whole request:
 * - `ok`: every event accepted;
 * - `transient`: worth retrying later unchanged (network, timeout, 429, 5xx, throttling codes);
 * - `rejected-batch`: nothing in it can succeed until someone fixes configuration (bad token, unknown pixel):
 *   every event goes to the DLQ;
 * - `rejected-data`: something in the events is invalid; the platform rejected the whole batch for it, so a
 *   batch of more than one is split to find the culprit(s);
 * - `partial`: the platform answered per event (Google's partial failures, TikTok's per-row errors): the listed
 *   events failed (by their index in the request), every other one was accepted.
 *   With `resendOthers` (the Data Manager API's fast-fail model: one invalid event rejects the whole request and the
 *   error names its index) the listed events failed and every other one was *not* processed: they are sent again
 *   in a new request.
 * - `ok` may carry the platform's `requestId` for an asynchronously processed request (Data Manager API): the ledger
 *   keeps it, so `status <id>` can name the request Google later reports on.
 * A transient failure may say how long to wait (`retryAfterSeconds`, e.g. Google's "click too recent: retry in 6 h");
 * the sender then waits at least that long instead of its usual backoff.
 */
export type ResponseVerdict =
  | { kind: 'ok'; requestId?: string }
  | { kind: 'partial'; failures: { index: number; transient: boolean; error: PlatformError; retryAfterSeconds?: number }[]; resendOthers?: boolean }
  | { kind: 'transient'; error: PlatformError; retryAfterSeconds?: number }
  | { kind: 'rejected-batch'; error: PlatformError }
  | { kind: 'rejected-data'; error: PlatformError };

/**
 * What ingest needs of a destination to route a conversion: its name and its rules for not sending one at all. Each
 * destination folder's `route.ts` holds it, importing no request-building code, so the ingest Lambdas (which read
 * every destination's route through functions/registry.ts) bundle none of the payload builders, response
 * classifiers or HTTP clients; the folder's `index.ts` (the full `Destination`) spreads it.
 */
export interface DestinationRoute<Config = unknown> {
  /** Also the folder name under functions/destinations and the key in the registry. */
  name: string;
  /** Events older than this are refused by the platform: skip them instead of retrying forever. */
  maxEventAgeMs: number;
  /**
   * A reason not to send this conversion to this platform at all (consent, an adjustment the platform cannot
   * take): it is skipped and the ledger records the reason. Checked at ingest (without config) and again before
   * sending (with the config, when there is one: e.g. no conversion action configured for this event name).
   */
  skipReason?(conversion: Conversion, config?: Config): string | undefined;
}

export interface Destination<Config = unknown> extends DestinationRoute<Config> {
  /** The platform's maximum number of events in one request. */
  maxBatchSize: number;
  /** Where the limit depends on the configuration (Microsoft: 7 days for the UET Conversions API, 90 for offline uploads). */
  maxEventAgeMsFor?(config: Config): number;
  /** Settings keys this destination reads (documented in .env.example). The first ones are credentials. */
  settingKeys: readonly string[];
  /** Parse settings; `undefined` config with the missing keys means dry-run. Throws on an invalid value. */
  configure(settings: Settings): { config: Config; missing: [] } | { config: undefined; missing: string[] };
  /**
   * A payload the platform would refuse or silently drop (GA4 answers 2xx even to invalid data): the conversion is
   * not sent and goes to the DLQ with this error, to be fixed and redriven. Checked before sending (and in dry-run).
   */
  rejectReason?(conversion: Conversion, now: Date): PlatformError | undefined;
  /**
   * Conversions that cannot share a request (GA4: one client per request; Google Ads: uploads vs adjustments)
   * get different keys; each key's conversions are batched separately.
   */
  groupKey?(conversion: Conversion): string;
  /** Runs once per batch before sending (not in dry-run): e.g. obtain or refresh an OAuth access token. */
  prepare?(config: Config, transport: Transport, now: Date): Promise<Config>;
  /** Build the one request for a batch (length ≤ maxBatchSize). Dry-run builds it with placeholder config. */
  buildRequest(conversions: Conversion[], config: Config | undefined, now: Date): PlatformRequest;
  /** `config`: the prepared config the request was built with (e.g. a configured retry delay). */
  classify(response: PlatformResponse, config?: Config): ResponseVerdict;
  /**
   * Conversions that correct an earlier one (a refund retracting an upload) may go only after that one reached the
   * platform. Returns the event IDs the earlier conversion may have (candidates) to look up in the ledger (this
   * destination's rows), or undefined when the conversion stands alone.
   */
  dependsOn?(conversion: Conversion, config?: Config): string[] | undefined;
  /**
   * Given what the ledger knows of `dependsOn`'s event IDs at this destination (`undefined`: no row), decides:
   * `send` (possibly with details learnt from the original), `wait` (retried later), or `skip` with the reason.
   * Without it, a delivered original means send, a pending one wait, anything else skip.
   */
  afterDependencies?(conversion: Conversion, originals: (PriorDelivery | undefined)[]): DependencyDecision;
  /** Which identifiers and signals a conversion carries to this platform (for the ledger). */
  signals(conversion: Conversion, config?: Config): string[];
  /**
   * Something the ledger should say about a delivered conversion beyond "delivered" (e.g. "the Data Manager API cannot
   * retract: value restated to 0, the conversion still counts"). Recorded as the row's `note`.
   */
  deliveryNote?(conversion: Conversion, config?: Config): string | undefined;
  /**
   * A platform that processes accepted requests later (the Data Manager API answers a `requestId`, and its
   * requestStatus:retrieve later says what it made of them): the sender puts a status check for each request ID on
   * this destination's queue, asks after `firstCheckSeconds`, then again with doubling waits until the answer is final
   * (at most `maxChecks` times). A refusal sends the request's conversions to the DLQ with the platform's reason.
   */
  followUp?: {
    firstCheckSeconds(config: Config): number;
    maxChecks: number;
    buildRequest(requestId: string, config: Config): PlatformRequest;
    classify(response: PlatformResponse, requestId: string): FollowUpVerdict;
    /**
     * For a verdict with `later` events (refused only for now): when this conversion of the request, sent at `sentAt`,
     * may go again if it can be one of them (Google: its click was under 6 h old then); undefined if it cannot be.
     * `certain`: the platform said every event of the request is one of them.
     */
    retryAt?(conversion: Conversion, config: Config, sentAt: Date | undefined, now: Date, certain: boolean): Date | undefined;
  };
}

/**
 * What a status check found: still `pending`; `accepted` (with what the platform said); `refused` (every event of the
 * request, with the platform's reasons); `partly` (some refused, and the platform does not say which: recorded on
 * every row, nothing dead-lettered). `later`: how many of the request's events were refused only for now (Google's
 * PROCESSING_ERROR_REASON_TOO_RECENT_CLICK): those are sent again once due (`followUp.retryAt`), not dead-lettered.
 */
export type FollowUpLater = { count: number; error: PlatformError };
export type FollowUpVerdict =
  | { kind: 'pending'; note: string }
  /** `unconfirmed`: the request was accepted but its status could not be read. */
  | { kind: 'accepted'; note: string; unconfirmed?: boolean }
  | { kind: 'partly'; note: string; reasons?: PlatformReason[]; later?: FollowUpLater }
  | { kind: 'refused'; error: PlatformError; reasons?: PlatformReason[]; later?: FollowUpLater };

/** A platform's count of refused records per reason (Data Manager `errorInfo.errorCounts[]`). */
export interface PlatformReason {
  reason: string;
  count: number;
}

/**
 * The platform's verdict on a request, as the ledger row keeps it (`platformStatus`, `platformReasons`) for the
 * quality report: `pending` until the follow-up has a final answer; `unconfirmed` when none came (or it could not be
 * read); every row of a request carries the request's counts.
 */
export type PlatformStatus = 'pending' | 'succeeded' | 'partial' | 'failed' | 'unconfirmed';
export interface PlatformVerdict {
  requestId: string;
  status: PlatformStatus;
  reasons?: PlatformReason[];
}

/**
 * Thrown by `Destination.prepare` when nothing can succeed until someone fixes the configuration (a revoked OAuth
 * refresh token, an unknown OAuth client): the batch goes to the DLQ at once with `code`, instead of being retried.
 * Any other error thrown by `prepare` is retried.
 */
export class ConfigurationError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

/** What the ledger knows of an earlier conversion at one destination (for `Destination.dependsOn`). */
export interface PriorDelivery {
  eventId: string;
  status: 'queued' | 'skipped' | 'delivered' | 'dry_run' | 'retrying' | 'dead_lettered';
  eventName?: string;
  orderId?: string;
  occurredAt?: string;
  reason?: string;
  /** The Conversion while the ledger keeps it (not delivered yet, or awaiting the platform's final status). */
  conversion?: Conversion;
  attempts?: number;
  requestId?: string;
}

export type DependencyDecision = { send: Conversion } | { wait: string } | { skip: string };

/** Reads the ledger rows of one destination for some event IDs (same order; undefined where there is none). */
export type PriorDeliveryLookup = (destination: string, eventIds: string[]) => Promise<(PriorDelivery | undefined)[]>;
