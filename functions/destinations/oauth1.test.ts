import { describe, expect, it } from 'vitest';
import { hmacSha1Signature, oauth1Authorization, parseOAuthAuthorization, percentEncode, signatureBaseString, verifyOAuth1Signature } from './oauth1.ts';

// Published vectors: RFC 5849 §1.2 (photos.example.net, with its signature) and §3.4.1 (base string and normalized
// parameters of the example.com request), and X's "Creating a signature" page
// (docs.x.com/fundamentals/authentication/oauth-1-0a/creating-a-signature, xdevplatform/docs).

describe('OAuth 1.0a HMAC-SHA1', () => {
  it('reproduces RFC 5849 §1.2: the photos.example.net request signs to MdpQcU8iPSUjWoN/UDMsK2sui9I=', () => {
    const base = signatureBaseString('GET', 'http://photos.example.net/photos?file=vacation.jpg&size=original', [
      ['oauth_consumer_key', 'dpf43f3p2l4k3l03'],
      ['oauth_token', 'nnch734d00sl2jdk'],
      ['oauth_signature_method', 'HMAC-SHA1'],
      ['oauth_timestamp', '137131202'],
      ['oauth_nonce', 'chapoH'],
    ]);
    expect(hmacSha1Signature(base, 'kd94hf93k423kf44', 'pfkkdhi9sl3r4s00')).toBe('MdpQcU8iPSUjWoN/UDMsK2sui9I=');
  });

  it('reproduces RFC 5849 §3.4.1.1: repeated names sorted by value, "+" in a form body a space, %-escapes kept', () => {
    const base = signatureBaseString('POST', 'http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b', [
      ['oauth_consumer_key', '9djdj82h48djs9d2'],
      ['oauth_token', 'kkk9d7dh3k39sjv7'],
      ['oauth_signature_method', 'HMAC-SHA1'],
      ['oauth_timestamp', '137131201'],
      ['oauth_nonce', '7d8f3e4a'],
      ['oauth_signature', 'djosJKDKJSD8743243/jdk33klY='],
      // The form body `c2&a3=2+q`, decoded.
      ['c2', ''],
      ['a3', '2 q'],
    ]);
    expect(base).toBe(
      'POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7',
    );
  });

  it("reproduces X's published example: signature Ls93hJiZbQ3akF3HF3x1Bz8/zU4=, in a quoted, percent-encoded header", () => {
    const header = oauth1Authorization(
      { method: 'post', url: 'https://api.x.com/1.1/statuses/update.json?include_entities=true', bodyParams: [['status', 'Hello Ladies + Gentlemen, a signed OAuth request!']] },
      {
        consumerKey: 'xvz1evFS4wEEPTGEFPHBog',
        consumerSecret: 'kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw',
        token: '370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb',
        tokenSecret: 'LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE',
      },
      { timestamp: 1318622958, nonce: 'kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg' },
    );
    expect(header).toBe(
      'OAuth oauth_consumer_key="xvz1evFS4wEEPTGEFPHBog", oauth_nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", oauth_signature_method="HMAC-SHA1", oauth_timestamp="1318622958", oauth_token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", oauth_version="1.0", oauth_signature="Ls93hJiZbQ3akF3HF3x1Bz8%2FzU4%3D"',
    );
    expect(header).not.toContain('kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw');
    expect(header).not.toContain('LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE');
  });

  it('percent-encodes as RFC 3986 (not as encodeURIComponent): ! * \' ( ) too, unreserved characters never', () => {
    expect(percentEncode("Ladies + Gentlemen, a signed OAuth request!*'()")).toBe('Ladies%20%2B%20Gentlemen%2C%20a%20signed%20OAuth%20request%21%2A%27%28%29');
    expect(percentEncode('AZaz09-._~')).toBe('AZaz09-._~');
    expect(percentEncode('☃')).toBe('%E2%98%83');
  });

  it('drops the default port and lowercases the host in the base string URI', () => {
    const a = signatureBaseString('POST', 'https://ADS-API.x.com:443/12/measurement/conversions/o8z6j', []);
    expect(a).toBe('POST&https%3A%2F%2Fads-api.x.com%2F12%2Fmeasurement%2Fconversions%2Fo8z6j&');
    expect(signatureBaseString('POST', 'http://127.0.0.1:8123/x', [])).toContain('127.0.0.1%3A8123');
  });

  it('verifies what it signed, and refuses another secret, URL, method or a tampered parameter', () => {
    const creds = { consumerKey: 'ck', consumerSecret: 'cs', token: 'tk', tokenSecret: 'ts' };
    const request = { method: 'POST', url: 'https://ads-api.x.com/12/measurement/conversions/o8z6j' };
    const header = parseOAuthAuthorization(oauth1Authorization(request, creds, { timestamp: 1767225600, nonce: 'n1' }))!;
    expect(header).toMatchObject({ oauth_consumer_key: 'ck', oauth_token: 'tk', oauth_nonce: 'n1', oauth_timestamp: '1767225600', oauth_version: '1.0' });

    expect(verifyOAuth1Signature(request, header, { consumerSecret: 'cs', tokenSecret: 'ts' })).toBe(true);
    expect(verifyOAuth1Signature(request, header, { consumerSecret: 'cs', tokenSecret: 'other' })).toBe(false);
    expect(verifyOAuth1Signature({ ...request, url: `${request.url}x` }, header, { consumerSecret: 'cs', tokenSecret: 'ts' })).toBe(false);
    expect(verifyOAuth1Signature({ ...request, method: 'GET' }, header, { consumerSecret: 'cs', tokenSecret: 'ts' })).toBe(false);
    expect(verifyOAuth1Signature(request, { ...header, oauth_timestamp: '1767225601' }, { consumerSecret: 'cs', tokenSecret: 'ts' })).toBe(false);
    expect(verifyOAuth1Signature(request, { ...header, oauth_signature_method: 'PLAINTEXT' }, { consumerSecret: 'cs', tokenSecret: 'ts' })).toBe(false);
    expect(parseOAuthAuthorization('Bearer abc')).toBeUndefined();
  });
});
