/** A signal within this long of the first one is the same Ctrl-C arriving twice, not a person pressing it again. */
const ECHO_MS = 1_000;
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * One Ctrl-C can reach the server twice: from the terminal (to the whole foreground process group) and again
 * from npm, which forwards SIGINT and SIGTERM to its script's process (a direct child wherever `sh -c` execs the
 * command, as bash does). The service treats a second signal as "stop now" (adapters/http/start.ts), which would
 * cut its graceful shutdown short: this listener swallows a repeat within ECHO_MS; one after that is a person who
 * wants out, and gets the default end. Returns the function to call once the service has stopped.
 */
export const absorbEchoedSignals = (): (() => void) => {
  let first: number | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (first === undefined) {
      first = Date.now();
      return;
    }
    if (Date.now() - first < ECHO_MS) return;
    remove();
    // With no listener left the signal's default action ends the process, as it would without this one.
    process.kill(process.pid, signal);
  };
  const remove = (): void => {
    for (const signal of SIGNALS) process.off(signal, onSignal);
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  // Once a signal came, its echo may still be on its way after a quick shutdown, and the process is ending
  // anyway: the listener stays (a signal listener does not keep the process alive).
  return () => {
    if (first === undefined) remove();
  };
};
