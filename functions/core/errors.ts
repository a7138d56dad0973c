/**
 * Errors a source raises while reading a request. Each carries the HTTP status the sender should see and a
 * message safe to show it (never a secret, never personal data).
 */
export class RequestError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 413 | 415 | 422,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}
