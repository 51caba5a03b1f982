import { isKeyNotFound } from '../../../domain/errors.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';

/**
 * The PSK a PSK-mode decoy challenge is MACed with, and its finish checked against, when the responder holds no key
 * of the claimed credential: one per Secure Environment view, made at the first such decoy and kept. Review 64 F2: a
 * random key made and destroyed per decoy (one more `generate`, some 0.1 ms of a 0.5 ms hello) told a stranger that
 * the Enrolment Function or Registrar held no key for the id it named (never recorded, revoked and shredded), where a
 * real run makes none. Ephemeral and not extractable: gone with the process, never recorded, never wrapped out. It
 * is no credential's key, and a decoy finish is refused whatever a proof says against it (decoy.ts).
 */
interface Entry {
  readonly made: Promise<KeyHandle>;
  handle?: KeyHandle;
}

const standIns = new WeakMap<OwnedSecureEnvironment, Entry>();

/** This view's stand-in PSK, made now if it has none (concurrent first decoys share one `generate`). */
export const standInPsk = (se: OwnedSecureEnvironment): Promise<KeyHandle> => {
  const known = standIns.get(se);
  if (known !== undefined) return known.made;
  const entry: Entry = {
    made: se.generate('psk256', { ephemeral: true }).then(
      (handle) => {
        entry.handle = handle;
        return handle;
      },
      (error: unknown) => {
        // Not made: the next decoy tries again rather than inherit this failure.
        if (standIns.get(se) === entry) standIns.delete(se);
        throw error;
      },
    ),
  };
  standIns.set(se, entry);
  return entry.made;
};

/**
 * Whether `error` (or the error it wraps, key-gone.ts `keyGoneAt`) is the Secure Environment saying the stand-in
 * `handle` is gone (an operator destroyed it, a token dropped its session objects: the PKCS#11 Secure Environment
 * answers a session object its lost session took `not_found` too, review 187); if so it is forgotten, so that the
 * next decoy makes another. A stand-in made since is kept.
 */
export const forgetStandInIfGone = (se: OwnedSecureEnvironment, handle: KeyHandle, error: unknown): boolean => {
  const gone = (e: unknown): boolean => isKeyNotFound(e) && (e as { problem: { streamId: string } }).problem.streamId === handle;
  if (!gone(error) && !(error instanceof Error && gone(error.cause))) return false;
  if (standIns.get(se)?.handle === handle) standIns.delete(se);
  return true;
};
