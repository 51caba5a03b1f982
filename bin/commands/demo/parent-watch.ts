/** How often `start` looks whether the process that ran it is still there. */
const PARENT_CHECK_MS = 1_000;

/**
 * `npm start` runs node under `sh -c`; Debian's sh (dash) does not exec its last command as bash does, and npm hands
 * SIGTERM and SIGINT to that sh alone: sh and npm ended, and node was left serving with no parent, holding the data
 * folder's lock (review 256: `kill <npm>`, a supervisor's stop, `docker stop` of a `CMD ["npm", "start"]`). An `exec`
 * in the script fixed it for sh but not for cmd.exe, which has none (review 258). So `start` stops gracefully once the
 * process that ran it is gone, as if told SIGTERM: only `start`, the newcomer's command; `serve` under nohup or a
 * supervisor that daemonises keeps running when its parent ends. Returns what ends the watch.
 */
export const stopWhenParentEnds = (): (() => void) => {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, PARENT_CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
};
