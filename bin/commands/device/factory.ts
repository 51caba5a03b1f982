import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { clientCommandId } from '../../../domain/event-ids.ts';
import { toBase64url } from '../../../domain/crypto/base64url.ts';
import { publicKeyFingerprint } from '../../../domain/crypto/fingerprint.ts';
import type { CredentialKind } from '../../../domain/crypto/credential.ts';
import { validationError } from '../../../domain/errors.ts';
import { refusedForGood } from '../../../adapters/client/refused-for-good.ts';
import { DEFAULT_MAX_CLOCK_SKEW_SECONDS } from '../../../domain/protocols/clock-skew.ts';
import { entityReadUnanswered, isEntityAbsent } from '../../../adapters/client/entity-absent.ts';
import { fetchPinnedInfrastructure } from '../../../adapters/client/device/index.ts';
import { Device } from '../../../adapters/protocols/procedures/index.ts';
import { MAX_ENTITY_BYTES } from '../../../adapters/client/operator.ts';
import { clientOf, type ServerTarget } from '../options.ts';
import { now, openDeviceSecureEnvironment, random } from './simulator.ts';
import { readServerTime } from './server-clock.ts';
import { forgetPendingInit, readPendingInit, writePendingInit, type PendingInit } from './pending-init.ts';
import { sweepUnnamedKeys } from './unnamed-keys.ts';
import { DEVICE_LOCK_DB_FILE } from '../../../adapters/driven/files/index.ts';
import { DEVICE_LOCK_FILE, lockDeviceFolder, makeDeviceFolder, type SayOnStderr } from './folder-lock.ts';
import { DEVICE_FILE_VERSION, hasState, writeState, type DeviceState } from './state.ts';
import { operatorCommand, transportOf, type OperatorTarget } from './steps.ts';

/**
 * A device's first moment against a server, at the factory (seed 004): its bootstrap key made in its Secure
 * Environment, the infrastructure pinned, and its node and bootstrap credential recorded over the operator API (with a
 * token). Remote provisioning and the association handshake, over the device routes, are in steps.ts.
 */

export const NodeProfile = z.strictObject({
  class: z.string().min(1).max(100),
  manufacturer: z.string().min(1).max(100),
  model: z.string().min(1).max(100),
  capabilities: z.array(z.string().min(1).max(100)).max(32),
});
export type NodeProfile = z.infer<typeof NodeProfile>;

export interface FactoryRequest {
  readonly dir: string;
  readonly nodeId: string;
  readonly kind: Exclude<CredentialKind, 'psk256'>;
  readonly profile: NodeProfile;
  readonly bootstrapCredentialId: string;
  readonly validForSeconds: number;
}

/** Files of a Credence data folder: a device's Secure Environment must never be opened among the infrastructure's keys. */
const DATA_FOLDER_FILES = ['events.db', 'access.db', 'keys.db', 'readmodels.db', 'service.lock', 'service-lock.db'];

/**
 * Refused unless the server knows no entity `kind`/`id` yet (its own 404 not_found, entity-absent.ts): `device init`
 * registers new ones only. Any other 404 leaves the check unmade, and the refusal says which check and what to do.
 */
const mustBeNew = async (target: ServerTarget, kind: 'node' | 'credential', id: string, path: string): Promise<void> => {
  try {
    // Read as the entity it must be: any other 2xx answer is unexpected, not a sign the id is taken.
    await clientOf(target).entity(kind, id, MAX_ENTITY_BYTES);
  } catch (error) {
    if (isEntityAbsent(error)) return;
    throw entityReadUnanswered(error, `device init's check that ${kind} ${id} is unused`, 'device init');
  }
  throw validationError([{ path, rule: 'unused', message: `the server already holds ${kind} ${id}: choose another` }], 'device init');
};

