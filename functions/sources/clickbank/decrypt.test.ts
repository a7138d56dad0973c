import { describe, expect, it } from 'vitest';
import kat from '../../../test/fixtures/clickbank/ins-kat.json' with { type: 'json' };
import { clickbankEncrypt } from '../../../test/support/clickbank.ts';
import { DecryptionError, clickbankKey, decryptNotification } from './decrypt.ts';

/** A real ClickBank v7.0 TEST notification (OpenClickBank's test data), with the secrets and IV that must fail. */
const KAT = kat as {
  secretKey: string;
  body: { notification: string; iv: string };
  expected: Record<string, unknown>;
  mustFail: { secrets: string[]; iv: string };
};

const at = (obj: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((o, part) => {
    const m = /^(\w+)\[(\d+)\]$/.exec(part);
    const rec = o as Record<string, any>;
    return m ? rec?.[m[1]]?.[Number(m[2])] : rec?.[part];
  }, obj);

function failure(run: () => unknown): DecryptionError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(DecryptionError);
    return err as DecryptionError;
  }
  throw new Error('expected decryption to fail');
}

describe('ClickBank INS decryption', () => {
  it('derives the key as ClickBank does: first 32 hex characters of SHA-1(secret), as ASCII bytes', () => {
    // SHA-1("01GA50AY4BYGZKG6") = 7b1a85e536478e7119378baba2bb504420d28f8b
    expect(clickbankKey(KAT.secretKey).toString('ascii')).toBe('7b1a85e536478e7119378baba2bb5044');
    expect(clickbankKey(KAT.secretKey)).toHaveLength(32);
  });

  it('decrypts the real ClickBank notification to the published field values', () => {
    const notification = decryptNotification(KAT.body, [KAT.secretKey]);

    for (const [path, value] of Object.entries(KAT.expected)) expect(at(notification, path), path).toEqual(value);
  });

  it.each(KAT.mustFail.secrets.map((s) => [JSON.stringify(s), s]))('refuses the real notification with the secret %s', (_, secret) => {
    expect(failure(() => decryptNotification(KAT.body, [secret])).code).toBe('decryption_failed');
  });

  it('refuses the real notification with the altered IV from the vector', () => {
    expect(failure(() => decryptNotification({ ...KAT.body, iv: KAT.mustFail.iv }, [KAT.secretKey])).code).toBe('invalid_iv');
  });

  it('refuses a 16-byte IV whose first block no longer decrypts to JSON', () => {
    // Changing the IV's first byte turns the opening "{" into something else. (A change further in can leave valid
    // JSON with a garbled key name; the source then refuses it as not a notification — see clickbank.test.ts.)
    for (const bad of ['B62307B73112FB7A', '0000000000000000']) {
      const iv = Buffer.from(bad, 'ascii').toString('base64');
      expect(failure(() => decryptNotification({ ...KAT.body, iv }, [KAT.secretKey])).code, bad).toBe('decryption_failed');
    }
  });

  it('finds the right key among several (a secret key being changed)', () => {
    const notification = decryptNotification(KAT.body, ['OLDSECRETKEY0001', KAT.secretKey]);
    expect(at(notification, 'vendor')).toBe('ketoboost1');
  });

  it('round-trips a notification encrypted the way ClickBank specifies', () => {
    const body = { transactionType: 'SALE', receipt: 'ABCD1234', note: 'ünïcödé ✓' };
    expect(decryptNotification(clickbankEncrypt(body, 'SECRETKEY123ABCD'), ['SECRETKEY123ABCD'])).toEqual(body);
  });

  it('refuses ciphertext or IV that is not base64, or of the wrong length, before trying any key', () => {
    expect(failure(() => decryptNotification({ ...KAT.body, iv: 'not base64!' }, [KAT.secretKey])).code).toBe('invalid_iv');
    expect(failure(() => decryptNotification({ ...KAT.body, iv: Buffer.alloc(8).toString('base64') }, [KAT.secretKey])).code).toBe('invalid_iv');
    expect(failure(() => decryptNotification({ ...KAT.body, notification: '%%%' }, [KAT.secretKey])).code).toBe('invalid_ciphertext');
    expect(failure(() => decryptNotification({ ...KAT.body, notification: Buffer.alloc(15).toString('base64') }, [KAT.secretKey])).code).toBe('invalid_ciphertext');
  });

  it('says what failed without naming the secret', () => {
    const err = failure(() => decryptNotification(KAT.body, ['01GA50AY4BYGZKG0']));
    expect(err.message).not.toContain('01GA50AY4BYGZKG0');
    expect(err.message).toMatch(/secret key/);
  });
});
