import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { attemptOf, whileWaiting } from './waiting.ts';

const NOW = Date.parse('2026-03-02T12:00:00Z');
const HOUR = 3600_000;
function record(receives: number, firstReceiveAt: number, attrs: Record<string, string> = {}): SQSRecord {
  return {
    messageId: 'm1',
    receiptHandle: 'r1',
    body: '{"eventId":"e1"}',
    attributes: { ApproximateReceiveCount: String(receives), ApproximateFirstReceiveTimestamp: String(firstReceiveAt), SentTimestamp: String(firstReceiveAt), SenderId: 'x' },
    messageAttributes: Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, { dataType: 'String', stringValue: v }])),
  } as unknown as SQSRecord;
}

describe('waiting for notBefore without spending attempts', () => {
  it('counts plain SQS receives when nothing waited', () => {
    expect(attemptOf(record(1, NOW))).toBe(1);
    expect(attemptOf(record(3, NOW))).toBe(3);
  });
  it('holds an early copy on its first receive (not an attempt), then counts on from the earlier copies', () => {
    const notBefore = new Date(NOW + 5 * HOUR).toISOString();
    expect(whileWaiting(record(1, NOW, { notBefore }), new Date(NOW))).toEqual({ hold: 5 * 3600 });
    // Due on its second receive: the first was a hold; two attempts were made before the wait.
    const due = record(2, NOW, { notBefore, priorAttempts: '2' });
    expect(whileWaiting(due, new Date(NOW + 5 * HOUR))).toBeUndefined();
    expect(attemptOf(due)).toBe(3);
  });
  it('holds at most ~12 h, then re-sends a copy with the same due time, kind and attempts instead of a second hold', () => {
    const notBefore = new Date(NOW + 30 * HOUR).toISOString();
    expect(whileWaiting(record(1, NOW, { notBefore }), new Date(NOW))).toEqual({ hold: 12 * 3600 - 300 });
    const early = record(2, NOW, { notBefore, priorAttempts: '1', kind: 'conversion', conversionId: 'e1' });
    expect(whileWaiting(early, new Date(NOW + 12 * HOUR))).toEqual({
      copy: { body: '{"eventId":"e1"}', notBefore: new Date(notBefore), kind: 'conversion', conversionId: 'e1', priorAttempts: 1, firstFailureAt: undefined },
    });
  });
  it('a copy first received when due is an attempt on that receive', () => {
    const notBefore = new Date(NOW - 1000).toISOString();
    const r = record(1, NOW, { notBefore, priorAttempts: '1' });
    expect(whileWaiting(r, new Date(NOW))).toBeUndefined();
    expect(attemptOf(r)).toBe(2);
  });
});
