import { DeleteMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { ACCEPTED_STATUS, CONVERSION_SK } from '../../functions/store/ledger-items.ts';
import { StreamsServiceError, type StreamsApi } from './dynamodb-streams.ts';
import { attribute, receivePage, release } from './dlq.ts';
import { replayFanOut } from './ledger.ts';
import { OperatorError, type Target } from './target.ts';

/**
 * `conversion-relay replay --fan-out-failures`: the fan-out's failure queue turned back into queued conversions.
 * Two kinds of message land there (lib/constructs/fan-out.ts):
 *  - the fan-out's own, for a record it could not queue (`unreadable_stream_record`: a queue refused the message as
 *    sent, or the item did not read as a conversion), naming the item's key: the conversion ID is in it;
 *  - Lambda's invocation record for a stream batch whose retries ran out: only the batch's place in the stream
 *    (`DDBStreamBatchInfo`: shard, first and last sequence numbers), so the records are read back from the stream
 *    (GetShardIterator AT_SEQUENCE_NUMBER, GetRecords until past the last one) — possible while the stream keeps
 *    them, 24 hours.
 * Each conversion found is replayed as `replay --conversion` does (destinations still queued with no outcome), and
 * the message is deleted only once all of its conversions were; anything else stays in the queue, with why.
 */

/** DynamoDB Streams keeps a record 24 hours (then trims it). */
export const STREAM_RETENTION_HOURS = 24;

/** Lambda's description of a stream batch it gave up on (its on-failure destination's record for DynamoDB). */
export interface StreamBatchInfo {
  shardId: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
  approximateArrivalOfFirstRecord?: string;
  approximateArrivalOfLastRecord?: string;
  batchSize?: number;
  streamArn: string;
}

export type FanOutFailure =
  /** The fan-out's own record: the item's key, the reason, and the destination when a queue refused it. */
  | { kind: 'record'; conversionId?: string; destination?: string; reason: string; pk?: string; sk?: string }
  /** Lambda's: a batch range of the stream. */
  | { kind: 'stream_batch'; batch: StreamBatchInfo; condition?: string }
  | { kind: 'unknown'; reason: string };

/** What a failure queue message is, from its body. */
export function parseFailure(body: string | undefined): FanOutFailure {
  let parsed: Record<string, any>;
  try {
    parsed = JSON.parse(body ?? '');
  } catch {
    return { kind: 'unknown', reason: 'the body is not JSON' };
  }
  if (parsed?.kind === 'unreadable_stream_record') {
    const { pk, sk, reason, destination } = parsed as { pk?: string; sk?: string; reason?: string; destination?: string };
    const conversionId = typeof pk === 'string' && pk.startsWith('C#') && sk === CONVERSION_SK ? pk.slice(2) : undefined;
    return { kind: 'record', conversionId, destination, reason: String(reason ?? 'no reason recorded'), pk, sk };
  }
  const info = parsed?.DDBStreamBatchInfo as Partial<StreamBatchInfo> | undefined;
  if (info && typeof info === 'object') {
    const missing = (['shardId', 'startSequenceNumber', 'endSequenceNumber', 'streamArn'] as const).filter((k) => typeof info[k] !== 'string' || !info[k]);
    if (missing.length) return { kind: 'unknown', reason: `a stream batch record without ${missing.join(', ')}` };
    return { kind: 'stream_batch', batch: info as StreamBatchInfo, condition: parsed.requestContext?.condition };
  }
  return { kind: 'unknown', reason: 'neither a fan-out record nor a stream batch record (DDBStreamBatchInfo)' };
}

export type RangeRead = { ok: true; conversionIds: string[]; records: number; calls: number } | { ok: false; gone: boolean; reason: string };

/** GetRecords returns at most 1000 records a call. */
const PAGE_LIMIT = 1000;

/**
 * The accepted conversions inserted in a stream range (what the fan-out's event filter passed: INSERTs of accepted
 * conversion items), read from the shard: an iterator at the first sequence number, then GetRecords until a record
 * past the last one (or the shard's end). An iterator that expires (15 minutes) is renewed after the last record
 * read; records trimmed (over 24 h old) or a shard or stream gone answer `gone` instead.
 */
export async function conversionsInRange(streams: StreamsApi, batch: StreamBatchInfo, { maxCalls = 10_000 } = {}): Promise<RangeRead> {
  const end = BigInt(batch.endSequenceNumber);
  const ids: string[] = [];
  let last: string | undefined;
  let records = 0;
  let calls = 0;
  const iterator = async () =>
    (
      await streams.getShardIterator({
        StreamArn: batch.streamArn,
        ShardId: batch.shardId,
        ...(last ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: last } : { ShardIteratorType: 'AT_SEQUENCE_NUMBER', SequenceNumber: batch.startSequenceNumber }),
      })
    ).ShardIterator;
  try {
    let next = await iterator();
    let renewals = 0;
    while (next) {
      if (++calls > maxCalls) return { ok: false, gone: false, reason: `the range was not read to its end in ${maxCalls} GetRecords calls (sequence number ${last ?? batch.startSequenceNumber} reached)` };
      let page;
      try {
        page = await streams.getRecords({ ShardIterator: next, Limit: PAGE_LIMIT });
      } catch (err) {
        if ((err as Error).name !== 'ExpiredIteratorException' || ++renewals > 5) throw err;
        next = await iterator();
        continue;
      }
      for (const r of page.Records ?? []) {
        const seq = r.dynamodb?.SequenceNumber;
        if (!seq) continue;
        if (BigInt(seq) > end) return { ok: true, conversionIds: ids, records, calls };
        last = seq;
        records++;
        const image = r.dynamodb?.NewImage;
        if (r.eventName === 'INSERT' && image?.sk?.S === CONVERSION_SK && image.status?.S === ACCEPTED_STATUS && image.pk?.S?.startsWith('C#')) ids.push(image.pk.S.slice(2));
        if (BigInt(seq) === end) return { ok: true, conversionIds: ids, records, calls };
      }
      next = page.NextShardIterator ?? undefined;
    }
    // A closed shard read to its end without the last sequence number: the records are not all there.
    return { ok: false, gone: true, reason: `the shard ended before sequence number ${batch.endSequenceNumber} (last read: ${last ?? 'none'})` };
  } catch (err) {
    const name = (err as Error).name;
    if (name === 'TrimmedDataAccessException') {
      return { ok: false, gone: true, reason: `the stream no longer holds these records: DynamoDB Streams keeps them ${STREAM_RETENTION_HOURS} h (TrimmedDataAccessException: ${(err as Error).message})` };
    }
    if (name === 'ResourceNotFoundException') return { ok: false, gone: true, reason: `the stream or its shard ${batch.shardId} is gone (ResourceNotFoundException: ${(err as Error).message})` };
    if (err instanceof StreamsServiceError || name === 'AccessDeniedException') return { ok: false, gone: false, reason: `DynamoDB Streams refused: ${name}: ${(err as Error).message}` };
    throw err;
  }
}

