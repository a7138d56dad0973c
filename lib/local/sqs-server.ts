/**
 * Minimal SQS-compatible HTTP server for local development (laptop only, not hardened).
 *
 * Speaks the AWS JSON 1.0 protocol used by `@aws-sdk/client-sqs` v3 and mimics standard-queue
 * semantics (visibility timeouts, receive counts, redrive to a DLQ, move tasks, long polling).
 * With `dataFile`, every mutation is appended to a JSON-lines journal before the response is sent,
 * so accepted work survives a process crash; on start the journal is replayed and compacted.
 */
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';

export interface SqsServerOptions { dataFile?: string; host?: string; port?: number; accountId?: string; region?: string }
export interface SqsServer {
  url: string; port: number; close(): Promise<void>;
  /** The local runner's queue pollers (Lambda's event source mapping): the same receive, without HTTP and the SDK. */
  consumer: QueueConsumer;
}

/** A message as ReceiveMessage returns it (every system attribute and message attribute). */
export interface ReceivedMessage {
  MessageId: string; ReceiptHandle: string; MD5OfBody: string; Body: string;
  Attributes?: Attrs; MessageAttributes?: Record<string, MsgAttr>; MD5OfMessageAttributes?: string;
}
export interface BatchReceive {
  queueUrl: string;
  /** Up to this many messages (an event source mapping's batch size: more than ReceiveMessage's 10). */
  max: number;
  visibilitySeconds: number;
  /** How long to wait for a first message (a long poll). */
  waitMs: number;
  /** After the first message: how long more to wait for the batch to fill (the batching window). */
  windowMs: number;
}
export interface QueueConsumer {
  /** Receives as ReceiveMessage does (visibility, receive counts, redrive to the DLQ), gathering a batch; `cancel` ends the wait empty. */
  receiveBatch(r: BatchReceive, cancel?: AbortSignal): Promise<ReceivedMessage[]>;
  /** DeleteMessageBatch without the 10-entry limit; stale handles are ignored, as SQS does. */
  deleteBatch(queueUrl: string, receiptHandles: string[]): void | Promise<void>;
}

type Attrs = Record<string, string>;
interface MsgAttr { DataType: string; StringValue?: string; BinaryValue?: string /* base64 */ }
interface Msg {
  id: string; body: string; attrs: Record<string, MsgAttr>; sent: number;
  visibleAt: number; count: number; firstReceive?: number; receipt?: string;
  origin?: string; // ARN of the queue a DLQ'd message came from, for StartMessageMoveTask without DestinationArn
}
interface Queue { name: string; attrs: Attrs; created: number; modified: number; msgs: Map<string, Msg>; waiters: Set<() => void> }
interface MoveTask { TaskHandle: string; Status: 'COMPLETED'; SourceArn: string; DestinationArn?: string; ApproximateNumberOfMessagesMoved: number; ApproximateNumberOfMessagesToMove: number; StartedTimestamp: number }

/** Journal records. Live requests and replay both go through `apply`, so replay cannot drift from live behaviour. */
type Rec =
  | { op: 'cq'; q: string; attrs: Attrs; ts: number; mod?: number }
  | { op: 'dq'; q: string }
  | { op: 'sa'; q: string; attrs: Attrs; ts: number }
  | { op: 'put'; q: string; m: Msg }
  | { op: 'recv'; q: string; id: string; rh: string; at: number; vis: number }
  | { op: 'vis'; q: string; id: string; vis: number }
  | { op: 'del'; q: string; id: string }
  | { op: 'mv'; q: string; to: string; id: string; origin?: string; at: number }
  | { op: 'purge'; q: string };

