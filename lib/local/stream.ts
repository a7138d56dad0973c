import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, renameSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { ACCEPTED_STATUS, CONVERSION_SK } from '../../functions/store/ledger-items.ts';

/**
 * The ledger table's DynamoDB stream, for the local runner (dynalite has no streams): a journal file the DynamoDB
 * emulator appends each committed conversion item to before it answers the write, and a poller that hands the
 * journal to the fan-out handler as Lambda's stream event source does — batches in order, partial batch responses,
 * retries with bisection, a failure destination after the last retry, and a checkpoint (a file) after each success,
 * so a crash or restart anywhere delivers every record at least once.
 *
 * Only what the stack's event filter passes is journaled (lib/constructs/fan-out.ts): INSERTs of accepted
 * conversion items. An INSERT is known for sure from a PutItem conditioned on `attribute_not_exists(pk)` that
 * succeeded — how ingest commits (functions/store/ingest-store.ts); no writer creates a conversion item otherwise.
 */
export const LEDGER_TABLE = 'ledger';

/** One journal line: a stream record's data. */
export interface JournalLine {
  seq: number;
  /** ApproximateCreationDateTime (s). */
  at: number;
  keys: Record<string, AttributeValue>;
  image: Record<string, AttributeValue>;
}

/** The writing end, in the DynamoDB emulator: appends a line per committed conversion item (synchronously). */
export class StreamJournal {
  private readonly fd: number;
  private seq: number;

  /** `onAppend`: called after each line is on disk (the runner wakes the poller with it instead of it polling). */
  constructor(
    readonly file: string,
    private readonly onAppend?: () => void,
  ) {
    dropTornTail(file);
    this.seq = lastSeq(file);
    this.fd = openSync(file, 'a');
  }

  append(keys: Record<string, AttributeValue>, image: Record<string, AttributeValue>): void {
    const line: JournalLine = { seq: ++this.seq, at: Math.floor(Date.now() / 1000), keys, image: wireImage(image) };
    // Written before the emulator answers the put: once the writer is told "committed", the record is on disk.
    writeSync(this.fd, `${JSON.stringify(line)}\n`);
    this.onAppend?.();
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** A line the process died in the middle of writing (never acknowledged) would run into the next one: cut it off. */
function dropTornTail(file: string): void {
  if (!existsSync(file)) return;
  const text = readFileSync(file);
  if (text.length && text[text.length - 1] !== 10) truncateSync(file, text.lastIndexOf(10) + 1);
}

function lastSeq(file: string): number {
  if (!existsSync(file)) return 0;
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      return (JSON.parse(lines[i]) as JournalLine).seq;
    } catch {
      // A line cut short by a crash: the one before it counts.
    }
  }
  return 0;
}

/** Whether a write request, answered 200, created an accepted conversion item in the ledger (an INSERT the filter passes). */
function committedConversion(target: string, body: Record<string, any>): { keys: Record<string, AttributeValue>; image: Record<string, AttributeValue> } | undefined {
  if (!target.endsWith('.PutItem') || body.TableName !== LEDGER_TABLE) return undefined;
  if (!/attribute_not_exists\(\s*pk\s*\)/.test(body.ConditionExpression ?? '')) return undefined;
  const item = body.Item as Record<string, AttributeValue> | undefined;
  if (item?.sk?.S !== CONVERSION_SK || item.status?.S !== ACCEPTED_STATUS) return undefined;
  return { keys: { pk: item.pk, sk: item.sk }, image: item };
}

/**
 * Puts the journal in front of dynalite's request handler: the request body is read alongside dynalite, and a
 * committing put's item is journaled just before its 200 answer leaves.
 */
export function journalLedgerInserts(server: Server, journal: StreamJournal): void {
  const handlers = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    if (target.endsWith('.PutItem')) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
      res.end = ((...args: unknown[]) => {
        if (res.statusCode === 200) {
          try {
            const insert = committedConversion(target, JSON.parse(Buffer.concat(chunks).toString('utf8')));
            if (insert) journal.append(insert.keys, insert.image);
          } catch (err) {
            // The item is written but its stream record is not: say so loudly (the disk is full or gone).
            console.error(`local ledger stream: a committed conversion was NOT journaled: ${(err as Error).message}`);
          }
        }
        return end(...args);
      }) as ServerResponse['end'];
    }
    for (const h of handlers) h.call(server, req, res);
  });
}

