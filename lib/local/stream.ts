import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, renameSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
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

/** The local stream's one shard (it never closes) and its ARN, in DynamoDB Streams' forms. */
export const LOCAL_SHARD_ID = 'shardId-00000000000000000000-00000000';
export const localStreamArn = (region = 'us-east-1') => `arn:aws:dynamodb:${region}:000000000000:table/${LEDGER_TABLE}/stream/local`;
/** DynamoDB Streams trims a record 24 h after it was written; the journal keeps records as long (compactJournal). */
export const STREAM_RETENTION_MS = 24 * 3600_000;

/**
 * The highest sequence number no longer in the journal (compacted away), beside it: sequence numbers go on from
 * there, and a read of a trimmed range is refused as DynamoDB Streams refuses it.
 */
const trimPointFile = (journalFile: string) => `${journalFile}.trimmed`;

function trimmedSeq(journalFile: string): number {
  try {
    return Number(JSON.parse(readFileSync(trimPointFile(journalFile), 'utf8')).seq) || 0;
  } catch {
    return 0;
  }
}

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
    this.seq = Math.max(lastSeq(file), trimmedSeq(file));
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
  return journalLines(file).at(-1)?.line.seq ?? 0;
}

/** Every readable line of the journal, with the byte offset just past it (a line cut short by a crash is left out). */
function journalLines(file: string): { line: JournalLine; end: number }[] {
  if (!existsSync(file)) return [];
  const buf = readFileSync(file);
  const out: { line: JournalLine; end: number }[] = [];
  let start = 0;
  for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
    try {
      out.push({ line: JSON.parse(buf.subarray(start, nl).toString('utf8')) as JournalLine, end: nl + 1 });
    } catch {
      // Unreadable: skipped, as the poller skips it.
    }
    start = nl + 1;
  }
  return out;
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
 * committing put's item is journaled just before its 200 answer leaves. DynamoDB Streams requests (the operator
 * CLI's `replay --fan-out-failures`) are answered from the journal (streamsApiAnswer) and never reach dynalite.
 */
export function journalLedgerInserts(server: Server, journal: StreamJournal, region = 'us-east-1'): void {
  const handlers = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    if (target.startsWith(STREAMS_TARGET_PREFIX)) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let answer: StreamsAnswer;
        try {
          answer = streamsApiAnswer(journal.file, target.slice(STREAMS_TARGET_PREFIX.length), JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'), region);
        } catch (err) {
          answer = streamsError(400, 'SerializationException', (err as Error).message);
        }
        res.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(answer.body));
      });
      return;
    }
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

const STREAMS_TARGET_PREFIX = 'DynamoDBStreams_20120810.';
/** A shard iterator is good for 15 minutes, as DynamoDB Streams' are. */
const ITERATOR_TTL_MS = 15 * 60_000;

type StreamsAnswer = { status: number; body: Record<string, unknown> };
const streamsError = (status: number, name: string, message: string): StreamsAnswer => ({ status, body: { __type: `com.amazonaws.dynamodb.v20120810#${name}`, message } });

/** The local iterator: the first sequence number it reads from, and when it expires. */
interface LocalIterator {
  from: number;
  expires: number;
}

/**
 * GetShardIterator and GetRecords of DynamoDB Streams over the journal: one shard (LOCAL_SHARD_ID, always open),
 * records of every accepted conversion INSERT (all the journal holds), TrimmedDataAccessException for a position
 * compacted away (older than 24 h), ExpiredIteratorException after 15 minutes, ResourceNotFoundException for another
 * stream or shard. `now` is for tests.
 */
export function streamsApiAnswer(journalFile: string, operation: string, input: Record<string, any>, region = 'us-east-1', now = Date.now()): StreamsAnswer {
  const trimmed = trimmedSeq(journalFile);
  if (operation === 'GetShardIterator') {
    if (input.StreamArn !== localStreamArn(region)) return streamsError(400, 'ResourceNotFoundException', `Requested resource not found: Stream: ${input.StreamArn} not found`);
    if (input.ShardId !== LOCAL_SHARD_ID) return streamsError(400, 'ResourceNotFoundException', `Requested resource not found: Shard: ${input.ShardId} in Stream: ${input.StreamArn} not found`);
    const lines = journalLines(journalFile);
    const at = Number(input.SequenceNumber);
    let from: number;
    if (input.ShardIteratorType === 'TRIM_HORIZON') from = trimmed + 1;
    else if (input.ShardIteratorType === 'LATEST') from = (lines.at(-1)?.line.seq ?? trimmed) + 1;
    else if (input.ShardIteratorType === 'AT_SEQUENCE_NUMBER' || input.ShardIteratorType === 'AFTER_SEQUENCE_NUMBER') {
      if (!/^\d+$/.test(String(input.SequenceNumber ?? ''))) return streamsError(400, 'ValidationException', 'SequenceNumber is required for AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER');
      if (at <= trimmed) return streamsError(400, 'TrimmedDataAccessException', `Sequence number ${input.SequenceNumber} is beyond the trim horizon (the record is over 24 h old)`);
      from = input.ShardIteratorType === 'AT_SEQUENCE_NUMBER' ? at : at + 1;
    } else return streamsError(400, 'ValidationException', `Unknown ShardIteratorType ${input.ShardIteratorType}`);
    return { status: 200, body: { ShardIterator: encodeIterator({ from, expires: now + ITERATOR_TTL_MS }) } };
  }
  if (operation === 'GetRecords') {
    const it = decodeIterator(String(input.ShardIterator ?? ''));
    if (!it) return streamsError(400, 'ValidationException', 'Invalid ShardIterator');
    if (it.expires <= now) return streamsError(400, 'ExpiredIteratorException', 'Iterator expired. The iterator was created more than 15 minutes ago.');
    if (it.from <= trimmed) return streamsError(400, 'TrimmedDataAccessException', 'The iterator points at records trimmed from the stream (over 24 h old)');
    const limit = Math.min(1000, Math.max(1, Number(input.Limit ?? 1000)));
    const page = journalLines(journalFile).filter(({ line }) => line.seq >= it.from).slice(0, limit);
    const next = page.length ? page[page.length - 1].line.seq + 1 : it.from;
    const Records = page.map(({ line }) => {
      const { eventSourceARN: _arn, ...record } = streamRecord(line, region);
      return record;
    });
    return { status: 200, body: { Records, NextShardIterator: encodeIterator({ from: next, expires: now + ITERATOR_TTL_MS }) } };
  }
  return streamsError(400, 'UnknownOperationException', `The local stream answers GetShardIterator and GetRecords only, not ${operation}`);
}