class SqsError extends Error {
  constructor(readonly code: string, message: string, readonly status = 400) { super(message); }
}
// Codes whose awsQuery name differs; the SDK maps `x-amzn-query-error` back to its typed exception classes.
const QUERY_CODES: Record<string, string> = {
  QueueDoesNotExist: 'AWS.SimpleQueueService.NonExistentQueue', QueueNameExists: 'QueueAlreadyExists',
  MessageNotInflight: 'AWS.SimpleQueueService.MessageNotInflight', EmptyBatchRequest: 'AWS.SimpleQueueService.EmptyBatchRequest',
  TooManyEntriesInBatchRequest: 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
  BatchEntryIdsNotDistinct: 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct',
  InvalidBatchEntryId: 'AWS.SimpleQueueService.InvalidBatchEntryId', UnsupportedOperation: 'AWS.SimpleQueueService.UnsupportedOperation',
};
const invalid = (message: string) => new SqsError('InvalidParameterValue', message);
const DEFAULT_ATTRS: Attrs = { VisibilityTimeout: '30', MessageRetentionPeriod: '345600', DelaySeconds: '0', MaximumMessageSize: '262144', ReceiveMessageWaitTimeSeconds: '0' };
const SETTABLE = new Set([...Object.keys(DEFAULT_ATTRS), 'RedrivePolicy', 'RedriveAllowPolicy', 'Policy', 'KmsMasterKeyId', 'KmsDataKeyReusePeriodSeconds', 'SqsManagedSseEnabled']);
const COMPACT_MIN_RECORDS = 20_000;

const md5 = (data: string | Buffer) => createHash('md5').update(data).digest('hex');

/** MD5OfMessageAttributes exactly as AWS computes it (the SDKs may verify it). */
export function md5OfMessageAttributes(attrs: Record<string, MsgAttr>): string | undefined {
  const names = Object.keys(attrs).sort();
  if (names.length === 0) return undefined;
  const parts: Buffer[] = [];
  const lp = (b: Buffer) => { const len = Buffer.alloc(4); len.writeUInt32BE(b.length); parts.push(len, b); };
  for (const name of names) {
    const a = attrs[name];
    lp(Buffer.from(name, 'utf8'));
    lp(Buffer.from(a.DataType, 'utf8'));
    const binary = a.DataType.startsWith('Binary');
    parts.push(Buffer.from([binary ? 2 : 1]));
    lp(binary ? Buffer.from(a.BinaryValue ?? '', 'base64') : Buffer.from(a.StringValue ?? '', 'utf8'));
  }
  return md5(Buffer.concat(parts));
}


function intIn(v: unknown, lo: number, hi: number, name: string, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < lo || n > hi) throw invalid(`Value ${String(v)} for parameter ${name} is invalid. Must be between ${lo} and ${hi}.`);
  return n;
}

function normalizeAttrs(attrs: Attrs = {}): Attrs {
  const out: Attrs = {};
  for (const [k, v] of Object.entries(attrs)) {
    if (!SETTABLE.has(k)) throw new SqsError('InvalidAttributeName', `Unknown Attribute ${k}.`);
    if (k === 'RedrivePolicy' && v !== '') {
      let p: { deadLetterTargetArn?: string; maxReceiveCount?: number | string };
      try { p = JSON.parse(v); } catch { throw invalid('Invalid value for the parameter RedrivePolicy.'); }
      if (!p.deadLetterTargetArn) throw invalid('Redrive policy is missing deadLetterTargetArn.');
      // Stored normalized (number, fixed key order) like AWS returns it.
      out[k] = JSON.stringify({ deadLetterTargetArn: p.deadLetterTargetArn, maxReceiveCount: intIn(p.maxReceiveCount, 1, 1000, 'maxReceiveCount', 10) });
    } else out[k] = String(v);
  }
  return out;
}

function checkBatch(entries: unknown): Array<Record<string, any>> {
  if (!Array.isArray(entries) || entries.length === 0) throw new SqsError('EmptyBatchRequest', 'There should be at least one entry in the request.');
  if (entries.length > 10) throw new SqsError('TooManyEntriesInBatchRequest', `Maximum number of entries per request are 10. You have sent ${entries.length}.`);
  const ids = new Set<string>();
  for (const e of entries) {
    if (typeof e?.Id !== 'string' || !/^[\w-]{1,80}$/.test(e.Id)) throw new SqsError('InvalidBatchEntryId', 'A batch entry id can only contain alphanumeric characters, hyphens and underscores.');
    if (ids.has(e.Id)) throw new SqsError('BatchEntryIdsNotDistinct', `Id ${e.Id} repeated.`);
    ids.add(e.Id);
  }
  return entries;
}

/** Runs each batch entry independently; per-entry failures go to `Failed` like SQS. */
function runBatch(entries: Array<Record<string, any>>, fn: (e: Record<string, any>) => object) {
  const Successful: object[] = [], Failed: object[] = [];
  for (const e of entries) {
    try { Successful.push({ Id: e.Id, ...fn(e) }); } catch (err) {
      if (!(err instanceof SqsError)) throw err;
      Failed.push({ Id: e.Id, SenderFault: true, Code: err.code, Message: err.message });
    }
  }
  return { Successful, Failed };
}