export type StreamHandler = (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse | void>;

export interface StreamPollerOptions {
  journalFile: string;
  /** Where the poller keeps how far it has delivered (byte offset of the journal). */
  checkpointFile: string;
  handler: StreamHandler;
  context: () => Context;
  /** Records per invocation (the stack's batch size). */
  batchSize?: number;
  /**
   * How often the journal is looked at for new records when nobody calls `notify()` (the runner does on each
   * append, so this is only a fallback there).
   */
  pollMs?: number;
  /**
   * Lambda's MaximumBatchingWindowInSeconds: records wait up to this long for others to fill the batch, so a burst
   * becomes a few full invocations instead of many small ones. 0 (default): each look delivers what it found.
   */
  batchWindowMs?: number;
  /** Retries of a failing batch before its records go to `onFailure` (the stack's MaximumRetryAttempts). */
  maxRetries?: number;
  /** First retry delay; doubled on each retry, up to 5 s. */
  retryBaseMs?: number;
  /** The on-failure destination: records whose retries ran out, and why. */
  onFailure: (records: DynamoDBRecord[], reason: string) => Promise<void>;
  log?: (line: string) => void;
  region?: string;
}

/**
 * An image as DynamoDB JSON carries it (the wire, a stream event): binary values base64. Images from the emulator's
 * requests are already so; ones built with the SDK's types (tests, the bench) hold bytes.
 */
export function wireImage(image: Record<string, AttributeValue>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [k, v] of Object.entries(image)) out[k] = v.B instanceof Uint8Array ? ({ B: Buffer.from(v.B).toString('base64') } as unknown as AttributeValue) : v;
  return out;
}

/** A journal line as the stream event source hands it to Lambda. */
export function streamRecord(line: JournalLine, region = 'us-east-1'): DynamoDBRecord {
  return {
    eventID: String(line.seq),
    eventName: 'INSERT',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: region,
    eventSourceARN: `arn:aws:dynamodb:${region}:000000000000:table/${LEDGER_TABLE}/stream/local`,
    dynamodb: {
      ApproximateCreationDateTime: line.at,
      Keys: line.keys as never,
      NewImage: wireImage(line.image) as never,
      SequenceNumber: String(line.seq).padStart(21, '0'),
      SizeBytes: JSON.stringify(wireImage(line.image)).length,
      StreamViewType: 'NEW_IMAGE',
    },
  };
}

/** The reading end: Lambda's DynamoDB stream event source mapping over the journal. */
export class StreamPoller {
  private offset: number;
  /** Parsed records not delivered yet, each with the journal offset just past it. */
  private pending: { record: DynamoDBRecord; end: number }[] = [];
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private attempts = 0;
  /** Bisection: the batch size after a failed invocation, halved each time, back to full after a success. */
  private limit: number;
  private readonly o: Required<Omit<StreamPollerOptions, 'log' | 'region'>> & Pick<StreamPollerOptions, 'log' | 'region'>;

