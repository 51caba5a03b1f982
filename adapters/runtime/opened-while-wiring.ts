/**
 * What the composition root has opened so far (the event store, the transparency log, the read models, the key
 * registry), closed again when a later step refuses (a damaged or foreign keys.db, a read model that cannot be set up,
 * a bad option): the CLI exits on a refusal, but a program that catches it and tries again, or a test, would otherwise
 * hold the folder's files and their WALs for as long as it runs.
 */
export class OpenedWhileWiring {
  readonly #closes: (() => unknown)[] = [];

  /** `resource`, to be closed by `close` should the wiring not finish. */
  add<T>(resource: T, close: (resource: T) => unknown): T {
    this.#closes.push(() => close(resource));
    return resource;
  }

  /**
   * Closes each, newest first (what was opened later may read from what was opened before). The refusal being thrown
   * is what the caller must see: a close that fails too is not put in its place, nor left as an unhandled rejection.
   * An event store's close ends a turn of the event loop later (it waits for its checkpoint thread, if one started).
   */
  closeAll(): void {
    for (const close of this.#closes.splice(0).reverse()) {
      try {
        const closing = close();
        if (closing instanceof Promise) closing.catch(() => undefined);
      } catch {
        // See above: the refusal goes on to the caller.
      }
    }
  }
}