export async function startSqsServer(opts: SqsServerOptions = {}): Promise<SqsServer> {
  const accountId = opts.accountId ?? '000000000000';
  const region = opts.region ?? 'us-east-1';
  const queues = new Map<string, Queue>();
  const tasks: MoveTask[] = [];
  const cancels = new Set<() => void>(); // pending long polls, answered empty on close
  let baseUrl = '';
  let fd: number | undefined;
  let journalRecords = 0;

  const arnOf = (name: string) => `arn:aws:sqs:${region}:${accountId}:${name}`;
  const urlOf = (name: string) => `${baseUrl}/${accountId}/${name}`;
  const notify = (q: Queue) => { for (const w of [...q.waiters]) w(); };
  const redriveOf = (q: Queue) => {
    if (!q.attrs.RedrivePolicy) return undefined;
    const p = JSON.parse(q.attrs.RedrivePolicy) as { deadLetterTargetArn: string; maxReceiveCount: number };
    return { dlq: p.deadLetterTargetArn.split(':').pop()!, max: p.maxReceiveCount };
  };

  function apply(r: Rec): void {
    if (r.op === 'cq') { queues.set(r.q, { name: r.q, attrs: r.attrs, created: r.ts, modified: r.mod ?? r.ts, msgs: new Map(), waiters: new Set() }); return; }
    const q = queues.get(r.q);
    if (!q) return; // tolerate records for queues deleted later in a torn/odd journal
    switch (r.op) {
      case 'dq': queues.delete(r.q); notify(q); break;
      case 'sa': Object.assign(q.attrs, r.attrs); if (r.attrs.RedrivePolicy === '') delete q.attrs.RedrivePolicy; q.modified = r.ts; break;
      case 'put': q.msgs.set(r.m.id, r.m); break;
      case 'recv': { const m = q.msgs.get(r.id); if (m) { m.count++; m.firstReceive ??= r.at; m.receipt = r.rh; m.visibleAt = r.vis; } break; }
      case 'vis': { const m = q.msgs.get(r.id); if (m) m.visibleAt = r.vis; break; }
      case 'del': q.msgs.delete(r.id); break;
      case 'purge': q.msgs.clear(); break;
      case 'mv': {
        const m = q.msgs.get(r.id), to = queues.get(r.to);
        if (!m || !to) break;
        q.msgs.delete(r.id);
        to.msgs.set(m.id, { ...m, count: 0, firstReceive: undefined, receipt: undefined, visibleAt: r.at, origin: r.origin });
        break;
      }
    }
  }

  /** Rewrites the whole state as a fresh journal (temp file + rename so a crash never leaves a half-written file). */
  function compact(file: string): void {
    const lines: string[] = [];
    for (const q of queues.values()) {
      lines.push(JSON.stringify({ op: 'cq', q: q.name, attrs: q.attrs, ts: q.created, mod: q.modified } satisfies Rec));
      for (const m of q.msgs.values()) lines.push(JSON.stringify({ op: 'put', q: q.name, m } satisfies Rec));
    }
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, lines.length ? lines.join('\n') + '\n' : '');
    const tfd = openSync(tmp, 'r+'); fsyncSync(tfd); closeSync(tfd);
    if (fd !== undefined) closeSync(fd);
    renameSync(tmp, file);
    fd = openSync(file, 'a');
    journalRecords = lines.length;
  }

  /** Journal first (synchronously, so it is on disk before we answer), then mutate memory. */
  function commit(r: Rec): void {
    if (fd !== undefined) {
      writeSync(fd, JSON.stringify(r) + '\n');
      journalRecords++;
    }
    apply(r);
    if (fd !== undefined && opts.dataFile && journalRecords > COMPACT_MIN_RECORDS) {
      let live = queues.size;
      for (const q of queues.values()) live += q.msgs.size;
      if (journalRecords > 4 * live) compact(opts.dataFile); // amortized: only when mostly garbage
    }
  }

  function queueByUrl(url: unknown): Queue {
    // Resolve by last path segment so URLs from an earlier run (other port/host) keep working.
    const name = typeof url === 'string' ? url.replace(/\/+$/, '').split('/').pop() ?? '' : '';
    const q = queues.get(name);
    if (!q) throw new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');
    return q;
  }
  function queueByArn(arn: unknown): Queue {
    const q = typeof arn === 'string' ? queues.get(arn.split(':').pop()!) : undefined;
    if (!q || arn !== arnOf(q.name)) throw new SqsError('ResourceNotFoundException', `Queue ${String(arn)} does not exist.`, 404);
    return q;
  }
  /** Receipt handles embed the message id so a handle can be resolved without a global index. */
  function msgByHandle(q: Queue, rh: unknown): { id: string; m?: Msg } {
    const id = typeof rh === 'string' ? Buffer.from(rh, 'base64url').toString('utf8').split('#')[0] : '';
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new SqsError('ReceiptHandleIsInvalid', `The input receipt handle "${String(rh)}" is not a valid receipt handle.`, 404);
    return { id, m: q.msgs.get(id) };
  }

  function sendOne(q: Queue, e: Record<string, any>) {
    if (typeof e.MessageBody !== 'string' || e.MessageBody.length === 0) throw invalid('The request must contain the parameter MessageBody.');
    const attrs: Record<string, MsgAttr> = e.MessageAttributes ?? {};
    for (const [k, a] of Object.entries(attrs)) {
      if (!a?.DataType || (a.StringValue === undefined && a.BinaryValue === undefined)) throw invalid(`Message attribute ${k} must have a DataType and a value.`);
    }
    const size = Buffer.byteLength(e.MessageBody) + Object.entries(attrs).reduce((n, [k, a]) => n + k.length + a.DataType.length + (a.StringValue ?? a.BinaryValue ?? '').length, 0);
    if (size > Number(q.attrs.MaximumMessageSize)) throw invalid(`One or more parameters are invalid. Reason: Message must be shorter than ${q.attrs.MaximumMessageSize} bytes.`);
    const delay = intIn(e.DelaySeconds, 0, 900, 'DelaySeconds', Number(q.attrs.DelaySeconds));
    const now = Date.now();
    const m: Msg = { id: randomUUID(), body: e.MessageBody, attrs, sent: now, visibleAt: now + delay * 1000, count: 0 };
    commit({ op: 'put', q: q.name, m });
    if (delay === 0) notify(q);
    const attrMd5 = md5OfMessageAttributes(attrs);
    return { MessageId: m.id, MD5OfMessageBody: md5(m.body), ...(attrMd5 ? { MD5OfMessageAttributes: attrMd5 } : {}) };
  }

  /** One non-blocking receive pass. Also reports when the next hidden message becomes visible (for long polls). */
  function receiveNow(q: Queue, max: number, visSec: number): { got: Msg[]; next: number } {
    const now = Date.now(), got: Msg[] = [], rp = redriveOf(q), retentionMs = Number(q.attrs.MessageRetentionPeriod) * 1000;
    let next = Infinity;
    for (const m of q.msgs.values()) { // deleting from a Map while iterating it is safe in JS
      if (got.length >= max) break;
      if (now - m.sent > retentionMs) { commit({ op: 'del', q: q.name, id: m.id }); continue; }
      if (m.visibleAt > now) { next = Math.min(next, m.visibleAt); continue; }
      const dlq = rp && m.count >= rp.max ? queues.get(rp.dlq) : undefined;
      if (dlq && dlq !== q) { commit({ op: 'mv', q: q.name, to: dlq.name, id: m.id, origin: arnOf(q.name), at: now }); notify(dlq); continue; }
      commit({ op: 'recv', q: q.name, id: m.id, rh: Buffer.from(`${m.id}#${randomUUID()}`).toString('base64url'), at: now, vis: now + visSec * 1000 });
      got.push(m);
    }
    return { got, next };
  }

  function formatMessage(m: Msg, sysNames: Set<string>, attrNames: string[]) {
    const all = sysNames.has('All');
    const sys: Attrs = {};
    const add = (k: string, v: () => string) => { if (all || sysNames.has(k)) sys[k] = v(); };
    add('SenderId', () => accountId);
    add('SentTimestamp', () => String(m.sent));
    add('ApproximateReceiveCount', () => String(m.count));
    add('ApproximateFirstReceiveTimestamp', () => String(m.firstReceive ?? m.sent));
    const picked: Record<string, MsgAttr> = {};
    for (const [k, a] of Object.entries(m.attrs)) {
      if (attrNames.some((n) => n === 'All' || n === '.*' || n === k || (n.endsWith('.*') && k.startsWith(n.slice(0, -1))))) picked[k] = a;
    }
    const attrMd5 = md5OfMessageAttributes(picked);
    return {
      MessageId: m.id, ReceiptHandle: m.receipt, MD5OfBody: md5(m.body), Body: m.body,
      ...(Object.keys(sys).length ? { Attributes: sys } : {}),
      ...(attrMd5 ? { MessageAttributes: picked, MD5OfMessageAttributes: attrMd5 } : {}),
    };
  }

  /**
   * A long poll: up to `max` messages once any is visible, or none at the deadline. With `gather`, a first message
   * starts a batching window: more are taken as they arrive until `max` or the window's end.
   * `onCancel` gets the function that ends the wait (with what was taken so far).
   */
  function waitForMessages(q: Queue, max: number, visSec: number, waitMs: number, onCancel: (cancel: () => void) => void, gather?: { windowMs: number }): Promise<Msg[]> {
    const deadline = Date.now() + waitMs;
    return new Promise<Msg[]>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let windowEnd = Infinity;
      const taken: Msg[] = [];
      const stop = () => { clearTimeout(timer); q.waiters.delete(attempt); cancels.delete(cancel); resolve(taken); };
      const cancel = () => stop();
      function attempt() {
        clearTimeout(timer);
        const live = queues.get(q.name) === q;
        const { got, next } = live ? receiveNow(q, max - taken.length, visSec) : { got: [], next: Infinity };
        taken.push(...got);
        const now = Date.now();
        if (!live || taken.length >= max || (taken.length > 0 && !gather) || (taken.length === 0 && now >= deadline) || now >= windowEnd) return stop();
        if (taken.length > 0) {
          // Woken again by each send (what arrived is taken), the window's end closes the batch.
          if (windowEnd === Infinity) windowEnd = now + gather!.windowMs;
          timer = setTimeout(stop, Math.max(1, windowEnd - now));
          return;
        }
        // Wake on send (via q.waiters), on the next delayed/in-flight message becoming visible, or at the deadline.
        timer = setTimeout(attempt, Math.max(1, Math.min(deadline, next) - now));
      }
      q.waiters.add(attempt); cancels.add(cancel); onCancel(cancel);
      attempt();
    });
  }

  async function receive(input: Record<string, any>, res: ServerResponse) {
    const q = queueByUrl(input.QueueUrl);
    const max = intIn(input.MaxNumberOfMessages, 1, 10, 'MaxNumberOfMessages', 1);
    const visSec = intIn(input.VisibilityTimeout, 0, 43200, 'VisibilityTimeout', Number(q.attrs.VisibilityTimeout));
    const wait = intIn(input.WaitTimeSeconds, 0, 20, 'WaitTimeSeconds', Number(q.attrs.ReceiveMessageWaitTimeSeconds));
    const sysNames = new Set<string>([...(input.AttributeNames ?? []), ...(input.MessageSystemAttributeNames ?? [])]);
    const got = await waitForMessages(q, max, visSec, wait * 1000, (cancel) => {
      const onClose = () => { if (!res.writableEnded) cancel(); }; // client gave up: don't hide messages from others
      res.on('close', onClose);
    });
    return got.length ? { Messages: got.map((m) => formatMessage(m, sysNames, input.MessageAttributeNames ?? [])) } : {};
  }

  const consumer: QueueConsumer = {
    async receiveBatch(r, signal) {
      const q = queueByUrl(r.queueUrl);
      if (signal?.aborted) return [];
      let onAbort: (() => void) | undefined;
      const got = await waitForMessages(q, r.max, r.visibilitySeconds, r.waitMs, (cancel) => signal?.addEventListener('abort', (onAbort = cancel), { once: true }), { windowMs: r.windowMs });
      // A long-lived signal (a poller's) must not collect a listener per receive.
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted && got.length) {
        // The poller stopped mid-window: what it took is handed back (visible again) rather than hidden until its timeout.
        for (const m of got) if (q.msgs.has(m.id)) commit({ op: 'vis', q: q.name, id: m.id, vis: Date.now() });
        notify(q);
        return [];
      }
      return got.map((m) => formatMessage(m, new Set(['All']), ['All']) as ReceivedMessage);
    },
    deleteBatch(queueUrl, receiptHandles) {
      const q = queueByUrl(queueUrl);
      for (const rh of receiptHandles) deleteOne(q, rh);
    },
  };

  function deleteOne(q: Queue, rh: unknown) {
    const { id, m } = msgByHandle(q, rh);
    // A stale handle (message received again since) succeeds without deleting, as in SQS.
    if (m && m.receipt === rh) commit({ op: 'del', q: q.name, id });
    return {};
  }

  function changeVisibility(q: Queue, rh: unknown, timeout: unknown) {
    const secs = intIn(timeout, 0, 43200, 'VisibilityTimeout', NaN);
    if (Number.isNaN(secs)) throw invalid('The request must contain the parameter VisibilityTimeout.');
    const { id, m } = msgByHandle(q, rh);
    if (!m || m.receipt !== rh) throw invalid(`Value ${String(rh)} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.`);
    if (m.visibleAt <= Date.now()) throw new SqsError('MessageNotInflight', 'Message is not in flight.');
    commit({ op: 'vis', q: q.name, id, vis: Date.now() + secs * 1000 });
    if (secs === 0) notify(q);
    return {};
  }

  function queueAttributes(q: Queue, names: string[]): Attrs {
    const now = Date.now();
    let visible = 0, inflight = 0, delayed = 0;
    for (const m of q.msgs.values()) {
      if (m.visibleAt <= now) visible++;
      else if (m.receipt) inflight++;
      else delayed++;
    }
    const all: Attrs = {
      ...q.attrs, QueueArn: arnOf(q.name),
      ApproximateNumberOfMessages: String(visible), ApproximateNumberOfMessagesNotVisible: String(inflight), ApproximateNumberOfMessagesDelayed: String(delayed),
      CreatedTimestamp: String(Math.floor(q.created / 1000)), LastModifiedTimestamp: String(Math.floor(q.modified / 1000)),
    };
    if (names.includes('All')) return all;
    return Object.fromEntries(names.filter((n) => n in all).map((n) => [n, all[n]]));
  }

  const handlers: Record<string, (input: Record<string, any>, res: ServerResponse) => object | Promise<object>> = {
    CreateQueue: (i) => {
      const name = String(i.QueueName ?? '');
      if (!/^[\w-]{1,80}$/.test(name)) throw invalid('Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length. (FIFO queues are not supported locally.)');
      const attrs = normalizeAttrs(i.Attributes);
      if (!queues.has(name)) commit({ op: 'cq', q: name, attrs: { ...DEFAULT_ATTRS, ...attrs }, ts: Date.now() });
      return { QueueUrl: urlOf(name) }; // idempotent: an existing queue is returned unchanged
    },
    GetQueueUrl: (i) => ({ QueueUrl: urlOf(queueByUrl(i.QueueName).name) }),
    ListQueues: (i) => {
      const urls = [...queues.keys()].filter((n) => n.startsWith(i.QueueNamePrefix ?? '')).sort().map(urlOf);
      const start = Number(i.NextToken ?? 0), max = intIn(i.MaxResults, 1, 1000, 'MaxResults', 1000);
      const page = urls.slice(start, start + max);
      return { QueueUrls: page, ...(start + max < urls.length ? { NextToken: String(start + max) } : {}) };
    },
    DeleteQueue: (i) => { commit({ op: 'dq', q: queueByUrl(i.QueueUrl).name }); return {}; },
    GetQueueAttributes: (i) => ({ Attributes: queueAttributes(queueByUrl(i.QueueUrl), i.AttributeNames ?? []) }),
    SetQueueAttributes: (i) => { commit({ op: 'sa', q: queueByUrl(i.QueueUrl).name, attrs: normalizeAttrs(i.Attributes), ts: Date.now() }); return {}; },
    SendMessage: (i) => sendOne(queueByUrl(i.QueueUrl), i),
    SendMessageBatch: (i) => { const q = queueByUrl(i.QueueUrl); return runBatch(checkBatch(i.Entries), (e) => sendOne(q, e)); },
    ReceiveMessage: receive,
    DeleteMessage: (i) => deleteOne(queueByUrl(i.QueueUrl), i.ReceiptHandle),
    DeleteMessageBatch: (i) => { const q = queueByUrl(i.QueueUrl); return runBatch(checkBatch(i.Entries), (e) => deleteOne(q, e.ReceiptHandle)); },
    ChangeMessageVisibility: (i) => changeVisibility(queueByUrl(i.QueueUrl), i.ReceiptHandle, i.VisibilityTimeout),
    ChangeMessageVisibilityBatch: (i) => {
      const q = queueByUrl(i.QueueUrl);
      return runBatch(checkBatch(i.Entries), (e) => changeVisibility(q, e.ReceiptHandle, e.VisibilityTimeout));
    },
    PurgeQueue: (i) => { commit({ op: 'purge', q: queueByUrl(i.QueueUrl).name }); return {}; },
    ListDeadLetterSourceQueues: (i) => {
      const arn = arnOf(queueByUrl(i.QueueUrl).name);
      return { queueUrls: [...queues.values()].filter((q) => q.attrs.RedrivePolicy && JSON.parse(q.attrs.RedrivePolicy).deadLetterTargetArn === arn).map((q) => urlOf(q.name)) };
    },
    StartMessageMoveTask: (i) => {
      // Runs to completion synchronously: moves every currently visible message of the DLQ.
      const src = queueByArn(i.SourceArn);
      const dest = i.DestinationArn === undefined ? undefined : queueByArn(i.DestinationArn);
      const now = Date.now();
      const ready = [...src.msgs.values()].filter((m) => m.visibleAt <= now);
      let moved = 0;
      for (const m of ready) {
        const to = dest ?? (m.origin ? queues.get(m.origin.split(':').pop()!) : undefined);
        if (!to || to === src) continue; // origin unknown or deleted: leave it in the DLQ
        commit({ op: 'mv', q: src.name, to: to.name, id: m.id, at: now });
        notify(to);
        moved++;
      }
      const task: MoveTask = { TaskHandle: Buffer.from(randomUUID()).toString('base64url'), Status: 'COMPLETED', SourceArn: i.SourceArn, ...(dest ? { DestinationArn: i.DestinationArn } : {}), ApproximateNumberOfMessagesMoved: moved, ApproximateNumberOfMessagesToMove: ready.length, StartedTimestamp: now };
      tasks.push(task);
      return { TaskHandle: task.TaskHandle };
    },
    ListMessageMoveTasks: (i) => {
      const max = intIn(i.MaxResults, 1, 10, 'MaxResults', 1);
      return { Results: tasks.filter((t) => t.SourceArn === i.SourceArn).reverse().slice(0, max) };
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const reply = (status: number, body: object, headers: Record<string, string> = {}) => {
      if (res.writableEnded || res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID(), ...headers });
      res.end(JSON.stringify(body));
    };
    try {
      const target = String(req.headers['x-amz-target'] ?? '');
      const handler = target.startsWith('AmazonSQS.') ? handlers[target.slice('AmazonSQS.'.length)] : undefined;
      if (req.method !== 'POST' || !handler) throw new SqsError('UnsupportedOperation', `Operation ${target || req.method} is not supported by the local SQS server.`);
      let input: Record<string, any>;
      try { input = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {}; } catch { throw new SqsError('SerializationException', 'Request body is not valid JSON.'); }
      reply(200, await handler(input ?? {}, res));
    } catch (err) {
      if (!(err instanceof SqsError)) console.error('[local-sqs] internal error', err);
      const e = err instanceof SqsError ? err : new SqsError('InternalFailure', String((err as Error)?.message ?? err), 500);
      reply(e.status, { __type: `com.amazonaws.sqs#${e.code}`, message: e.message }, { 'x-amzn-query-error': `${QUERY_CODES[e.code] ?? e.code};${e.status >= 500 ? 'Receiver' : 'Sender'}` });
    }
  }

  if (opts.dataFile) {
    mkdirSync(dirname(opts.dataFile), { recursive: true });
    if (existsSync(opts.dataFile)) {
      const lines = readFileSync(opts.dataFile, 'utf8').split('\n');
      for (const line of lines) {
        if (!line.trim()) continue;
        let rec: Rec;
        try { rec = JSON.parse(line); } catch { continue; } // only a torn final line is expected here
        apply(rec);
      }
    }
    compact(opts.dataFile);
  }

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host ?? '127.0.0.1';
  baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url: baseUrl,
    port,
    consumer,
    async close() {
      for (const c of [...cancels]) c();
      await new Promise((resolve) => setImmediate(resolve)); // let the cancelled long polls write their empty replies
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
      if (fd !== undefined) { closeSync(fd); fd = undefined; }
    },
  };
}
