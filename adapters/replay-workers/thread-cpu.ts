import { readFileSync } from 'node:fs';

/**
 * CPU time of the calling thread in ms, from Linux's per-thread accounting (clock ticks of 10 ms); undefined where
 * the platform does not report it. `process.cpuUsage()` counts every thread of the process, so it cannot tell a
 * replay worker's share from the main thread's or V8's own threads'.
 */
export const threadCpuMs = (): number | undefined => {
  try {
    // Fields after the parenthesised command name: state is field 3, utime and stime are fields 14 and 15.
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks * 10 : undefined;
  } catch {
    return undefined;
  }
};
