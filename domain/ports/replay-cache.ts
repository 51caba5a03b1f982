/**
 * Replay cache (SER-012, left open in Release 1): remembers every nonce and transcript it is shown for a time
 * window and answers whether it was seen before. Messages older than the protocols' accepted clock skew are
 * refused as stale, so a window of at least twice that skew means an evicted entry can never be replayed.
 *
 * The window is inclusive at both ends, like freshness (`assertFresh` accepts a skew of exactly the maximum): an
 * entry remembered at t is still 'replayed' at exactly t + windowSeconds and forgotten only after it. So a message
 * accepted at the earliest freshness instant is still remembered at the latest one (issue 11 item 10).
 *
 * Bounded: when full of live entries it answers 'full' and the protocol refuses the run (fail closed: losing
 * replay protection under load is worse than refusing work). Protocols write to it only after the initiator has
 * proved who it is (issue 11 item 4), each in its own `namespace`, so no unauthenticated sender, and no other
 * protocol, can fill the part a legitimate run needs.
 */
export type ReplayVerdict = 'fresh' | 'replayed' | 'full';

export interface ReplayCache {
  readonly windowSeconds: number;
  /** Records `key` as seen at `seenAt`; 'replayed' when it was already seen within the window. */
  remember(key: string, seenAt: Date): Promise<ReplayVerdict>;
  /** Whether `key` was remembered within the window as of `at`; records nothing (a cheap early refusal). */
  seen(key: string, at: Date): Promise<boolean>;
  /**
   * A view with its own key space and its own entry budget (the same `maxEntries`) over the same store: filling
   * one namespace never answers 'full' in another. Namespaces nest (`a` then `b` is `a/b`).
   */
  namespace(name: string): ReplayCache;
}
