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
          { service: 'dynamodb', operation: 'PutItem', target: 'idempotency', writes: [1500], reads: 0, messages: 0, bytes: 1600 },
          { service: 'sqs', operation: 'SendMessage', target: 'meta', writes: [], reads: 0, messages: 1, bytes: 2000 },
        ],
      },
      senders: [],
    });
    const line = (item: string) => lines.find((l) => l.item === item)!;
    expect(line('HTTP API requests').usdPerMillion).toBeCloseTo(1.0);
    // A 1,500-byte item is two write units.
    expect(line('ingest DynamoDB writes').usdPerMillion).toBeCloseTo(2 * 0.625);
    expect(line('ingest DynamoDB writes').arithmetic).toContain('= 2 WRU');
    expect(line('ingest DynamoDB reads').usdPerMillion).toBeCloseTo(2 * 0.5 * 0.125);
    expect(line('SQS sends').usdPerMillion).toBeCloseTo(0.4);
    // 2 ms CPU at 256 MB ≈ 13.8 ms + 3 × 5 ms → 29 ms × 0.25 GB.
    expect(line('ingest Lambda duration').usdPerMillion).toBeCloseTo(0.25 * 0.029 * 0.0000133334 * 1e6, 6);
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
