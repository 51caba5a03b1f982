import { validityAt } from '../../../domain/crypto/credential.ts';
import { validationError } from '../../../domain/errors.ts';
import { destroyQuietly } from '../../../adapters/protocols/shared/index.ts';
import { saveState } from './pending-provisioning.ts';
import type { SimulatedDevice } from './simulator.ts';
import { MAX_ENTRIES, stateFile, type HeldAssociation } from './state.ts';

/**
 * device.json keeps at most MAX_ENTRIES credentials and as many associations, and nothing removed an entry once it
 * ended (review 183): past 1,000 associations every `device associate` ran its handshake, the Registrar recorded the
 * association, then the state could not be written and the new keys were destroyed, a live association the device
 * holds no keys for. Expired entries are dropped before a run, and a run with no room left is refused before
 * anything is sent. An entry is dropped by writing the state without it first, then destroying its keys: a run that
 * dies between the two leaves keys no state names, never a state naming a destroyed key (as associate() does).
 */

const hasExpired = (a: HeldAssociation, at: Date): boolean => Date.parse(a.expiresAt) <= at.getTime();

/** Drops the associations past their end, by the device's clock, and then their session keys. */
export const dropExpiredAssociations = async (sim: SimulatedDevice): Promise<void> => {
  const at = sim.now();
  const gone = sim.state.associations.filter((a) => hasExpired(a, at));
  if (gone.length === 0) return;
  saveState(
    sim,
    { ...sim.state, associations: sim.state.associations.filter((a) => !hasExpired(a, at)) },
    `its ${gone.length} expired association(s) stay named there with their session keys, and nothing was sent`,
  );
  await destroyQuietly(sim.device.se, ...gone.flatMap((a) => [a.sessionKeys.send, a.sessionKeys.receive]));
};

/**
 * Drops the credentials past their validity, by the device's clock, and then their keys; never one an unexpired
 * association still names (the Registrar cuts an association to its credential, so that is a state edited by hand).
 */
export const dropExpiredCredentials = async (sim: SimulatedDevice): Promise<void> => {
  const at = sim.now();
  const used = new Set(sim.state.associations.filter((a) => !hasExpired(a, at)).map((a) => a.credentialId));
  const gone = [...sim.device.credentials].filter(([id, c]) => validityAt(c.descriptor.validity, at) === 'expired' && !used.has(id));
  if (gone.length === 0) return;
  // The state's credentials are written from the Device's (simulator.ts save): dropped there, put back if unsaved.
  for (const [id] of gone) sim.device.credentials.delete(id);
  try {
    saveState(sim, sim.state, `its ${gone.length} expired credential(s) stay named there with their keys, and nothing was sent`);
  } catch (error) {
    for (const [id, c] of gone) sim.device.credentials.set(id, c);
    throw error;
  }
  await destroyQuietly(sim.device.se, ...gone.map(([, c]) => c.handle));
};

/** No room for one more of `what`: said before anything is sent, with when a place frees and what to do. */
const full = (sim: SimulatedDevice, what: 'associations' | 'credentials', held: number, earliestEnd: string, adding: string, remedy: string) =>
  validationError(
    [{
      path: what, rule: 'capacity',
      message: `${stateFile(sim.dir)} holds ${held} unexpired ${what}, the most it keeps (${MAX_ENTRIES}), so ${adding} could not be kept; nothing was sent: ` +
        `the earliest ends at ${earliestEnd}, and its place frees then (expired ${what} and their keys are dropped before each run): ${remedy}`,
    }],
    'device folder',
  );

const earliest = (instants: readonly string[]): string => instants.reduce((a, b) => (Date.parse(b) < Date.parse(a) ? b : a));

/** Refuses an association the state has no room for (one under the same id is replaced, so it takes no new place). */
export const assertRoomForAssociation = (sim: SimulatedDevice, associationId: string): void => {
  const others = sim.state.associations.filter((a) => a.associationId !== associationId);
  if (others.length < MAX_ENTRIES) return;
  throw full(sim, 'associations', others.length, earliest(others.map((a) => a.expiresAt)), `association ${associationId}`,
    'run device associate again after that, or ask for shorter associations with --lifetime');
};

/** Refuses a credential the state has no room for; one the device holds already takes no new place. */
export const assertRoomForCredential = (sim: SimulatedDevice, credentialId: string | undefined): void => {
  const { credentials } = sim.device;
  if (credentialId === undefined || credentials.has(credentialId) || credentials.size < MAX_ENTRIES) return;
  throw full(sim, 'credentials', credentials.size, earliest([...credentials.values()].map((c) => c.descriptor.validity.notAfter)), `credential ${credentialId}`,
    'run device provision again after that');
};