export interface LeftMessage {
  messageId: string;
  kind: FanOutFailure['kind'];
  reason: string;
  /** What the operator can do about it. */
  suggestion?: string;
}

export interface FanOutFailuresSummary {
  messagesRead: number;
  /** Deleted after their conversions were queued again (none on a dry run). */
  messagesDeleted: number;
  conversionsFound: number;
  /** Conversions put back on at least one destination's queue (on a dry run: that would be). */
  conversionsRequeued: number;
  /** Conversions with no destination left to queue: each already delivered, skipped, or queued by an earlier replay. */
  alreadyDelivered: number;
  /** Destination → messages put on its queue. */
  byDestination: Record<string, number>;
  left: LeftMessage[];
  dryRun: boolean;
}

/** How long the messages being worked on stay hidden from anyone else reading the queue. */
const WORK_VISIBILITY_SECONDS = 300;

export function requireFailureQueue(target: Target): string {
  if (!target.fanOutFailuresUrl) {
    throw new OperatorError('The fan-out failure queue is unknown: the stack outputs have no FanOutFailureQueueUrl (redeploy), or set RELAY_FAN_OUT_FAILURES_URL.');
  }
  return target.fanOutFailuresUrl;
}

/**
 * Reads the whole failure queue and replays what each message names, a page at a time (each message is worked on
 * within its visibility timeout of being received). A message is deleted once every conversion it names was queued
 * again or found already settled; every other one stays hidden until the end of the run (so it is read once), then is
 * released, still in the queue, with its reason in the summary. A dry run deletes nothing and queues nothing.
 */
