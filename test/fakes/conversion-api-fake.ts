import { createServer, type IncomingMessage } from 'node:http';
import { listenOnLoopback, readBody } from './http.ts';

/**
 * The machinery the LinkedIn, Pinterest, Snapchat and Microsoft fakes share: a loopback JSON server that hands each request
 * to the platform's validator, keeps the events it accepted, and can fail on demand (an answer for requests holding
 * a matching event, or a dropped connection). Each platform file holds only what its API documents.
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
}

export type FailReply = { status: number; body: unknown } | 'drop';

export interface ConversionApiFake<Event> {
  baseUrl: string;
  requests(): ReceivedRequest[];
  events(): Event[];
  /** Answer `reply` to every request holding an event matching `match` (until `reset`). */
  failWhen(match: (e: Event) => boolean, reply: FailReply): void;
  reset(): void;
  close(): Promise<void>;
}

export async function startConversionApiFake<Event>(
  eventsOf: (body: any) => Event[],
  validate: (req: { method: string; url: URL; headers: IncomingMessage['headers']; body: any }) => FakeAnswer,
): Promise<ConversionApiFake<Event>> {
  const requests: ReceivedRequest[] = [];
  const accepted: Event[] = [];
  let failure: { match: (e: Event) => boolean; reply: FailReply } | undefined;
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
    const events = body === undefined ? [] : eventsOf(body);
    if (failure && events.some(failure.match)) {
      if (failure.reply === 'drop') {
        req.socket.destroy();
        return;
      }
      answer = failure.reply;
    } else {
      answer = body === undefined ? { status: 400, body: { message: 'body is not JSON' } } : validate({ method: req.method ?? 'GET', url, headers: req.headers, body });
    }
    if (answer.accepted) accepted.push(...(answer.accepted as Event[]));
    requests.push({ url, headers: req.headers, body, status: answer.status });
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer.body));
  });
  const { baseUrl, close } = await listenOnLoopback(server);
  return {
    baseUrl,
    requests: () => [...requests],
    events: () => [...accepted],
    failWhen: (match, reply) => {
      failure = { match, reply };
    },
    reset: () => {
      requests.length = 0;
      accepted.length = 0;
      failure = undefined;
    },
    close,
  };
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;