/**
 * Initialization at the factory (seed 004): the bootstrap key generated inside the device's Secure Environment,
 * the infrastructure's keys pinned, then the node registered and its bootstrap credential issued and provisioned
 * (pre-provisioning) through the operator API. The node and credential ids are checked unused first, then the device's
 * clock against the server's (clockAgreesWithServer): nothing is made or sent from a clock the server would refuse. Each command's
 * id is derived from what it records, and the key and what was sent are kept (pending-init.ts) until the state is
 * written: an init whose outcome is unknown (an answer lost in transit, the state unwritable) is finished by running
 * it again, with the same key and so the same commands (found in review: a rerun was refused, its node left with a
 * credential whose key was gone). A refusal by the server destroys the new key and writes no state: a folder this
 * run made is removed, and in a folder that was there before, the files this run put in it (its Secure Environment's,
 * its lock's), and only those. The pins are fetched before the Secure Environment is opened, so a refused pin makes
 * none (found in review 126: a refused init left a KEK and a database in an existing folder). The folder is locked
 * from right after it is made (or found) to the end; while another command holds it, the init is refused before
 * anything is sent, and the folder left as it is. The temps of interrupted writes the lock's sweep removed (an
 * unfinished init's folder may hold some) are said through `say`, and so are the keys of this node no file named
 * (an init killed before its pending init was written) that it destroys before it makes one.
 */
