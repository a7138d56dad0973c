import { RequestError } from '#core/errors.ts';
import type { IncomingRequest, Settings, Source, SourceResult } from '#sources/types.ts';
import { DecryptionError, decryptNotification, type EncryptedNotification } from './decrypt.ts';
import { mapNotification } from './map.ts';
import { NotificationSchema } from './schema.ts';

export const SECRET_SETTING = 'CLICKBANK_SECRET_KEY';

/**
 * ClickBank Instant Notifications, version 6.0 and later: a JSON body `{"notification", "iv"}` whose notification is
 * AES-256-CBC encrypted with a key derived from the account's secret key (decrypt.ts). `CLICKBANK_SECRET_KEY` may hold
 * several comma-separated keys while the key is being changed in ClickBank.
 *
 * A notification that does not decrypt, or decrypts to something that is not a notification, is answered 400 and
 * nothing is kept; a genuine one is answered 200 (what ClickBank expects) once its conversion is queued or its
 * skip recorded.
 */
export const clickbankSource: Source = {
  name: 'clickbank',
  async read(request, settings) {
    const secrets = (settings[SECRET_SETTING] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    if (secrets.length === 0) throw new Error(`${SECRET_SETTING} is not configured`);
    const envelope = readEnvelope(request);
    let decrypted: unknown;
    try {
      decrypted = decryptNotification(envelope, secrets);
    } catch (err) {
      if (err instanceof DecryptionError) throw new RequestError(400, err.code, err.message);
      throw err;
    }
    return readNotification(decrypted, settings, 'the decrypted notification');
  },
};

/**
 * A notification as the pipeline takes it: validated, then mapped. The webhook (decrypted INS) and the backfill (an
 * Orders API order wrapped as its notification, history.ts) both go through here, so they agree.
 */
export function readNotification(candidate: unknown, settings: Settings, what = 'the notification'): SourceResult {
  const parsed = NotificationSchema.safeParse(candidate);
  if (!parsed.success) {
    // Paths and rules only: the values are the customer's.
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || 'notification'}: ${i.message}`);
    throw new RequestError(400, 'invalid_notification', `${what} is not a ClickBank notification: ${issues.join('; ')}`);
  }
  return mapNotification(parsed.data, settings);
}

/** The two base64 fields, from JSON (what ClickBank sends) or, as some senders do, a form with the same keys. */
function readEnvelope(request: IncomingRequest): EncryptedNotification {
  const text = request.body.toString('utf8');
  let fields: Record<string, unknown> | undefined;
  if (/^application\/x-www-form-urlencoded\b/i.test(request.headers['content-type'] ?? '')) {
    fields = Object.fromEntries(new URLSearchParams(text));
  } else {
    try {
      const json: unknown = JSON.parse(text);
      if (json && typeof json === 'object' && !Array.isArray(json)) fields = json as Record<string, unknown>;
    } catch {
      throw new RequestError(400, 'malformed_body', 'the body is not valid JSON; ClickBank sends {"notification": "...", "iv": "..."}');
    }
  }
  const notification = fields?.notification;
  const iv = fields?.iv;
  if (typeof notification !== 'string' || typeof iv !== 'string' || !notification || !iv) {
    throw new RequestError(400, 'malformed_body', 'the body must carry the string fields "notification" and "iv" (Instant Notification version 6.0 or later)');
  }
  return { notification, iv };
}
