import { readFileSync } from 'node:fs';

/**
 * CPU time of this process's main thread alone, in µs (Linux: /proc/self/task/<pid>/stat, utime + stime in clock
 * ticks of 10 ms), or undefined elsewhere. `process.cpuUsage()` counts every thread, the store's background
 * checkpointer included; the main thread is the one the commands wait for.
 */
export const mainThreadCpuMicros = (): number | undefined => {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, so split after its closing parenthesis).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return undefined;
  }
};
