import { describe, expect, it } from 'vitest';
import { normalizePhone } from './normalize.ts';
import { normalizeInternationalPhone } from './normalize-portable.ts';

describe('normalizeInternationalPhone: the browser’s phone rule agrees with the server’s', () => {
  const international = [
    '+1 (415) 555-0100',
    '+1 650-555-1212',
    '+44 20 7946 0958',
    '+49 (0)30 1234567',
    '0049 30 1234567',
    '+33 1 42 68 53 00',
    '+81 3-1234-5678',
    '+61 2 9374 4000',
    '+55 11 91234-5678',
    '+91 98765 43210',
  ];
  it.each(international)('%s', (raw) => {
    expect(normalizeInternationalPhone(raw)).toEqual(normalizePhone(raw));
  });

  it('gives nothing for national formats, which need the country’s numbering plan', () => {
    for (const raw of ['(415) 555-0100', '030 1234567', '4155550100']) expect(normalizeInternationalPhone(raw)).toBeUndefined();
  });

  it('gives nothing for garbage', () => {
    for (const raw of ['+1 abc', '+0 123456789', '+12', '', undefined, '+1 415 555 0100 ext. 5']) expect(normalizeInternationalPhone(raw)).toBeUndefined();
  });
});
