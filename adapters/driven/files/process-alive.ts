/**
 * Whether the process `pid` runs on this host: a signal 0 is delivered (EPERM: it runs, as another account's). For
 * files a process leaves behind it (a lock's holder, an interrupted write's temp, a worker bundle's lease): a dead
 * owner's file is stale.
 */
export const isProcessAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};