export const factory = async (target: OperatorTarget, r: FactoryRequest, onUnfinished?: () => void, say?: SayOnStderr): Promise<DeviceState> => {
  mustBeNewDevice(r.dir);
  const infrastructure = DATA_FOLDER_FILES.find((f) => existsSync(join(r.dir, f)));
  if (infrastructure !== undefined) {
    throw validationError(
      [{ path: 'dir', rule: 'not_a_data_folder', message: `${r.dir} is a Credence data folder (it holds ${infrastructure}): a device's keys live in a folder of their own` }],
      'device folder',
    );
  }
  // Made by this very run or not, then locked before anything else (folder-lock.ts): only the run that made the
  // folder may remove it, and only while it holds the lock, so a losing init never removes the one that won.
  const before = existsSync(r.dir) ? new Set(readdirSync(r.dir)) : undefined;
  const made = makeDeviceFolder(r.dir);
  const lock = lockDeviceFolder(r.dir, say);
  let ours: ReturnType<typeof filesOfThisRun> | undefined;
  let keep = false;
  let se: ReturnType<typeof openDeviceSecureEnvironment> | undefined;
  try {
    if (!made) ours = filesOfThisRun(r.dir, before);
    // Another init may have finished between the check above and the lock.
    mustBeNewDevice(r.dir);
    const registration = JSON.stringify(registerData(r));
    const unfinished = readPendingInit(r.dir);
    // The same init in every respect, or another one: its key kind and validity too (a rerun must not change them).
    const differing = unfinished === undefined ? [] : initDifferences(unfinished, r, registration);
    if (unfinished !== undefined && differing.length > 0) {
      throw validationError(
        [{
          path: 'dir',
          rule: 'unfinished-init',
          message: `${r.dir} holds an unfinished init of node ${unfinished.nodeId} (bootstrap ${unfinished.bootstrapCredentialId}), which this run differs from in ${differing.join(', ')}: run that same init again to finish it`,
        }],
        'device folder',
      );
    }
    // A rerun of an unfinished init finds its own commands recorded, or not yet: they are the same ones, under the same
    // ids.
    if (unfinished === undefined) {
      await mustBeNew(target, 'node', r.nodeId, 'nodeId');
      await mustBeNew(target, 'credential', r.bootstrapCredentialId, 'bootstrapId');
    }
    // Before any key is made or command sent: a clock the server's protocols refuse is said now (review 207).
    const serverAt = await clockAgreesWithServer(target);
    const pinned = await fetchPinnedInfrastructure(transportOf(target));
    se = openDeviceSecureEnvironment(r.dir);
    const device = new Device({ nodeId: r.nodeId, se, now, random });
    // An init killed between its key's generate and its pending init's write left a key no file names: gone before
    // this run makes one, the key a pending init names kept (an unreadable one refused the run above, unnamed-keys.ts).
    await sweepUnnamedKeys({ dir: r.dir, se: device.se, named: new Set(unfinished !== undefined ? [unfinished.handle] : []), say });
    let pending = unfinished;
    if (pending !== undefined) await mustHoldPendingKey(device, r.dir, pending);
    if (pending === undefined) {
      // The earlier of the two clocks: a device ahead within the skew would otherwise hold a bootstrap credential the
      // server takes as not yet valid for minutes. The length is the one asked for, as a rerun checks (sameInit).
      const deviceAt = now();
      const notBefore = serverAt !== undefined && serverAt < deviceAt ? serverAt : deviceAt;
      const validity = { notBefore: notBefore.toISOString(), notAfter: new Date(notBefore.getTime() + r.validForSeconds * 1000).toISOString() };
      const bootstrap = await device.generateBootstrap(r.kind, validity);
      pending = { version: 1, nodeId: r.nodeId, bootstrapCredentialId: r.bootstrapCredentialId, registration, handle: bootstrap.handle, descriptor: bootstrap.descriptor, validity };
      try {
        writePendingInit(r.dir, pending);
      } catch (error) {
        await device.se.destroy(bootstrap.handle);
        throw error;
      }
    }
    const { descriptor, validity, handle } = pending;
    try {
      await operatorCommand(target, 'registerNode', registerData(r), registerCommandId(r));
      const keyed = `${registerCommandId(r)}|${descriptor.fingerprint}`;
      await operatorCommand(target, 'issueCredential', {
        credentialId: r.bootstrapCredentialId, kind: descriptor.kind, purpose: 'bootstrap', owner: { kind: 'node', id: r.nodeId },
        fingerprint: descriptor.fingerprint, ...(descriptor.kind !== 'psk256' ? { publicKey: descriptor.publicKey } : {}), ...validity,
      }, clientCommandId('device-init/issue', keyed));
      await operatorCommand(target, 'provisionCredential', { credentialId: r.bootstrapCredentialId, method: 'pre-provisioning' }, clientCommandId('device-init/provision', keyed));
    } catch (error) {
      // The server refused the command (a 4xx it would give again): nothing more can come of this key. Any other
      // failure (no answer, a 5xx, a proxy's own 4xx, 408, 429, the token refused) leaves the init to finish:
      // the key and the pending init stay for a rerun (found in review: a proxy's 504 after the credential was
      // recorded destroyed its key).
      if (!refusedForGood(error) || (await serverMayHoldKey(target, r.bootstrapCredentialId, descriptor.fingerprint))) {
        keep = true;
        onUnfinished?.();
      } else {
        await device.se.destroy(handle);
        forgetPendingInit(r.dir);
      }
      throw error;
    }
    // From here the server holds the credential: its key is never thrown away, whatever happens to the state.
    keep = true;
    const state: DeviceState = {
      version: DEVICE_FILE_VERSION,
      nodeId: r.nodeId,
      bootstrap: { credentialId: r.bootstrapCredentialId, handle, descriptor },
      pinned,
      credentials: [],
      associations: [],
    };
    writeState(r.dir, state);
    forgetPendingInit(r.dir);
    return state;
  } finally {
    try {
      se?.close();
      if (!keep && made) rmSync(r.dir, { recursive: true, force: true });
      // Still under the lock: no other command writes the folder meanwhile.
      if (!keep && ours !== undefined) ours.remove();
    } finally {
      lock.release();
    }
  }
};

/**
 * What a refused init in a folder that was there before (`before`, listed before its lock was taken) removes: every
 * file made in it from when the lock is held (its Secure Environment's, a pending init) and the lock's own database
 * if this run made it. Were anything else new when the lock was taken, another run wrote the folder in between, and
 * the lock's database may be that run's: it stays. The holder file goes with the lock's release.
 */