  constructor(opts: StreamPollerOptions) {
    this.o = { batchSize: 100, pollMs: 50, batchWindowMs: 0, maxRetries: 10, retryBaseMs: 200, ...opts };
    this.limit = this.o.batchSize;
    this.offset = readCheckpoint(opts.checkpointFile, opts.journalFile);
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** New records were journaled: look now rather than at the next poll. */
  notify(): void {
    this.wake?.();
  }

  /** Delivers everything journaled so far (tests; the runner's loop does this continuously). */
  async drain(): Promise<void> {
    this.read();
    while (this.pending.length) {
      const delay = await this.deliverOnce();
      if (delay) await new Promise((r) => setTimeout(r, delay));
    }
  }

  private async run(): Promise<void> {
    /** When the oldest record still waiting for its batch to fill was first seen (the batching window runs from it). */
    let windowFrom: number | undefined;
    while (this.running) {
      let delay = this.o.pollMs;
      /** A retry's backoff is waited out whatever is journaled meanwhile; a poll or a batching window is not. */
      let backoff = false;
      try {
        this.read();
        if (this.pending.length) {
          windowFrom ??= Date.now();
          const windowLeft = windowFrom + this.o.batchWindowMs - Date.now();
          // A retry (attempts > 0) has waited its backoff; a full batch or an elapsed window goes at once.
          if (this.attempts > 0 || this.pending.length >= this.o.batchSize || windowLeft <= 0) {
            delay = await this.deliverOnce();
            backoff = delay > 0;
            windowFrom = this.pending.length ? Date.now() : undefined;
          } else delay = windowLeft;
        }
      } catch (err) {
        this.o.log?.(`local ledger stream: ${(err as Error).message}`);
        delay = 1000;
        backoff = true;
      }
      if (delay > 0 && this.running) await this.sleep(delay, !backoff);
    }
  }

  /** Waits `ms`, or until `stop()` — or, when `interruptible`, until `notify()` says there is more to read. */
  private sleep(ms: number, interruptible: boolean): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = interruptible ? done : () => (this.running ? undefined : done());
    });
  }

  /** New complete lines from the journal (a line still being written waits for the next look). */
  private read(): void {
    const from = this.pending.length ? this.pending[this.pending.length - 1].end : this.offset;
    if (!existsSync(this.o.journalFile)) return;
    const fd = openSync(this.o.journalFile, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size <= from) return;
      const buf = Buffer.alloc(size - from);
      readSync(fd, buf, 0, buf.length, from);
      let start = 0;
      for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
        const text = buf.subarray(start, nl).toString('utf8');
        start = nl + 1;
        try {
          this.pending.push({ record: streamRecord(JSON.parse(text) as JournalLine, this.o.region), end: from + start });
        } catch {
          this.o.log?.(`local ledger stream: skipped an unreadable journal line at byte ${from + start}`);
        }
      }
    } finally {
      closeSync(fd);
    }
  }

  /** One invocation; answers how long to wait before the next (0: go on at once). */
  private async deliverOnce(): Promise<number> {
    const batch = this.pending.slice(0, Math.min(this.limit, this.o.batchSize));
    const records = batch.map((b) => b.record);
    let firstFailed = batch.length;
    let error: string | undefined;
    try {
      const res = await this.o.handler({ Records: records }, this.o.context());
      const failed = new Set((res?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      if (failed.size) {
        // As Lambda does: everything before the lowest failed sequence number is done; retry from it.
        firstFailed = records.findIndex((r) => failed.has(r.dynamodb!.SequenceNumber!));
        if (firstFailed === -1) firstFailed = 0;
        error = `${failed.size} record(s) reported as failed`;
      }
    } catch (err) {
      firstFailed = 0;
      error = (err as Error).message;
    }
    this.advance(firstFailed);
    if (error === undefined) {
      this.attempts = 0;
      this.limit = this.o.batchSize;
      return 0;
    }
    this.attempts++;
    if (this.attempts > this.o.maxRetries) {
      const rest = this.pending.slice(0, Math.min(this.limit, this.pending.length));
      this.o.log?.(`local ledger stream: ${rest.length} record(s) given up after ${this.o.maxRetries} retries: ${error}`);
      await this.o.onFailure(rest.map((r) => r.record), `RetryAttemptsExhausted: ${error}`);
      this.advance(rest.length);
      this.attempts = 0;
      this.limit = this.o.batchSize;
      return 0;
    }
    this.limit = Math.max(1, Math.ceil(Math.min(this.limit, batch.length - firstFailed) / 2));
    this.o.log?.(`local ledger stream: fan-out failed (${error}); retry ${this.attempts} of ${this.o.maxRetries}`);
    return Math.min(5000, this.o.retryBaseMs * 2 ** (this.attempts - 1));
  }

  /** Done with the first `n` pending records: the checkpoint moves past them (written before they are forgotten). */
  private advance(n: number): void {
    if (n === 0) return;
    this.offset = this.pending[n - 1].end;
    writeCheckpoint(this.o.checkpointFile, this.offset);
    this.pending.splice(0, n);
  }
}

function checkpointOffset(file: string): number {
  try {
    return Number(JSON.parse(readFileSync(file, 'utf8')).offset) || 0;
  } catch {
    return 0;
  }
}

function readCheckpoint(file: string, journal: string): number {
  const offset = checkpointOffset(file);
  // Past the end: the journal was compacted after the checkpoint reached its end (compactJournal).
  return existsSync(journal) && offset <= statSync(journal).size ? offset : 0;
}

function writeCheckpoint(file: string, offset: number): void {
  writeFileSync(`${file}.tmp`, JSON.stringify({ offset }));
  renameSync(`${file}.tmp`, file);
}

/**
 * At start-up, before the emulator and the poller run: a journal delivered to its end is emptied, so it does not grow
 * without bound across runs. (The checkpoint is reset after the journal: a crash in between reads as offset 0.)
 */
export function compactJournal(journalFile: string, checkpointFile: string): void {
  const size = existsSync(journalFile) ? statSync(journalFile).size : 0;
  const offset = checkpointOffset(checkpointFile);
  if (size > 0 && offset === size) truncateSync(journalFile, 0);
  if (offset !== 0 && (size === 0 || offset >= size)) writeCheckpoint(checkpointFile, 0);
}
