import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchTransport } from './http.ts';

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** A local platform: answers with `reply`, remembers what it received. */
async function platform(reply: (req: IncomingMessage, body: string) => { status: number; body: string; headers?: Record<string, string> } | undefined) {
  const seen: { method?: string; headers: IncomingMessage['headers']; body: string }[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method, headers: req.headers, body });
      const r = reply(req, body);
      if (!r) return; // never answers
      res.writeHead(r.status, r.headers).end(r.body);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/events`, seen };
}

describe('fetchTransport', () => {
  it('posts JSON and hands back the status, the parsed answer and the headers', async () => {
    const p = await platform(() => ({ status: 200, body: '{"events_received":1}', headers: { 'x-fb-trace-id': 'abc' } }));

    const res = await fetchTransport()({ method: 'POST', url: p.url, headers: { 'content-type': 'application/json' }, body: { data: [{ n: 'é' }] } });

    expect(res).toMatchObject({ status: 200, body: { events_received: 1 }, headers: { 'x-fb-trace-id': 'abc' } });
    expect(p.seen[0]).toMatchObject({ method: 'POST', body: '{"data":[{"n":"é"}]}', headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength('{"data":[{"n":"é"}]}')) } });
  });

  it('sends a form body as application/x-www-form-urlencoded text when asked, and keeps a non-JSON answer as text', async () => {
    const p = await platform(() => ({ status: 502, body: '<html>bad gateway</html>' }));

    const res = await fetchTransport()({ method: 'POST', url: p.url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: { grant_type: 'refresh_token', scope: 'a b' }, encoding: 'form' });

    expect(res).toMatchObject({ status: 502, body: '<html>bad gateway</html>' });
    expect(p.seen[0].body).toBe('grant_type=refresh_token&scope=a+b');
  });

  it('a GET carries no body', async () => {
    const p = await platform(() => ({ status: 200, body: '' }));

    const res = await fetchTransport()({ method: 'GET', url: p.url, headers: {}, body: { ignored: true } });

    expect(res.body).toBeUndefined();
    expect(p.seen[0]).toMatchObject({ method: 'GET', body: '' });
  });

  it('gives up on a platform that does not answer within the timeout (the sender retries it)', async () => {
    const p = await platform(() => undefined);
    const started = Date.now();

    await expect(fetchTransport(300)({ method: 'POST', url: p.url, headers: {}, body: {} })).rejects.toThrow(/within 300 ms/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('rejects when nothing listens (a network error, not an answer)', async () => {
    await expect(fetchTransport(2000)({ method: 'POST', url: 'http://127.0.0.1:1/events', headers: {}, body: {} })).rejects.toThrow(/ECONNREFUSED/);
  });
});