const encodeIterator = (it: LocalIterator) => Buffer.from(JSON.stringify(it)).toString('base64url');
function decodeIterator(text: string): LocalIterator | undefined {
  try {
    const it = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as LocalIterator;
    return Number.isFinite(it.from) && Number.isFinite(it.expires) ? it : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What Lambda puts on the on-failure destination for a DynamoDB stream batch whose retries ran out: the batch's place
 * in the stream, not its records (the same fields, so the operator CLI reads the local one as it reads Lambda's).
 */
export function streamBatchFailureRecord(
  records: DynamoDBRecord[],
  opts: { functionName: string; invokeCount: number; functionError?: boolean; region?: string; now?: Date; requestId?: string },
) {
  const region = opts.region ?? 'us-east-1';
  const arrival = (r: DynamoDBRecord | undefined) => new Date((r?.dynamodb?.ApproximateCreationDateTime ?? 0) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    requestContext: {
      requestId: opts.requestId ?? randomUUID(),
      functionArn: `arn:aws:lambda:${region}:000000000000:function:${opts.functionName}`,
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: opts.invokeCount,
    },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', ...(opts.functionError ? { functionError: 'Unhandled' } : {}) },
    version: '1.0',
    timestamp: (opts.now ?? new Date()).toISOString(),
    DDBStreamBatchInfo: {
      shardId: LOCAL_SHARD_ID,
      startSequenceNumber: records[0]?.dynamodb?.SequenceNumber ?? '',
      endSequenceNumber: records.at(-1)?.dynamodb?.SequenceNumber ?? '',
      approximateArrivalOfFirstRecord: arrival(records[0]),
      approximateArrivalOfLastRecord: arrival(records.at(-1)),
      batchSize: records.length,
      streamArn: localStreamArn(region),
    },
  };
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
  /** The on-failure destination: records whose retries ran out, why, and how the last invocation ended. */
  onFailure: (records: DynamoDBRecord[], reason: string, last: { invokeCount: number; functionError: boolean }) => Promise<void>;
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

/** A journal line's sequence number as a stream record carries it (digits, as DynamoDB Streams' are). */
const sequenceNumber = (seq: number) => String(seq).padStart(21, '0');

/** A journal line as the stream event source hands it to Lambda. */
export function streamRecord(line: JournalLine, region = 'us-east-1'): DynamoDBRecord {
  return {
    eventID: String(line.seq),
    eventName: 'INSERT',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: region,
    eventSourceARN: localStreamArn(region),
    dynamodb: {
      ApproximateCreationDateTime: line.at,
      Keys: line.keys as never,
      NewImage: wireImage(line.image) as never,
      SequenceNumber: sequenceNumber(line.seq),
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
    let threw = false;
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
      threw = true;
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
      await this.o.onFailure(rest.map((r) => r.record), `RetryAttemptsExhausted: ${error}`, { invokeCount: this.attempts, functionError: threw });
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
 * At start-up, before the emulator and the poller run: the delivered records older than the stream's retention
 * (24 h, as DynamoDB Streams trims them) are cut from the journal's start, so it does not grow without bound across
 * runs, while a recent range stays readable (`replay --fan-out-failures`) across a restart. The last sequence number
 * cut is kept (the trim point), so numbering goes on and a trimmed range is refused as such.
 *
 * The steps are ordered for a crash between any two: the trim point first (alone it only refuses records over 24 h
 * old), then the checkpoint moved back by the bytes cut (with the old journal still there, the poller reads again
 * from earlier: delivered again, never skipped), then the journal rewritten.
 */
export function compactJournal(journalFile: string, checkpointFile: string, now = Date.now()): void {
  const size = existsSync(journalFile) ? statSync(journalFile).size : 0;
  const offset = checkpointOffset(checkpointFile);
  if (offset > size) {
    // Past the end: a journal lost or cut by hand. Read it from its start.
    writeCheckpoint(checkpointFile, 0);
    return;
  }
  const lines = journalLines(journalFile);
  let drop = 0;
  while (drop < lines.length && lines[drop].end <= offset && lines[drop].line.at * 1000 < now - STREAM_RETENTION_MS) drop++;
  if (drop === 0) return;
  const cut = lines[drop - 1].end;
  const trimPoint = trimPointFile(journalFile);
  writeFileSync(`${trimPoint}.tmp`, JSON.stringify({ seq: lines[drop - 1].line.seq }));
  renameSync(`${trimPoint}.tmp`, trimPoint);
  writeCheckpoint(checkpointFile, offset - cut);
  writeFileSync(`${journalFile}.tmp`, readFileSync(journalFile).subarray(cut));
  renameSync(`${journalFile}.tmp`, journalFile);
}
