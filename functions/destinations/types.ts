import type { Conversion } from '#core/conversion.ts';
import type { Settings } from '#sources/types.ts';

/** The exact HTTP request a destination would make; what dry-run records. */
export interface PlatformRequest {
  method: 'POST';
  url: string;
  headers: Record<string, string>;
  body: unknown;
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
 *   batch of more than one is split to find the culprit(s).
 */
export type ResponseVerdict =
  | { kind: 'ok' }
  | { kind: 'transient'; error: PlatformError }
  | { kind: 'rejected-batch'; error: PlatformError }
  | { kind: 'rejected-data'; error: PlatformError };

export interface Destination<Config = unknown> {
  /** Also the folder name under functions/destinations and the key in the registry. */
  name: string;
  /** The platform's maximum number of events in one request. */
  maxBatchSize: number;
  /** Events older than this are refused by the platform: skip them instead of retrying forever. */
  maxEventAgeMs: number;
  /** Settings keys this destination reads (documented in .env.example). The first ones are credentials. */
  settingKeys: readonly string[];
  /** Parse settings; `undefined` config with the missing keys means dry-run. Throws on an invalid value. */
  configure(settings: Settings): { config: Config; missing: [] } | { config: undefined; missing: string[] };
  /** Whether this conversion may go to this platform at all given consent (else: skipped with the reason). */
  consentBlocks?(conversion: Conversion): string | undefined;
  /** Build the one request for a batch (length ≤ maxBatchSize). Dry-run builds it with placeholder config. */
  buildRequest(conversions: Conversion[], config: Config | undefined, now: Date): PlatformRequest;
  classify(response: PlatformResponse): ResponseVerdict;
  /** Which identifiers and signals a conversion carries to this platform (for the ledger). */
  signals(conversion: Conversion): string[];
}
