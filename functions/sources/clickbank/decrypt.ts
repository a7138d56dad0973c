import { createDecipheriv, createHash } from 'node:crypto';

/**
 * ClickBank Instant Notification (v6.0 and later) encryption, as ClickBank's own sample code does it:
 * the AES key is the first 32 characters of the lower-case hex SHA-1 of the account's secret key, used as 32 ASCII
 * bytes (so AES-256, not AES-128); the IV is the base64-decoded `iv` field (16 bytes); the `notification` field is
 * the base64 AES-256-CBC ciphertext of the JSON, PKCS#7-padded. There is no MAC: a notification is authentic when it
 * decrypts with the secret and parses as a notification. Checked against a real ClickBank notification
 * (/work/shared/reference/clickbank-ins-kat.json, from OcelliSolutions/OpenClickBank's tests).
 */
export function clickbankKey(secretKey: string): Buffer {
  return Buffer.from(createHash('sha1').update(secretKey, 'utf8').digest('hex').slice(0, 32), 'ascii');
}

export interface EncryptedNotification {
  notification: string;
  iv: string;
}

/** Why a notification could not be decrypted (never which secret, never any plaintext). */
export class DecryptionError extends Error {
  constructor(
    readonly code: 'invalid_iv' | 'invalid_ciphertext' | 'decryption_failed',
    message: string,
  ) {
    super(message);
    this.name = 'DecryptionError';
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBase64(field: string, value: string, code: DecryptionError['code']): Buffer {
  const s = value.replace(/\s+/g, '');
  if (!BASE64.test(s)) throw new DecryptionError(code, `${field} is not base64`);
  return Buffer.from(s, 'base64');
}

/**
 * Decrypts with each secret in turn (several while a secret key is being changed) and returns the plaintext JSON
 * value of the first that works. A wrong secret almost always fails the padding check; the rare wrong secret or wrong
 * IV that passes it yields bytes that are not JSON, which counts as a failure too.
 */
export function decryptNotification(envelope: EncryptedNotification, secretKeys: readonly string[]): unknown {
  const iv = decodeBase64('iv', envelope.iv, 'invalid_iv');
  if (iv.length !== 16) throw new DecryptionError('invalid_iv', `iv must decode to 16 bytes, got ${iv.length}`);
  const ciphertext = decodeBase64('notification', envelope.notification, 'invalid_ciphertext');
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) {
    throw new DecryptionError('invalid_ciphertext', `notification must decode to a non-empty multiple of 16 bytes, got ${ciphertext.length}`);
  }
  for (const secret of secretKeys) {
    if (!secret) continue;
    let plaintext: string;
    try {
      const decipher = createDecipheriv('aes-256-cbc', clickbankKey(secret), iv);
      plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      continue; // bad padding: not this secret
    }
    // ClickBank's sample trims control characters \0–\x1A left over from its mcrypt days; harmless after OpenSSL.
    const trimmed = plaintext.replace(/^[\x00-\x1a\s]+|[\x00-\x1a\s]+$/g, '');
    try {
      return JSON.parse(trimmed);
    } catch {
      continue; // decrypted to noise: not this secret, or the IV was altered
    }
  }
  throw new DecryptionError(
    'decryption_failed',
    'the notification could not be decrypted: the secret key configured in the relay does not match the one in ClickBank, or the notification or iv was altered',
  );
}
