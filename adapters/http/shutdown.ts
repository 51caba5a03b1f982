import type { FastifyBaseLogger } from 'fastify';
import { StoppedBeforeServing } from './stopped-before-serving.ts';

/** The service's shutdown, which may begin before the start is done: by `close()` or by a signal. */
export interface Shutdown {
  readonly begun: boolean;
  /** Settles when the service has shut down, however it was asked to. */
  readonly closed: Promise<void>;
  /** Runs the steps once, however often it is called. */
  close(): Promise<void>;
  /** Once a shutdown has begun, the start goes no further: it waits for the unwinding, then says it stopped. */
  unlessStopped(): Promise<void>;
  /** SIGTERM and SIGINT begin the shutdown, once; a second signal ends the process the default way. */
  handleSignals(log: FastifyBaseLogger): void;
  removeSignalHandlers(): void;
}

export const createShutdown = (steps: () => Promise<void>): Shutdown => {
  let closing: Promise<void> | undefined;
  let stoppedBy: NodeJS.Signals | undefined;
  let removeSignalHandlers = (): void => {};
  let resolveClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      removeSignalHandlers();
      await steps();
      resolveClosed();
    })());
  return {
    get begun() {
      return closing !== undefined;
    },
    closed,
    close,
    unlessStopped: async () => {
      if (closing === undefined) return;
      await closing;
      throw new StoppedBeforeServing(stoppedBy ?? 'SIGTERM');
    },
    handleSignals: (log) => {
      const onSignal = (signal: NodeJS.Signals): void => {
        removeSignalHandlers();
        stoppedBy ??= signal;
        log.info({ signal }, 'shutting down');
        void close();
      };
      removeSignalHandlers = (): void => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    },
    removeSignalHandlers: () => removeSignalHandlers(),
  };
};
