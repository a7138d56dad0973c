import { describe, expect, it } from 'vitest';
import { costPerMillion, lambdaDurationMs } from './cost.ts';

describe('bench cost model', () => {
  it('scales CPU time by the function’s share of a vCPU and adds one round trip per call', () => {
    // 1769 MB is one vCPU: 10 ms CPU stays 10 ms; at 256 MB it takes 69.1 ms; + 3 calls × 5 ms.
    expect(lambdaDurationMs(10, 1769, 0)).toBe(10);
    expect(lambdaDurationMs(10, 256, 3)).toBe(Math.ceil((10 * 1769) / 256 + 15));
  });

  it('prices one conversion from the measured calls, with the arithmetic on each line', () => {
    const { lines, total } = costPerMillion({
      ingest: {
        memoryMb: 256,
        cpuMs: 2,
        calls: [
          { service: 'dynamodb', operation: 'BatchGetItem', target: 'visitors', writes: [], reads: 2, messages: 0, bytes: 100 },
          { service: 'dynamodb', operation: 'PutItem', target: 'ledger', writes: [1500], reads: 0, messages: 0, bytes: 1600 },
        ],
      },
      fanOut: { memoryMb: 256, batchSize: 100, destinations: 10, cpuMsPerBatch: 20, sendMessageBatchPerBatch: 100, sqsRequestsPerConversion: 1 },
      senders: [],
    });
    const line = (item: string) => lines.find((l) => l.item === item)!;
    // Webhooks come by function URLs: no API Gateway line, and the URL itself costs nothing beyond the invocation.
    expect(lines.find((l) => /HTTP API/.test(l.item))).toBeUndefined();
    expect(line('webhook requests (function URL)').usdPerMillion).toBe(0);
    expect(line('webhook requests (function URL)').arithmetic).toMatch(/no fee beyond the invocation/);
    expect(line('ingest Lambda requests').usdPerMillion).toBeCloseTo(0.2);
    // A 1,500-byte item is two write units.
    expect(line('ingest DynamoDB writes').usdPerMillion).toBeCloseTo(2 * 0.625);
    expect(line('ingest DynamoDB writes').arithmetic).toContain('= 2 WRU');
    expect(line('ingest DynamoDB reads').usdPerMillion).toBeCloseTo(2 * 0.5 * 0.125);
    // 2 ms CPU at 256 MB ≈ 13.8 ms + 2 × 5 ms → 24 ms × 0.25 GB.
    expect(line('ingest Lambda duration').usdPerMillion).toBeCloseTo(0.25 * 0.024 * 0.0000133334 * 1e6, 6);
    // The fan-out: one invocation per 100, ten destinations × one SendMessageBatch per 10 conversions = 1 request each.
    expect(line('fan-out Lambda requests').usdPerMillion).toBeCloseTo(0.2 / 100);
    expect(line('fan-out SQS sends').usdPerMillion).toBeCloseTo(0.4);
    // 20 ms CPU at 256 MB ≈ 138.2 ms + 2 waves × 5 ms → 149 ms × 0.25 GB per 100 conversions.
    expect(line('fan-out Lambda duration').usdPerMillion).toBeCloseTo((0.25 * 0.149 * 0.0000133334 * 1e6) / 100, 6);
    expect(line('ledger stream reads').usdPerMillion).toBe(0);
    expect(lines.some((l) => /SNS/.test(l.item))).toBe(false);
    expect(total).toBeCloseTo(lines.reduce((n, l) => n + l.usdPerMillion, 0));
  });

  it('prices a sender’s ledger writes by write units per conversion: a batch record of 1000 conversions in 40 KB is 0.04 WRU each', () => {
    const { lines } = costPerMillion({
      ingest: { memoryMb: 256, cpuMs: 1, calls: [] },
      senders: [{ destination: 'meta', memoryMb: 512, batchSize: 1000, cpuMsPerBatch: 100, awsCallsPerBatch: 2, writeUnitsPerConversion: 40 / 1000 }],
    });
    const ledger = lines.find((l) => l.item === 'meta: ledger writes')!;
    expect(ledger.usdPerMillion).toBeCloseTo(0.04 * 0.625);
    expect(ledger.arithmetic).toContain('0.0400 WRU per conversion');
  });
});
