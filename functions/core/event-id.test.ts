import { describe, expect, it } from 'vitest';
import { eventIdFor } from './event-id.ts';

describe('eventIdFor', () => {
  it('is deterministic: the same order and event name always give the same ID', () => {
    expect(eventIdFor('cs_test_123', 'Lead')).toBe(eventIdFor('cs_test_123', 'Lead'));
    expect(eventIdFor('cs_test_123')).toBe(eventIdFor('cs_test_123'));
  });

  it('uses the order ID itself for a Purchase, so the browser pixel can send the same ID', () => {
    expect(eventIdFor('cs_test_123', 'Purchase')).toBe('cs_test_123');
    expect(eventIdFor('cs_test_123')).toBe('cs_test_123');
  });

  it('trims surrounding whitespace from the order ID', () => {
    expect(eventIdFor('  cs_test_123 \n')).toBe('cs_test_123');
  });

  it('suffixes the order ID for any other event name', () => {
    const lead = eventIdFor('cs_test_123', 'Lead');
    expect(lead).not.toBe('cs_test_123');
    expect(lead.startsWith('cs_test_123')).toBe(true);
  });

  it('never gives a refund the purchase’s ID for the same order', () => {
    expect(eventIdFor('cs_test_123', 'Refund')).not.toBe(eventIdFor('cs_test_123', 'Purchase'));
  });

  it('gives different event names for one order different IDs', () => {
    const ids = ['Purchase', 'Refund', 'Chargeback', 'Lead', 'StartTrial'].map((name) => eventIdFor('ord_1', name));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('gives different orders different IDs', () => {
    expect(eventIdFor('ord_1')).not.toBe(eventIdFor('ord_2'));
    expect(eventIdFor('ord_1', 'Refund')).not.toBe(eventIdFor('ord_2', 'Refund'));
  });

  it.each(['', '   '])('throws on an empty order ID (%j)', (id) => {
    expect(() => eventIdFor(id)).toThrow(/empty/);
  });
});
