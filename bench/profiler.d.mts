export interface Profiler {
  start(): Promise<unknown>;
  stop(file: string): Promise<void>;
}
export function startProfiler(intervalMicros: number): Promise<Profiler>;
