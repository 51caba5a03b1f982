/** A signal within this long of the first one is the same Ctrl-C arriving twice, not a person pressing it again. */
const ECHO_MS = 1_000;
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * One Ctrl-C can reach the server twice: from the terminal (to the whole foreground process group) and again
 * from npm, which forwards SIGINT and SIGTERM to its script's process (node itself where `sh -c` execs the command,
 * as bash does; under dash the sh, and the start then stops once it sees its parent gone: parent-watch.ts). The
 * service treats a second signal as "stop now" (adapters/http/start.ts), which would
 * cut its graceful shutdown short: this listener swallows a repeat within ECHO_MS; one after that is a person who
 * wants out, and gets the default end. Returns what to await once the service has stopped.
 */
export const absorbEchoedSignals = (): (() => Promise<void>) => {
  let first: number | undefined;
  let heard = false;
  let echoed: (() => void) | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (first === undefined) {
      first = Date.now();
      return;
    }
    if (Date.now() - first < ECHO_MS) {
      heard = true;
      echoed?.();
      return;
    }
    remove();
    // With no listener left the signal's default action ends the process, as it would without this one.
    process.kill(process.pid, signal);
  };
  const remove = (): void => {
    for (const signal of SIGNALS) process.off(signal, onSignal);
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  return async () => {
    if (first === undefined) {
      remove();
      return;
    }
    // A quick shutdown can end before the echo arrives; once the process is exiting, Node no longer hands a signal
    // to a listener, and the echo would end it by the default action (exit by SIGINT, not 0). So the end waits for
    // the echo, or for the rest of ECHO_MS when none comes (a signal sent once, not through npm). The listener stays.
    const left = first + ECHO_MS - Date.now();
    if (heard || left <= 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, left);
      echoed = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  };
};
