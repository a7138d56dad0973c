import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  StartMessageMoveTaskCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import { OperatorError, type Target } from './target.ts';

/** A dead letter as an operator reads it: why it is there (the sender's message attributes) and the Conversion. */
export interface DeadLetterView {
  destination: string;
  messageId: string;
  conversionId?: string;
  eventName?: string;
  errorCode: string;
  errorMessage: string;
  attempts?: number;
  firstFailureAt?: string;
  sentAt?: string;
  body: string;
}

/** How long peeked messages stay hidden while the CLI pages through a DLQ; they are released at the end. */
const PEEK_VISIBILITY_SECONDS = 60;

export async function attribute(target: Target, url: string, name: 'ApproximateNumberOfMessages' | 'QueueArn'): Promise<string> {
  const res = await target.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: [name] }));
  return res.Attributes?.[name] ?? '';
}

export async function dlqDepth(target: Target, destination: string): Promise<number> {
  return Number(await attribute(target, target.queues[destination].dlqUrl, 'ApproximateNumberOfMessages'));
}

/**
 * Reads every message of a destination's DLQ without removing any: receives them in pages (each hidden for a
 * minute so the next page brings new ones), then makes them all visible again.
 */
export async function peekDeadLetters(target: Target, destination: string, progress?: (seen: number, total: number) => void): Promise<DeadLetterView[]> {
  const url = target.queues[destination].dlqUrl;
  const total = await dlqDepth(target, destination);
  const seen = await receiveAll(target, url, PEEK_VISIBILITY_SECONDS, total, progress);
  await release(target, url, seen);
  return seen.map((m) => view(destination, m));
}

/**
 * Every message of a queue, received in pages, each hidden for `visibilitySeconds` so the next page brings new ones
 * (the caller deletes or releases them). SQS short polls sample servers: an empty answer ends the read once
 * `expected` messages were seen, else only the second one in a row does. Should a receive fail midway, what was
 * received is released before the error goes on.
 */
export async function receiveAll(target: Target, url: string, visibilitySeconds: number, expected: number, progress?: (seen: number, total: number) => void): Promise<Message[]> {
  const seen = new Map<string, Message>();
  let empties = 0;
  try {
    for (;;) {
      const got = await receivePage(target, url, visibilitySeconds);
      for (const m of got) seen.set(m.MessageId!, m);
      empties = got.length ? 0 : empties + 1;
      if (got.length) progress?.(seen.size, Math.max(expected, seen.size));
      if (empties >= (seen.size >= expected ? 1 : 2)) break;
    }
  } catch (err) {
    await release(target, url, [...seen.values()]);
    throw err;
  }
  return [...seen.values()];
}

/** Up to ten messages of a queue, hidden for `visibilitySeconds` (a short poll locally, one second on AWS). */
export async function receivePage(target: Target, url: string, visibilitySeconds: number): Promise<Message[]> {
  const res = await target.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: visibilitySeconds,
      WaitTimeSeconds: target.kind === 'aws' ? 1 : 0,
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['All'],
    }),
  );
  return res.Messages ?? [];
}

/** Makes received messages visible again at once (they stay in the queue). */
export async function release(target: Target, url: string, messages: Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    await target.sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: url,
        Entries: messages.slice(i, i + 10).map((m, k) => ({ Id: String(k), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 })),
      }),
    );
  }
}

function view(destination: string, m: Message): DeadLetterView {
  const a = (k: string) => m.MessageAttributes?.[k]?.StringValue;
  const sent = Number(m.Attributes?.SentTimestamp);
  return {
    destination: a('destination') ?? destination,
    messageId: m.MessageId!,
    conversionId: a('conversionId'),
    eventName: a('eventName'),
    // A message SQS itself moved here (a crashed sender, out of receives) carries no reason from the sender.
    errorCode: a('errorCode') ?? 'no_reason_recorded',
    errorMessage: a('errorMessage') ?? 'moved by SQS after too many receives (the sender crashed or timed out each time)',
    attempts: a('attempts') ? Number(a('attempts')) : undefined,
    firstFailureAt: a('firstFailureAt'),
    sentAt: Number.isFinite(sent) && sent > 0 ? new Date(sent).toISOString() : undefined,
    body: m.Body ?? '',
  };
}

export interface RedriveResult {
  destination: string;
  moved: number;
  toMove: number;
  status: string;
  failureReason?: string;
}

/**
 * Moves a destination's dead letters back to its queue with an SQS message move task. The destination queue is
 * named explicitly: the sender wrote these messages to the DLQ itself, so SQS has no "source queue" for them.
 */
export async function redrive(
  target: Target,
  destination: string,
  progress?: (moved: number, toMove: number) => void,
  { pollMs = 2000, timeoutMs = 15 * 60_000 } = {},
): Promise<RedriveResult> {
  const { url, dlqUrl } = target.queues[destination];
  const [sourceArn, destinationArn] = await Promise.all([attribute(target, dlqUrl, 'QueueArn'), attribute(target, url, 'QueueArn')]);
  const toMove = Number(await attribute(target, dlqUrl, 'ApproximateNumberOfMessages'));
  if (toMove === 0) return { destination, moved: 0, toMove: 0, status: 'NOTHING_TO_MOVE' };
  let handle: string | undefined;
  try {
    handle = (await target.sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: destinationArn }))).TaskHandle;
  } catch (err) {
    const name = (err as Error).name;
    if (name === 'AccessDeniedException' || name === 'AccessDenied') {
      throw new OperatorError(`Not allowed to redrive ${destination}: your AWS identity needs sqs:StartMessageMoveTask, sqs:ReceiveMessage, sqs:DeleteMessage and sqs:GetQueueAttributes on the DLQ and sqs:SendMessage on the queue.`);
    }
    if (/already.*(running|exists)|UnsupportedOperation/i.test(`${name} ${(err as Error).message}`)) {
      throw new OperatorError(`A redrive of ${destination} is already running; wait for it to finish (\`dlq list\` shows what is left).`);
    }
    throw err;
  }
  const until = Date.now() + timeoutMs;
  for (;;) {
    const tasks = (await target.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 10 }))).Results ?? [];
    const task = tasks.find((t) => t.TaskHandle === handle) ?? tasks[0];
    const moved = task?.ApproximateNumberOfMessagesMoved ?? 0;
    const total = task?.ApproximateNumberOfMessagesToMove ?? toMove;
    progress?.(moved, total);
    const status = task?.Status ?? 'UNKNOWN';
    if (status !== 'RUNNING') return { destination, moved, toMove: total, status, failureReason: task?.FailureReason };
    if (Date.now() > until) throw new OperatorError(`The redrive of ${destination} is still running after ${Math.round(timeoutMs / 60000)} min (${moved}/${total} moved); it continues in AWS.`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Finds one dead letter by its SQS message ID or its conversion (event) ID, in any of the given DLQs. */
export async function findDeadLetter(target: Target, destinations: string[], id: string): Promise<DeadLetterView[]> {
  const found: DeadLetterView[] = [];
  for (const d of destinations) {
    for (const letter of await peekDeadLetters(target, d)) {
      if (letter.messageId === id || letter.conversionId === id) found.push(letter);
    }
  }
  return found;
}
