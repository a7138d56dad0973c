import { ASSUMPTIONS, PRICES } from './prices.ts';

/** What one accepted webhook (= one conversion) costs in AWS resources, from the bench's measurements. */
export interface MeasuredUsage {
  ingest: {
    memoryMb: number;
    /** CPU time of one webhook through the real handler on one core of this machine. */
    cpuMs: number;
    /** AWS calls one webhook makes, in order (they run one after another, except the per-destination sends). */
    calls: { service: string; operation: string; target: string; writes: number[]; reads: number; messages: number; bytes: number }[];
  };
  /**
   * The fan-out (ledger stream → queues), from its backlog run: full stream batches of `batchSize` conversions, each
   * queued for `destinations` destinations.
   */
  fanOut?: { memoryMb: number; batchSize: number; destinations: number; cpuMsPerBatch: number; sendMessageBatchPerBatch: number; sqsRequestsPerConversion: number };
  /** Per destination sender, from the backlog run. */
  senders: {
    destination: string;
    memoryMb: number;
    batchSize: number;
    cpuMsPerBatch: number;
    awsCallsPerBatch: number;
    /** The write units of the sender's ledger items ÷ the conversions they record (batch records hold many each). */
    writeUnitsPerConversion: number;
  }[];
}

export interface CostLine {
  item: string;
  arithmetic: string;
  usdPerMillion: number;
}

/** DynamoDB's write units of one item of this size: 1 per KB started. */
export const writeUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));
const wru = writeUnits;
const usd = (n: number) => `$${n.toFixed(4)}`;

/** Lambda duration: CPU scaled to the function's share of a vCPU, plus network waits; billed per 1 ms. */
export function lambdaDurationMs(cpuMs: number, memoryMb: number, sequentialCalls: number, extraWaitMs = 0): number {
  const cpuShare = Math.min(1, memoryMb / ASSUMPTIONS.mbPerVcpu);
  return Math.ceil(cpuMs / cpuShare + sequentialCalls * ASSUMPTIONS.awsRoundTripMs + extraWaitMs);
}