const filesOfThisRun = (dir: string, before: ReadonlySet<string> | undefined): { remove(): void } => {
  const locked = new Set(readdirSync(dir));
  const lockFiles = [DEVICE_LOCK_DB_FILE, `${DEVICE_LOCK_DB_FILE}-journal`, DEVICE_LOCK_FILE];
  const others = [...locked].filter((name) => !lockFiles.includes(name) && before?.has(name) !== true);
  const lockMadeHere = before !== undefined && !before.has(DEVICE_LOCK_DB_FILE) && others.length === 0;
  return {
    remove: () => {
      for (const name of readdirSync(dir)) {
        if (name === DEVICE_LOCK_FILE || name.startsWith(DEVICE_LOCK_DB_FILE)) continue;
        if (!locked.has(name)) rmSync(join(dir, name), { recursive: true, force: true });
      }
      if (lockMadeHere) rmSync(join(dir, DEVICE_LOCK_DB_FILE), { force: true });
    },
  };
};

/**
 * The server's time (server-clock.ts: the Date header of its answer to the device-facing pin route), refused when
 * the device's clock is certainly further from it than the skew the server's protocols accept
 * (clock-skew.ts): a bootstrap credential dated by such a clock is refused once its node is registered (years behind:
 * the node was left orphaned), or is valid only years later (ahead), and every hello of such a device is stale. The
 * device's clock is read before and after the request, and the header stands for a whole second, so only a skew past
 * the bound at every point of that span is refused. An answer without a readable Date header (or a refusal, which the
 * init's own checks then report) leaves the check unmade: undefined.
 */
const clockAgreesWithServer = async (target: ServerTarget): Promise<Date | undefined> => {
  const reading = await readServerTime(target);
  if (reading === undefined) return undefined;
  const { serverMs, sent, answered } = reading;
  const maxMs = DEFAULT_MAX_CLOCK_SKEW_SECONDS * 1000;
  const behind = serverMs - answered > maxMs;
  const ahead = sent - (serverMs + 999) > maxMs;
  if (behind || ahead) {
    const deviceAt = new Date(answered).toISOString();
    const serverAt = new Date(serverMs).toISOString();
    const apart = Math.round(Math.abs(answered - serverMs) / 1000);
    throw validationError(
      [{
        path: 'clock',
        rule: 'clock_skew',
        message: `the device's clock says ${deviceAt}, the server's ${serverAt}: ${apart} s ${behind ? 'behind' : 'ahead'}, past the ${DEFAULT_MAX_CLOCK_SKEW_SECONDS} s the server accepts; set the device's clock, then run device init again (this run made and sent nothing)`,
      }],
      'device clock',
    );
  }
  return new Date(serverMs);
};

/** Refused when `dir` holds a device already: a folder is one device for its whole life. */
const mustBeNewDevice = (dir: string): void => {
  if (hasState(dir)) throw validationError([{ path: 'dir', rule: 'new-device', message: `${dir} already holds a device` }], 'device folder');
};

/**
 * Whether the server may bind the bootstrap credential to this key already: a refusal is no reason to destroy a key
 * the server holds as a device's (found in review: an init left pending by an earlier version, whose commands were
 * recorded under other ids, was rerun, refused as a second registration, and its key destroyed while the server kept
 * the credential). Only an answer that the credential is absent or names another key lets the key go.
 */
const serverMayHoldKey = async (target: ServerTarget, credentialId: string, fingerprint: string): Promise<boolean> => {
  try {
    const credential = await clientOf(target).entity('credential', credentialId, MAX_ENTITY_BYTES);
    const context = credential.context as { readonly fingerprint?: unknown } | null;
    return context?.fingerprint === fingerprint;
  } catch (error) {
    return !isEntityAbsent(error);
  }
};

