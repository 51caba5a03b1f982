import type { Projection } from '../../../projections/runtime/index.ts';
import { roundFailure } from '../../../projections/runtime/index.ts';
import { type KeyHandle, type OwnedSecureEnvironment } from '../../../domain/ports/index.ts';
import { isCredenceError } from '../../../domain/errors.ts';
import type { KeyRegistry, OwedKey } from './key-registry.ts';

const ENDINGS = ['CredentialRevoked', 'CredentialExpired', 'AssociationRevoked', 'AssociationExpired'] as const;

/** A key that failed is tried again after 1 s, doubling up to an hour: a Secure Environment that is down is not hammered. */
const retryAfterMs = (failures: number): number => Math.min(3_600_000, 1000 * 2 ** Math.min(failures - 1, 12));

export interface KeyShredder extends Projection {
  /**
   * Tries again every key whose destruction failed and whose back-off has passed; returns how many it destroyed.
   * Throws, once those were tried, when one of them was refused again: so a failure is reported once per attempt
   * (at most once an hour for a key that never goes), not at every tick.
   */
  retryOwed(): Promise<number>;
  /** Keys of ended entities the Secure Environment has not destroyed yet (the health of the shredder). */
  owed(): readonly OwedKey[];
  /** What the service's status says of the shredder while keys are owed (undefined when none is). */
  owedSummary(): string | undefined;
}

/**
 * Destroys one key the infrastructure holds for `stream` and marks it destroyed; already gone (destroyed before a crash,
 * say) is the goal state. A refusal by the Secure Environment is recorded as owed, for the shredder to try again
 * (`retryOwed`), and returned, never thrown: whatever ended the key's use (an ending, a refused run, a start's sweep)
 * goes on. Only the registry's own failure throws.
 */
export const destroyOrOwe = async (
  se: OwnedSecureEnvironment,
  registry: KeyRegistry,
  stream: string,
  handle: string,
  at: Date,
): Promise<true | { readonly error: unknown }> => {
  try {
    await se.destroy(handle as KeyHandle);
  } catch (error) {
    if (!isCredenceError(error, 'not_found')) {
      registry.destroyFailed(stream, handle, at);
      return { error };
    }
  }
  registry.markDestroyed(stream, handle, at);
  return true;
};

/**
 * Crypto-shredding (seed 004; SER-010): when a credential or an association ends, the Secure Environment
 * destroys every key the infrastructure held for it, so nothing can use it again even with the database file.
 * Idempotent: a destroyed handle is marked, and destroying an already destroyed key is quietly a no-op.
 *
 * A key the Secure Environment refuses to destroy does not hold up the others: it is recorded as owed in the key
 * registry (durable, so a restart keeps trying), the ending is handled, and `retryOwed` (each tick) tries it again
 * with a back-off until it is gone. Throwing from `react` instead would stop the shredder at that event, and every
 * later ending's keys would stay usable behind it.
 */
export const keyShredder = (
  se: OwnedSecureEnvironment,
  registry: KeyRegistry,
  now: () => Date,
  monotonic: () => number = () => performance.now(),
): KeyShredder => {
  /** Why each owed key last failed, for the health message (this process's failures; a restart says only when). */
  const lastError = new Map<string, unknown>();
  /** When each owed key is due on the monotonic clock, for the count of failures it was timed at. */
  const dueAt = new Map<string, { readonly failures: number; readonly at: number }>();
  /**
   * Due once its wait is over by either clock. `lastFailedAt` is kept on the wall clock (it must outlive a restart),
   * and from it alone a clock stepped back an hour held every owed key back that hour (review 163): the wait left is
   * timed on the monotonic clock too, from when this process first saw the key at this count of failures, a
   * `lastFailedAt` in the future (the clock stepped back since) counting as now. The wall clock (`now`) is still
   * heeded, as the one tests and demos move; one stepped forward only tries a key sooner.
   */
  const isDue = (key: OwedKey, wall: number, at: number): boolean => {
    const wait = retryAfterMs(key.failures);
    const failedAt = key.lastFailedAt.getTime();
    let timed = dueAt.get(key.handle);
    if (timed?.failures !== key.failures) {
      timed = { failures: key.failures, at: at + Math.min(wait, Math.max(0, failedAt + wait - wall)) };
      dueAt.set(key.handle, timed);
    }
    return at >= timed.at || wall >= failedAt + wait;
  };
  /** How many keys are owed, naming the longest waiting and why it was refused. */
  const summary = (still: readonly OwedKey[]): Error => {
    const key = still[0]!;
    return roundFailure(`${still.length} key(s) of ended entities are not destroyed yet and are tried again`, {
      what: `key ${key.handle} (${key.purpose}) of ${key.stream}, refused ${key.failures} time(s), last at ${key.lastFailedAt.toISOString()}`,
      error: lastError.get(key.handle) ?? 'the Secure Environment refused to destroy it',
    });
  };
  const destroy = async (stream: string, handle: string): Promise<true | { error: unknown }> => {
    const outcome = await destroyOrOwe(se, registry, stream, handle, now());
    if (outcome === true) lastError.delete(handle);
    else lastError.set(handle, outcome.error);
    return outcome;
  };
  return {
    name: 'key-shredder',
    eventTypes: ENDINGS,
    setup: () => {},
    // The registry is not rebuilt from events (handles are not in events); destroyed keys stay destroyed.
    reset: () => {},
    async react(e) {
      for (const handle of registry.live(e.record.streamId)) await destroy(e.record.streamId, handle);
    },
    owed: () => registry.owed(),
    owedSummary() {
      const still = registry.owed();
      return still.length === 0 ? undefined : summary(still).message;
    },
    async retryOwed() {
      const [wall, at] = [now().getTime(), monotonic()];
      const owed = registry.owed();
      // A key no longer owed (destroyed here, or by whatever else destroys or owes keys) is forgotten.
      const handles = new Set(owed.map((key) => key.handle));
      for (const handle of dueAt.keys()) if (!handles.has(handle)) dueAt.delete(handle);
      const due = owed.filter((key) => isDue(key, wall, at));
      let destroyed = 0;
      let refused = false;
      for (const key of due) {
        if ((await destroy(key.stream, key.handle)) === true) destroyed++;
        else refused = true;
      }
      if (refused) throw summary(registry.owed());
      return destroyed;
    },
  };
};
