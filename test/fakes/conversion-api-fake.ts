import { createServer, type IncomingMessage } from 'node:http';
import { listenOnLoopback, readBody } from './http.ts';

/**
 * The machinery the LinkedIn, Pinterest, Snapchat, Reddit and Microsoft fakes share: a loopback JSON server that hands each request
 * to the platform's validator, keeps the events it accepted, and can fail on demand (an answer for requests holding
 * a matching event, the next n requests, or a dropped connection). Each platform file holds only what its API documents.
 */
export interface FakeAnswer {
  status: number;
  body: unknown;
  /** The events the platform keeps from this request. */
  accepted?: unknown[];
}

export interface ReceivedRequest {
  url: URL;
  headers: IncomingMessage['headers'];
  body: any;
  status: number;
  /** When the fake received it (ms). */
  at: number;
}

export type FailReply = { status: number; body: unknown } | 'drop';

export interface ConversionApiFake<Event> {
  baseUrl: string;
  requests(): ReceivedRequest[];
  events(): Event[];
  /** The accepted events with when (ms) the fake received each (the bench's arrival times). */
  arrivals(): { event: Event; at: number }[];
  /** Answer `reply` to every request holding an event matching `match` (until `reset`). */
  failWhen(match: (e: Event) => boolean, reply: FailReply): void;
  /** Answer `reply` to the next `n` requests, whatever they hold (an outage, a throttle), before any other rule. */
  failNext(n: number, reply: FailReply): void;
  reset(): void;
  close(): Promise<void>;
}

export async function startConversionApiFake<Event>(
  eventsOf: (body: any) => Event[],
  validate: (req: { method: string; url: URL; headers: IncomingMessage['headers']; body: any }) => FakeAnswer,
): Promise<ConversionApiFake<Event>> {
  const requests: ReceivedRequest[] = [];
  const accepted: { event: Event; at: number }[] = [];
  let failure: { match: (e: Event) => boolean; reply: FailReply } | undefined;
  const nextFailures: FailReply[] = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const text = await readBody(req);
    let body: any;
    try {
      // An OAuth token endpoint (Microsoft's, beside its API) takes a form; every API takes JSON.
      body = String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded') ? Object.fromEntries(new URLSearchParams(text)) : JSON.parse(text);
    } catch {
      body = undefined;
    }
    let answer: FakeAnswer;
    const at = Date.now();
    const events = body === undefined ? [] : eventsOf(body);
    const forced = nextFailures.shift() ?? (failure && events.some(failure.match) ? failure.reply : undefined);
    if (forced) {
      if (forced === 'drop') {
        requests.push({ url, headers: req.headers, body, status: 0, at });
        req.socket.destroy();
        return;
      }
      answer = forced;
    } else {
      answer = body === undefined ? { status: 400, body: { message: 'body is not JSON' } } : validate({ method: req.method ?? 'GET', url, headers: req.headers, body });
    }
    if (answer.accepted) accepted.push(...(answer.accepted as Event[]).map((event) => ({ event, at })));
    requests.push({ url, headers: req.headers, body, status: answer.status, at });
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer.body));
  });
  const { baseUrl, close } = await listenOnLoopback(server);
  return {
    baseUrl,
    requests: () => [...requests],
    events: () => accepted.map((a) => a.event),
    arrivals: () => [...accepted],
    failWhen: (match, reply) => {
      failure = { match, reply };
    },
    failNext: (n, reply) => {
      for (let i = 0; i < n; i++) nextFailures.push(reply);
    },
    reset: () => {
      requests.length = 0;
      accepted.length = 0;
      failure = undefined;
      nextFailures.length = 0;
    },
    close,
  };
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;
