import { writeFileSync } from 'node:fs';

/**
 * V8's sampling profiler on this process (the inspector's own session, no flags): start, then stop into a
 * .cpuprofile file (Chrome DevTools / speedscope open it). Plain JavaScript: the cold driver runs in a bare Node
 * process, the CPU section under tsx; both use it.
 */
export async function startProfiler(intervalMicros) {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: intervalMicros });
  return {
    start: () => session.post('Profiler.start'),
    async stop(file) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
    },
  };
}
