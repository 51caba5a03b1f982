/**
 * Replay cache (SER-012, left open in Release 1): remembers every nonce and transcript it is shown for a time
 * window and answers whether it was seen before. Messages older than the protocols' accepted clock skew are
 * refused as stale, so a window of at least twice that skew means an evicted entry can never be replayed.
 * Bounded: when full of live entries it answers 'full' and the protocol refuses the run (fail closed: losing
 * replay protection under load is worse than refusing work).
 */
export type ReplayVerdict = 'fresh' | 'replayed' | 'full';

export interface ReplayCache {
  readonly windowSeconds: number;
  /** Records `key` as seen at `seenAt`; 'replayed' when it was already seen within the window. */
  remember(key: string, seenAt: Date): Promise<ReplayVerdict>;
}
