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

  /** After a read: behind, `readAgain` after the wait (and at least `atLeastMs`); caught up, nothing, and the wait starts over. */
  after(behind: boolean, readAgain: () => void, atLeastMs = 0): void {
    clearTimeout(this.#timer);
    if (!behind) {
      this.#waitMs = BEHIND_REFRESH_MS;
      return;
    }
    this.#timer = setTimeout(readAgain, Math.max(this.#waitMs, atLeastMs));
    this.#waitMs = Math.min(this.#waitMs * 2, MAX_BEHIND_REFRESH_MS);
  }

  /** No read again pending, and the next wait the first again (another entity, another list). */
  reset(): void {
    clearTimeout(this.#timer);
    this.#waitMs = BEHIND_REFRESH_MS;
  }
}
