import { describe, expect, it } from 'vitest';
import { isOriginAllowed, parseAllowedOrigins } from './origins.ts';

describe('RELAY_ALLOWED_ORIGINS', () => {
  it('allows any origin when unset', () => {
    expect(isOriginAllowed('https://anything.example', parseAllowedOrigins(undefined))).toBe(true);
    expect(isOriginAllowed('https://anything.example', parseAllowedOrigins(' , '))).toBe(true);
  });

  it('allows exactly the listed origins', () => {
    const allowed = parseAllowedOrigins('https://shop.example.com, http://127.0.0.1:8080');
    expect(isOriginAllowed('https://shop.example.com', allowed)).toBe(true);
    expect(isOriginAllowed('http://127.0.0.1:8080', allowed)).toBe(true);
    expect(isOriginAllowed('http://shop.example.com', allowed)).toBe(false);
    expect(isOriginAllowed('https://shop.example.com.evil.test', allowed)).toBe(false);
    expect(isOriginAllowed('https://evil.test', allowed)).toBe(false);
    expect(isOriginAllowed('null', allowed)).toBe(false);
  });

  it('allows one level of subdomain wildcards, not the bare domain and not look-alikes', () => {
    const allowed = parseAllowedOrigins('https://*.example.com');
    expect(isOriginAllowed('https://www.example.com', allowed)).toBe(true);
    expect(isOriginAllowed('https://a.b.example.com', allowed)).toBe(true);
    expect(isOriginAllowed('https://example.com', allowed)).toBe(false);
    expect(isOriginAllowed('https://evilexample.com', allowed)).toBe(false);
    expect(isOriginAllowed('http://www.example.com', allowed)).toBe(false);
  });

  it('refuses entries that are not origins', () => {
    expect(() => parseAllowedOrigins('https://shop.example.com/path')).toThrow(/not an origin/);
    expect(() => parseAllowedOrigins('shop.example.com')).toThrow(/not an origin/);
  });
});
