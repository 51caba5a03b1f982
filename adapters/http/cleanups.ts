/** What a start has opened so far, closed in reverse order by a failed start or by the shutdown. */
export interface Cleanups {
  push(cleanup: () => unknown): void;
  unwind(): Promise<void>;
}

export const createCleanups = (): Cleanups => {
  const cleanups: (() => unknown)[] = [];
  return {
    push: (cleanup) => {
      cleanups.push(cleanup);
    },
    unwind: async () => {
      for (const cleanup of cleanups.splice(0).reverse()) {
        try {
          await cleanup();
        } catch {
          // Closing what is left matters more than the first failure to close.
        }
      }
    },
  };
};