/**
 * The key an unfinished init names must be in this folder's Secure Environment and be the key it describes: a wiped
 * or restored Secure Environment, or an edited pending file, would have the server bind the bootstrap credential to a
 * key the device does not hold (found in review: the rerun succeeded, with another key's fingerprint).
 */
const mustHoldPendingKey = async (device: Device, dir: string, pending: PendingInit): Promise<void> => {
  const held = await device.se.describe(pending.handle).catch(() => undefined);
  const { descriptor } = pending;
  const same =
    held?.publicKey !== undefined &&
    descriptor.kind !== 'psk256' &&
    descriptor.publicKey === toBase64url(held.publicKey) &&
    descriptor.fingerprint === publicKeyFingerprint(descriptor.kind, held.publicKey);
  if (!same) {
    throw validationError(
      [{ path: 'dir', rule: 'unfinished-init-key', message: `${dir}: the unfinished init's bootstrap key ${pending.handle} is not in this folder's Secure Environment as it describes it; it cannot be finished` }],
      'device folder',
    );
  }
};

/** The registration an unfinished init sent (registerData), read back to name what a rerun changes. */
const SentRegistration = z.looseObject({ nodeId: z.string(), profile: NodeProfile, bootstrapCredentialId: z.string() });

const UNITS = [['y', 365 * 86_400], ['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const;

/** A length in seconds as --valid-for takes it: the largest unit that divides it (`1d`, not `86400s`). */
const asDuration = (ms: number): string => {
  if (ms % 1000 !== 0) return `${ms / 1000}s`;
  const seconds = ms / 1000;
  const [unit, size] = UNITS.find(([, size]) => seconds % size === 0) ?? ['s', 1];
  return `${seconds / size}${unit}`;
};

/**
 * Each option in which `r` differs from the unfinished init `p`, as `--option <pending value> (this run: <value>)`:
 * public values only (ids, profile, key kind, validity length). Empty when it is the same init (review 302: a rerun
 * differing in the profile, --valid-for or --kind was refused without saying which option).
 */
const initDifferences = (p: PendingInit, r: FactoryRequest, registration: string): string[] => {
  const differs = (option: string, pending: string, asked: string) => (pending === asked ? [] : [`${option} ${pending} (this run: ${asked})`]);
  const sent = SentRegistration.safeParse((() => {
    try {
      return JSON.parse(p.registration) as unknown;
    } catch {
      return undefined;
    }
  })());
  const profile = sent.success
    ? [
        ...differs('--class', sent.data.profile.class, r.profile.class),
        ...differs('--model', sent.data.profile.model, r.profile.model),
        ...differs('--manufacturer', sent.data.profile.manufacturer, r.profile.manufacturer),
        ...differs('--capability', sent.data.profile.capabilities.join(' '), r.profile.capabilities.join(' ')),
      ]
    : [];
  const found = [
    ...differs('--node-id', p.nodeId, r.nodeId),
    ...differs('--bootstrap-id', p.bootstrapCredentialId, r.bootstrapCredentialId),
    ...profile,
    ...differs('--kind', p.descriptor.kind, r.kind),
    ...differs('--valid-for', asDuration(Date.parse(p.validity.notAfter) - Date.parse(p.validity.notBefore)), asDuration(r.validForSeconds * 1000)),
  ];
  // A registration that differs in nothing named above (one an earlier build wrote another way) is still another init.
  if (found.length === 0 && p.registration !== registration) return ['the registration it sent (its node profile)'];
  return found;
};

const registerData = (r: FactoryRequest) => ({ nodeId: r.nodeId, profile: r.profile, bootstrapCredentialId: r.bootstrapCredentialId });

/** The registration's command id: the same init (node, profile, bootstrap id) sends the same one, whatever its key. */
const registerCommandId = (r: FactoryRequest): string => clientCommandId('device-init/register', JSON.stringify(registerData(r)));
