import { MAX_LISTED_KEYS, type KeyHandle, type OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';
import type { SayOnStderr } from './folder-lock.ts';
import { readPendingInit } from './pending-init.ts';
import type { SimulatedDevice } from './simulator.ts';

/**
 * The keys a device's Secure Environment stores that no file of its folder names (review 183), destroyed at the start
 * of every command that locks the folder and opens its Secure Environment: `device init` (a rerun on a folder that
 * was there), `provision`, `associate`, `certificate`, and each device of `fleet`. A command killed (Ctrl-C, SIGTERM,
 * a kill) between a key's store and the write that names it (provision's write-ahead, init's pending init), or
 * between the write that stops naming keys and their destroy (associate's earlier session keys, expired entries:
 * held-entries.ts), leaves keys nothing names. A handle exists only once the Secure Environment has stored its key,
 * so no write order closes that moment; comparing what the Secure Environment holds with what the files name does,
 * for whichever command runs next (only provision did, so an init rerun or an associate never removed them).
 */

/** The line a command says on stderr when it destroyed any: how many, never a handle's key. */
const destroyedLine = (dir: string, destroyed: number): string =>
  `destroyed ${destroyed} key(s) of an earlier run that no file named, in ${dir}`;

/**
 * Destroys the owner's stored keys that are not `named`, and says how many through `say` when any went. Run under
 * the folder's lock, so no other command is mid-run, and before this run makes a key. Ephemeral keys (this process's
 * own, gone with it) are left; so is everything when `named` is undefined (a file that may name a key could not be
 * read). A key that will not go stays for the next run. Returns how many went.
 */
export const sweepUnnamedKeys = async (
  at: { readonly dir: string; readonly se: OwnedSecureEnvironment; readonly named: ReadonlySet<string> | undefined; readonly say?: SayOnStderr | undefined },
): Promise<number> => {
  const { se, named } = at;
  if (named === undefined) return 0;
  const unnamed: KeyHandle[] = [];
  let after: KeyHandle | undefined;
  do {
    const page = await se.listKeys({ limit: MAX_LISTED_KEYS, ...(after !== undefined ? { after } : {}) });
    unnamed.push(...page.keys.filter((k) => !k.ephemeral && !named.has(k.handle)).map((k) => k.handle));
    after = page.next;
  } while (after !== undefined);
  let destroyed = 0;
  for (const handle of unnamed) {
    // One the Secure Environment refuses to destroy now is found again by the next run.
    destroyed += await se.destroy(handle).then(() => 1, () => 0);
  }
  if (destroyed > 0) at.say?.(destroyedLine(at.dir, destroyed));
  return destroyed;
};

/**
 * Every key the device's files (its state, a pending init) and its Device in memory name; undefined when a file that
 * may name one cannot be read.
 */
const namedKeys = (sim: SimulatedDevice): ReadonlySet<string> | undefined => {
  let init: ReturnType<typeof readPendingInit>;
  try {
    init = readPendingInit(sim.dir);
  } catch {
    return undefined;
  }
  const { state, device } = sim;
  return new Set<string>([
    state.bootstrap.handle,
    ...state.credentials.map((c) => c.handle),
    ...state.associations.flatMap((a) => [a.sessionKeys.send, a.sessionKeys.receive]),
    ...(state.provisioning !== undefined ? [state.provisioning.handle] : []),
    ...(init !== undefined ? [init.handle] : []),
    // Held in memory and not yet saved (a state that could not be written): named still, never garbage.
    ...(device.bootstrap !== undefined ? [device.bootstrap.handle] : []),
    ...[...device.credentials.values()].map((c) => c.handle),
  ]);
};

/** The sweep for a device opened from its folder (openDevice), said through the command's stderr it was opened with. */
export const destroyUnnamedKeys = (sim: SimulatedDevice): Promise<number> =>
  sweepUnnamedKeys({ dir: sim.dir, se: sim.device.se, named: namedKeys(sim), say: sim.say });