export async function replayFanOutFailures(target: Target, opts: { dryRun?: boolean; progress?: (done: number, total: number) => void } = {}): Promise<FanOutFailuresSummary> {
  const url = requireFailureQueue(target);
  const destinations = Object.keys(target.queues);
  const expected = Number(await attribute(target, url, 'ApproximateNumberOfMessages'));
  const summary: FanOutFailuresSummary = { messagesRead: 0, messagesDeleted: 0, conversionsFound: 0, conversionsRequeued: 0, alreadyDelivered: 0, byDestination: {}, left: [], dryRun: Boolean(opts.dryRun) };
  // A conversion named by two messages (a record refused by two queues, overlapping batches) is replayed once.
  const seenConversions = new Set<string>();
  /** Message ID → the message as last received (its newest receipt handle, for the release). */
  const received = new Map<string, Message>();
  const deleted = new Set<string>();

  /** One message: its conversions queued again and the message deleted, or why it stays. */
  async function work(m: Message): Promise<void> {
    const failure = parseFailure(m.Body);
    const leave = (reason: string, suggestion?: string) => void summary.left.push({ messageId: m.MessageId!, kind: failure.kind, reason, suggestion });
    let ids: string[];
    let only: string[] = destinations;
    if (failure.kind === 'unknown') return leave(failure.reason, 'not written by the fan-out or by Lambda: read it (`aws sqs receive-message`) and delete it by hand');
    if (failure.kind === 'record') {
      if (!failure.conversionId) return leave(`not a conversion item (${failure.pk ?? '?'} / ${failure.sk ?? '?'}): ${failure.reason}`, 'nothing to replay: look at that item in the ledger, then delete the message');
      ids = [failure.conversionId];
      // A queue's refusal concerns that destination alone; the others were queued.
      if (failure.destination && destinations.includes(failure.destination)) only = [failure.destination];
    } else {
      const read = await conversionsInRange(target.streams(failure.batch.streamArn), failure.batch);
      if (!read.ok) {
        const window = [failure.batch.approximateArrivalOfFirstRecord, failure.batch.approximateArrivalOfLastRecord].filter(Boolean).join(' → ');
        return leave(
          read.reason,
          read.gone
            ? `the ${failure.batch.batchSize ?? '?'} conversions committed ${window || 'then'} can no longer be read from the stream: find them in the ledger by that time (README, "Replaying the fan-out's failure queue": a scan of the conversion items' updatedAt), run \`replay --conversion <id>,…\` (it skips what was delivered), then delete this message`
            : 'run the command again later; check the permissions (README, "Replaying the fan-out\'s failure queue")',
        );
      }
      ids = read.conversionIds;
    }
    const fresh = ids.filter((id) => !seenConversions.has(id));
    let result: Awaited<ReturnType<typeof replayFanOut>> | undefined;
    try {
      result = fresh.length ? await replayFanOut(target, fresh, { destinations: only, dryRun: opts.dryRun }) : undefined;
    } catch (err) {
      // A conversion the ledger lacks, or a request AWS refused as made (a queue refusing the message again, a
      // permission): this message stays, the others go on. Anything else (the network, a throttle) stops the run.
      if (err instanceof OperatorError) return leave(err.message, 'check the conversion IDs with `status <id>`');
      if ((err as { $fault?: string }).$fault === 'client') return leave(`${(err as Error).name}: ${(err as Error).message}`, 'fix the cause (the permissions in README, "Replaying the fan-out\'s failure queue", or the message the queue refuses), then run again');
      throw err;
    }
    const requeued = new Set((result?.rows ?? []).map((r) => r.pk.slice(2)));
    for (const id of fresh) seenConversions.add(id);
    summary.conversionsFound += fresh.length;
    summary.conversionsRequeued += requeued.size;
    summary.alreadyDelivered += fresh.length - requeued.size;
    // On a dry run nothing was sent: the rows found are what would be.
    if (opts.dryRun) for (const r of result?.rows ?? []) summary.byDestination[r.sk.slice(2)] = (summary.byDestination[r.sk.slice(2)] ?? 0) + 1;
    else for (const [d, n] of Object.entries(result?.byDestination ?? {})) summary.byDestination[d] = (summary.byDestination[d] ?? 0) + n;
    if (result?.notReplayable) return leave(`${result.notReplayable} destination row(s) keep no readable Conversion`, '`status <id>` shows which; the conversion must be sent again from its source (backfill)');
    if (opts.dryRun) return;
    await target.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle! }));
    deleted.add(m.MessageId!);
    summary.messagesDeleted++;
  }

  try {
    // SQS short polls sample servers: an empty page ends the read once every message counted was seen, else only the
    // second one in a row does. A message kept past its visibility timeout (a long run) comes back: it is not worked
    // on twice.
    let empties = 0;
    for (;;) {
      const page = await receivePage(target, url, WORK_VISIBILITY_SECONDS);
      const fresh = page.filter((m) => !received.has(m.MessageId!));
      for (const m of page) received.set(m.MessageId!, m);
      empties = fresh.length ? 0 : empties + 1;
      if (empties >= (received.size >= expected ? 1 : 2)) break;
      for (const m of fresh) {
        summary.messagesRead++;
        await work(m);
        opts.progress?.(summary.messagesRead, Math.max(expected, received.size));
      }
    }
  } finally {
    // What was not deleted goes back at once, so the next run (or an operator) sees it; an error midway included.
    await release(target, url, [...received.values()].filter((m) => !deleted.has(m.MessageId!)));
  }
  return summary;
}