/** Cost per million conversions on AWS, line by line with the arithmetic. */
export function costPerMillion(u: MeasuredUsage): { lines: CostLine[]; total: number } {
  const M = 1e6;
  const lines: CostLine[] = [];
  // Each webhook arrives by its source's function URL: billed as the invocation (next line), no request fee of its own.
  lines.push({
    item: 'webhook requests (function URL)',
    arithmetic: `1 request/webhook × ${usd(PRICES.functionUrlRequest.usd * M)}/M: no fee beyond the invocation (an HTTP API would add ${usd(PRICES.httpApiRequest.usd * M)}/M)`,
    usdPerMillion: PRICES.functionUrlRequest.usd * M,
  });
  lines.push({ item: 'ingest Lambda requests', arithmetic: `1 invocation/webhook × ${usd(PRICES.lambdaRequest.usd * M)}/M`, usdPerMillion: PRICES.lambdaRequest.usd * M });

  const sends = u.ingest.calls.filter((c) => c.operation === 'SendMessage').length;
  const sequential = u.ingest.calls.length - Math.max(0, sends - 1);
  const ingestMs = lambdaDurationMs(u.ingest.cpuMs, u.ingest.memoryMb, sequential);
  const ingestGbS = (u.ingest.memoryMb / 1024) * (ingestMs / 1000);
  lines.push({
    item: 'ingest Lambda duration',
    arithmetic: `${u.ingest.cpuMs.toFixed(2)} ms CPU ÷ (${u.ingest.memoryMb}/${ASSUMPTIONS.mbPerVcpu} vCPU) + ${sequential} calls × ${ASSUMPTIONS.awsRoundTripMs} ms = ${ingestMs} ms × ${u.ingest.memoryMb / 1024} GB = ${ingestGbS.toFixed(4)} GB-s × $${PRICES.lambdaGbSecond.usd}`,
    usdPerMillion: ingestGbS * PRICES.lambdaGbSecond.usd * M,
  });

  const writes = u.ingest.calls.flatMap((c) => c.writes.map((b) => ({ b, what: `${c.operation} ${c.target}` })));
  const wrus = writes.reduce((n, w) => n + wru(w.b), 0);
  lines.push({
    item: 'ingest DynamoDB writes',
    arithmetic: `${writes.map((w) => `${w.what} ${wru(w.b)}`).join(' + ')} = ${wrus} WRU × ${usd(PRICES.dynamoWriteUnit.usd * M)}/M`,
    usdPerMillion: wrus * PRICES.dynamoWriteUnit.usd * M,
  });
  const reads = u.ingest.calls.reduce((n, c) => n + c.reads, 0);
  lines.push({
    item: 'ingest DynamoDB reads',
    arithmetic: `${reads} items × 0.5 RRU (eventually consistent, ≤ 4 KB) × ${usd(PRICES.dynamoReadUnit.usd * M)}/M`,
    usdPerMillion: reads * 0.5 * PRICES.dynamoReadUnit.usd * M,
  });
  const sqsSends = u.ingest.calls.filter((c) => c.service === 'sqs').reduce((n, c) => n + Math.max(1, Math.ceil(c.bytes / 65536)), 0);
  if (sqsSends) lines.push({ item: 'SQS sends', arithmetic: `${sqsSends} SendMessage (≤ 64 KB) × ${usd(PRICES.sqsRequest.usd * M)}/M`, usdPerMillion: sqsSends * PRICES.sqsRequest.usd * M });
  const secretCalls = u.ingest.calls.filter((c) => c.service === 'secretsmanager').length;
  if (secretCalls) lines.push({ item: 'Secrets Manager', arithmetic: 'cached 5 min per container: ~0 per conversion', usdPerMillion: 0 });

  if (u.fanOut) {
    const f = u.fanOut;
    lines.push({ item: 'ledger stream reads', arithmetic: 'GetRecords by a Lambda trigger: not charged; records the event filter drops: no invocation', usdPerMillion: 0 });
    lines.push({ item: 'fan-out Lambda requests', arithmetic: `1 invocation per stream batch of ${f.batchSize} conversions × ${usd(PRICES.lambdaRequest.usd * M)}/M`, usdPerMillion: (PRICES.lambdaRequest.usd * M) / f.batchSize });
    // Its SendMessageBatch requests run in parallel (the SDK's 50 sockets): one round trip per 50.
    const waves = Math.ceil(f.sendMessageBatchPerBatch / 50);
    const batchMs = lambdaDurationMs(f.cpuMsPerBatch, f.memoryMb, waves);
    const gbS = (f.memoryMb / 1024) * (batchMs / 1000);
    lines.push({
      item: 'fan-out Lambda duration',
      arithmetic: `(${f.cpuMsPerBatch.toFixed(1)} ms CPU ÷ ${(f.memoryMb / ASSUMPTIONS.mbPerVcpu).toFixed(3)} vCPU + ${waves} × ${ASSUMPTIONS.awsRoundTripMs} ms) = ${batchMs} ms × ${f.memoryMb / 1024} GB per ${f.batchSize} conversions`,
      usdPerMillion: (gbS * PRICES.lambdaGbSecond.usd * M) / f.batchSize,
    });
    lines.push({
      item: 'fan-out SQS sends',
      arithmetic: `${f.sendMessageBatchPerBatch.toFixed(0)} SendMessageBatch per ${f.batchSize} conversions (${f.destinations} destinations × 10 per request) = ${f.sqsRequestsPerConversion.toFixed(2)} requests (64 KB each) per conversion × ${usd(PRICES.sqsRequest.usd * M)}/M`,
      usdPerMillion: f.sqsRequestsPerConversion * PRICES.sqsRequest.usd * M,
    });
  }

  for (const s of u.senders) {
    // Lambda's poller receives up to 10 messages per ReceiveMessage and deletes them in batches of 10.
    const pollRequests = 2 / 10;
    lines.push({ item: `${s.destination}: SQS receive + delete`, arithmetic: `(1/10 ReceiveMessage + 1/10 DeleteMessageBatch) × ${usd(PRICES.sqsRequest.usd * M)}/M`, usdPerMillion: pollRequests * PRICES.sqsRequest.usd * M });
    lines.push({ item: `${s.destination}: sender requests`, arithmetic: `1 invocation per ${s.batchSize} conversions × ${usd(PRICES.lambdaRequest.usd * M)}/M`, usdPerMillion: (PRICES.lambdaRequest.usd * M) / s.batchSize });
    const batchMs = lambdaDurationMs(s.cpuMsPerBatch, s.memoryMb, s.awsCallsPerBatch, ASSUMPTIONS.platformRoundTripMs);
    const gbS = (s.memoryMb / 1024) * (batchMs / 1000);
    lines.push({
      item: `${s.destination}: sender duration`,
      arithmetic: `(${s.cpuMsPerBatch.toFixed(0)} ms CPU ÷ ${(s.memoryMb / ASSUMPTIONS.mbPerVcpu).toFixed(3)} vCPU + ${s.awsCallsPerBatch} calls × ${ASSUMPTIONS.awsRoundTripMs} ms + ${ASSUMPTIONS.platformRoundTripMs} ms platform) = ${batchMs} ms × ${s.memoryMb / 1024} GB per ${s.batchSize} conversions`,
      usdPerMillion: (gbS * PRICES.lambdaGbSecond.usd * M) / s.batchSize,
    });
    lines.push({
      item: `${s.destination}: ledger writes`,
      arithmetic: `${s.writeUnitsPerConversion.toFixed(4)} WRU per conversion (batch records: write units ÷ conversions) × ${usd(PRICES.dynamoWriteUnit.usd * M)}/M`,
      usdPerMillion: s.writeUnitsPerConversion * PRICES.dynamoWriteUnit.usd * M,
    });
  }
  return { lines, total: lines.reduce((n, l) => n + l.usdPerMillion, 0) };
}
