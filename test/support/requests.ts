/**
 * One builder for the `IncomingRequest` a source reads, so every source unit test describes only the parts of the
 * request its scenario is about (method, path, headers, query, body) and gets the rest as the runtime would send it.
 */
import type { IncomingRequest } from '#sources/types.ts';

/** The visitor ID the source tests attach to their events (a UUID, as /collect issues them). */
export const TEST_VISITOR_ID = 'b6f1c1d2-9a4e-4c1e-8f3a-2d7e5c9b0a11';

export interface RequestParts {
  method?: string;
  path: string;
  /** Sets the `content-type` header (a header of the same name in `headers` wins). */
  contentType?: string;
  headers?: Record<string, string | undefined>;
  query?: Record<string, string | undefined>;
  rawQuery?: string;
  /** Text is sent as UTF-8 bytes; no body is an empty one. */
  body?: string | Buffer;
}

/** A request as the HTTP handler hands it to a source: lower-case headers, the raw body bytes. Defaults to POST. */
export function incomingRequest({ method = 'POST', path, contentType, headers = {}, query = {}, rawQuery, body = '' }: RequestParts): IncomingRequest {
  const request: IncomingRequest = {
    method,
    path,
    headers: contentType === undefined ? { ...headers } : { 'content-type': contentType, ...headers },
    query,
    body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'),
  };
  if (rawQuery !== undefined) request.rawQuery = rawQuery;
  return request;
}

/** The request with its body changed after signing (`search` replaced by `replacement`): what a forger would send. */
export function tampered(request: IncomingRequest, search: string, replacement: string): IncomingRequest {
  const body = request.body.toString('utf8');
  if (!body.includes(search)) throw new Error(`tampered: the body does not contain ${JSON.stringify(search)}`);
  return { ...request, body: Buffer.from(body.replace(search, replacement), 'utf8') };
}
