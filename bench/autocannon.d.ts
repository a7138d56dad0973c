// autocannon 9 ships no type declarations; the bench uses this much of it.
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';
  interface Request { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer; setupRequest?: (req: Request, context: unknown) => Request }
  interface Options {
    url: string;
    connections?: number;
    duration?: number;
    overallRate?: number;
    timeout?: number;
    requests?: Request[];
    setupClient?: (client: EventEmitter) => void;
  }
  interface Result { requests: { total: number; average: number }; latency: { p50: number; p99: number }; errors: number; timeouts: number; non2xx: number; '2xx': number; duration: number }
  function autocannon(opts: Options): Promise<Result> & EventEmitter;
  export default autocannon;
}
