/** While the read models are behind the store, what a page read from them is read again: first after this long. */
export const BEHIND_REFRESH_MS = 2_000;
/** ... then after twice as long each time it is still behind, up to this. */
export const MAX_BEHIND_REFRESH_MS = 60_000;

/**
 * Reads a page's answers again while they come from read models behind the store, backing off (2 s, doubled each time,
 * up to a minute) so that a tab left open on a service whose read models stay behind does not keep asking every two
 * seconds (found in review); the wait starts over once they have caught up.
 */
export class ReadAgainWhileBehind {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #waitMs = BEHIND_REFRESH_MS;

  /**
   * After a read: behind (or failed in a way a later try may not), `readAgain` after the wait (and at least
   * `atLeastMs`), which it returns for the page to say; caught up, nothing, and the wait starts over.
   */
  after(behind: boolean, readAgain: () => void, atLeastMs = 0): number | undefined {
    clearTimeout(this.#timer);
    if (!behind) {
      this.#waitMs = BEHIND_REFRESH_MS;
      return undefined;
    }
    const wait = Math.max(this.#waitMs, atLeastMs);
    this.#timer = setTimeout(readAgain, wait);
    this.#waitMs = Math.min(this.#waitMs * 2, MAX_BEHIND_REFRESH_MS);
    return wait;
  }

  /** No read again pending, and the next wait the first again (another entity, another list). */
  reset(): void {
    clearTimeout(this.#timer);
    this.#waitMs = BEHIND_REFRESH_MS;
  }
}
