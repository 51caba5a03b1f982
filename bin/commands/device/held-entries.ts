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
 * holds no keys for. So a run with no room left is refused before anything is sent, once the entries ended by the
 * device's clock are dropped. Only then: that clock alone is no word that an entry ended (review 207: a clock jumped
 * ahead destroyed, before every run and silently, the keys of entries the server held live), so an ended entry is
 * kept until its place is needed, and each one dropped is named on stderr (ids only) with why. An entry is dropped by
 * writing the state without it first, then destroying its keys: a run that dies between the two leaves keys no state
 * names, never a state naming a destroyed key (as associate() does).
 */

const hasExpired = (a: HeldAssociation, at: Date): boolean => Date.parse(a.expiresAt) <= at.getTime();

/** The line said on stderr for the entries dropped: their ids, the clock that judged them, and what to check. */
const droppedLine = (sim: SimulatedDevice, what: 'association' | 'credential', ids: readonly string[], at: Date): string =>
  `dropped ${ids.length} ${what}(s) ended by this device's clock (${at.toISOString()}), and destroyed their keys, to make room in ` +
  `${stateFile(sim.dir)} (it keeps ${MAX_ENTRIES}): ${ids.join(', ')}; were that clock wrong, the server may still hold them live: ` +
  'check them with an operator, and revoke those it holds';

/** Drops the associations past their end, by the device's clock, and then their session keys; says which. */
const dropExpiredAssociations = async (sim: SimulatedDevice): Promise<void> => {
  const at = sim.now();
  const gone = sim.state.associations.filter((a) => hasExpired(a, at));
  if (gone.length === 0) return;
  saveState(
    sim,
    { ...sim.state, associations: sim.state.associations.filter((a) => !hasExpired(a, at)) },
    `its ${gone.length} expired association(s) stay named there with their session keys, and nothing was sent`,
  );
  await destroyQuietly(sim.device.se, ...gone.flatMap((a) => [a.sessionKeys.send, a.sessionKeys.receive]));
  sim.say?.(droppedLine(sim, 'association', gone.map((a) => a.associationId), at));
};

/**
 * Drops the credentials past their validity, by the device's clock, and then their keys; never one an unexpired
 * association still names (the Registrar cuts an association to its credential, so that is a state edited by hand).
 * Says which.
 */
const dropExpiredCredentials = async (sim: SimulatedDevice): Promise<void> => {
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
  sim.say?.(droppedLine(sim, 'credential', gone.map(([id]) => id), at));
};

/** No room for one more of `what`: said before anything is sent, with when a place frees and what to do. */
const full = (sim: SimulatedDevice, what: 'associations' | 'credentials', held: number, earliestEnd: string, adding: string, remedy: string) =>
  validationError(
    [{
      path: what, rule: 'capacity',
      message: `${stateFile(sim.dir)} holds ${held} unexpired ${what}, the most it keeps (${MAX_ENTRIES}), so ${adding} could not be kept; nothing was sent: ` +
        `the earliest ends at ${earliestEnd}, and its place frees then (expired ${what} and their keys are dropped when no room is left): ${remedy}`,
    }],
    'device folder',
  );

const earliest = (instants: readonly string[]): string => instants.reduce((a, b) => (Date.parse(b) < Date.parse(a) ? b : a));

/** The associations other than `associationId` (one under the same id is replaced, so it takes no new place). */
const othersThan = (sim: SimulatedDevice, associationId: string): readonly HeldAssociation[] =>
  sim.state.associations.filter((a) => a.associationId !== associationId);

/**
 * Makes room for association `associationId` (one under the same id takes no new place): when there is none, the
 * associations ended by the device's clock are dropped, and a state still full is refused before anything is sent.
 */
export const roomForAssociation = async (sim: SimulatedDevice, associationId: string): Promise<void> => {
  if (othersThan(sim, associationId).length < MAX_ENTRIES) return;
  await dropExpiredAssociations(sim);
  const others = othersThan(sim, associationId);
  if (others.length < MAX_ENTRIES) return;
  throw full(sim, 'associations', others.length, earliest(others.map((a) => a.expiresAt)), `association ${associationId}`,
    'run device associate again after that, or ask for shorter associations with --lifetime');
};

/** Whether the device has room for `credentialId`: none to make (undefined), one it holds already, or a free place. */
const hasRoomForCredential = (sim: SimulatedDevice, credentialId: string | undefined): boolean =>
  credentialId === undefined || sim.device.credentials.has(credentialId) || sim.device.credentials.size < MAX_ENTRIES;

/**
 * Makes room for credential `credentialId` (none when undefined; one the device holds already takes no new place):
 * when there is none, the credentials ended by the device's clock are dropped, and a state still full is refused
 * before anything is sent.
 */
export const roomForCredential = async (sim: SimulatedDevice, credentialId: string | undefined): Promise<void> => {
  if (hasRoomForCredential(sim, credentialId)) return;
  await dropExpiredCredentials(sim);
  if (hasRoomForCredential(sim, credentialId)) return;
  const { credentials } = sim.device;
  throw full(sim, 'credentials', credentials.size, earliest([...credentials.values()].map((c) => c.descriptor.validity.notAfter)), `credential ${credentialId}`,
    'run device provision again after that');
};
