import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { clientCommandId } from '../../../domain/event-ids.ts';
import { toBase64url } from '../../../domain/crypto/base64url.ts';
import { publicKeyFingerprint } from '../../../domain/crypto/fingerprint.ts';
import type { CredentialKind } from '../../../domain/crypto/credential.ts';
import { validationError } from '../../../domain/errors.ts';
import { COMMAND_CATALOG, type CommandType } from '../../../domain/commands/index.ts';
import { ENTITY_ID_FIELD, EVENT_KIND } from '../../../domain/events/index.ts';
import { streamIdOf } from '../../../domain/streams.ts';
import { UnexpectedResponse } from '../../../adapters/client/http.ts';
import { refusedForGood } from '../../../adapters/client/refused-for-good.ts';
import { isServiceProblem } from '../../../adapters/client/service-problem.ts';
import type { CommandOutcomeJson } from '../../../adapters/client/operator.ts';
import {
  associateOverHttp, fetchPinnedInfrastructure, httpDeviceTransport, provisionOverHttp, ReceiptOutcomeUnknown, type DeviceTransport,
} from '../../../adapters/client/device/index.ts';
import { Device, type ProvisioningRecorded } from '../../../adapters/protocols/procedures/index.ts';
import { destroyQuietly } from '../../../adapters/protocols/shared/index.ts';
import { clientOf, type ServerTarget } from '../options.ts';
import { now, openDeviceSecureEnvironment, random, type SimulatedDevice } from './simulator.ts';
import { clearPending, settlePendingProvisioning, writeAhead, type AdoptedCredential } from './pending-provisioning.ts';
import { forgetPendingInit, readPendingInit, writePendingInit, type PendingInit } from './pending-init.ts';
import { lockDeviceFolder, makeDeviceFolder } from './folder-lock.ts';
import { hasState, stateFile, writeState, type DeviceState } from './state.ts';

/**
 * The device's three moments against a server, shared by the single commands and the fleet: the factory (over the
 * operator API, with a token), remote provisioning and the association handshake (over the device routes, no token).
 */

export const NodeProfile = z.strictObject({
  class: z.string().min(1).max(100),
  manufacturer: z.string().min(1).max(100),
  model: z.string().min(1).max(100),
  capabilities: z.array(z.string().min(1).max(100)).max(32),
});
export type NodeProfile = z.infer<typeof NodeProfile>;

/**
 * One operator command through POST /v1/commands (the actor is the token's subject, never sent), and its outcome.
 * The answer must be this command's outcome: its command id when one was sent, the stream of the entity the data
 * names, and only the fact the catalog says the command records. Any other 2xx answer (a proxy's maintenance page,
 * another command's outcome) is an `UnexpectedResponse`, an outcome not known, never a success (found in review: a
 * 200 HTML page made `device init` report the device initialised while the server had recorded nothing).
 */
export const operatorCommand = async (target: ServerTarget, type: CommandType, data: Record<string, unknown>, commandId?: string): Promise<CommandOutcomeJson> => {
  const { outcome } = await clientOf(target).command({ type, data, ...(commandId !== undefined ? { commandId } : {}) });
  const mismatch = outcomeMismatch(type, data, commandId, outcome);
  if (mismatch !== undefined) throw new UnexpectedResponse(`POST /v1/commands (${type})`, mismatch);
  return outcome;
};

/** What makes `outcome` not the outcome of this command, naming the field; undefined when it is. */
const outcomeMismatch = (type: CommandType, data: Record<string, unknown>, commandId: string | undefined, outcome: CommandOutcomeJson): string | undefined => {
  const event = COMMAND_CATALOG[type].event;
  const kind = EVENT_KIND[event];
  const streamId = streamIdOf(kind, String(data[ENTITY_ID_FIELD[kind]]));
  if (commandId !== undefined && outcome.commandId !== commandId) return `commandId: ${outcome.commandId}, not the ${commandId} sent`;
  if (outcome.streamId !== streamId) return `streamId: ${outcome.streamId}, not ${streamId}`;
  if (outcome.events.length === 0) return `events: none, where ${type} records ${event}`;
  const other = outcome.events.findIndex((e) => e.type !== event || (e.streamId !== undefined && e.streamId !== streamId));
  if (other >= 0) return `events.${other}: ${outcome.events[other]!.type} on ${outcome.events[other]!.streamId ?? streamId}, where ${type} records ${event} on ${streamId}`;
  return undefined;
};

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
 * Whether `error` is the service's own answer that the entity read is absent (404 not_found): a gateway's 404 page, or
 * any other 404, may come from in front of a service that holds it (found in review: a gateway's HTML 404 to the read
 * of the bootstrap credential let `device init` destroy a key the server held).
 */
const isAbsent = (error: unknown): boolean => isServiceProblem(error, 'not_found') && error.status === 404;

/** Refused unless the server knows no entity `kind`/`id` yet (404): `device init` registers new ones only. */
const mustBeNew = async (target: ServerTarget, kind: 'node' | 'credential', id: string, path: string): Promise<void> => {
  try {
    // Read as the entity it must be: any other 2xx answer is unexpected, not a sign the id is taken.
    await clientOf(target).entity(kind, id);
  } catch (error) {
    if (isAbsent(error)) return;
    throw error;
  }
  throw validationError([{ path, rule: 'unused', message: `the server already holds ${kind} ${id}: choose another` }], 'device init');
};

/**
 * Initialization at the factory (seed 004): the bootstrap key generated inside the device's Secure Environment,
 * the infrastructure's keys pinned, then the node registered and its bootstrap credential issued and provisioned
 * (pre-provisioning) through the operator API. The node and credential ids are checked unused first. Each command's
 * id is derived from what it records, and the key and what was sent are kept (pending-init.ts) until the state is
 * written: an init whose outcome is unknown (an answer lost in transit, the state unwritable) is finished by running
 * it again, with the same key and so the same commands (found in review: a rerun was refused, its node left with a
 * credential whose key was gone). A refusal by the server destroys the new key and writes no state: a folder this
 * run made is removed. The folder is locked from right after it is made (or found) to the end; while another command
 * holds it, the init is refused before anything is sent, and the folder left as it is.
 */
export const factory = async (target: ServerTarget, r: FactoryRequest, onUnfinished?: () => void): Promise<DeviceState> => {
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
  const made = makeDeviceFolder(r.dir);
  const lock = lockDeviceFolder(r.dir);
  let keep = false;
  let se: ReturnType<typeof openDeviceSecureEnvironment> | undefined;
  try {
    // Another init may have finished between the check above and the lock.
    mustBeNewDevice(r.dir);
    const registration = JSON.stringify(registerData(r));
    const unfinished = readPendingInit(r.dir);
    // The same init in every respect, or another one: its key kind and validity too (a rerun must not change them).
    const sameInit = (p: PendingInit): boolean =>
      p.nodeId === r.nodeId &&
      p.bootstrapCredentialId === r.bootstrapCredentialId &&
      p.registration === registration &&
      p.descriptor.kind === r.kind &&
      Date.parse(p.validity.notAfter) - Date.parse(p.validity.notBefore) === r.validForSeconds * 1000;
    if (unfinished !== undefined && !sameInit(unfinished)) {
      throw validationError(
        [{ path: 'dir', rule: 'unfinished-init', message: `${r.dir} holds an unfinished init of node ${unfinished.nodeId} (bootstrap ${unfinished.bootstrapCredentialId}): run that same init again to finish it` }],
        'device folder',
      );
    }
    // A rerun of an unfinished init finds its own commands recorded, or not yet: they are the same ones, under the same ids.
    if (unfinished === undefined) {
      await mustBeNew(target, 'node', r.nodeId, 'nodeId');
      await mustBeNew(target, 'credential', r.bootstrapCredentialId, 'bootstrapId');
    }
    se = openDeviceSecureEnvironment(r.dir);
    const pinned = await fetchPinnedInfrastructure(transportOf(target));
    const device = new Device({ nodeId: r.nodeId, se, now, random });
    let pending = unfinished;
    if (pending !== undefined) await mustHoldPendingKey(device, r.dir, pending);
    if (pending === undefined) {
      const notBefore = now();
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
      version: 1,
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
    } finally {
      lock.release();
    }
  }
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
    const credential = await clientOf(target).entity('credential', credentialId);
    const context = credential.context as { readonly fingerprint?: unknown } | null;
    return context?.fingerprint === fingerprint;
  } catch (error) {
    return !isAbsent(error);
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

const registerData = (r: FactoryRequest) => ({ nodeId: r.nodeId, profile: r.profile, bootstrapCredentialId: r.bootstrapCredentialId });

/** The registration's command id: the same init (node, profile, bootstrap id) sends the same one, whatever its key. */
const registerCommandId = (r: FactoryRequest): string => clientCommandId('device-init/register', JSON.stringify(registerData(r)));


/** The server of the device routes (no token), and how long each answer may take (the client's default when absent). */
export interface DeviceServer {
  readonly url: string;
  readonly timeoutMs?: number | undefined;
}

/** A device's connection to `server`: its URL alone keeps the client's default timeout. */
const transportOf = (server: string | DeviceServer): DeviceTransport =>
  typeof server === 'string' ? httpDeviceTransport(server) : httpDeviceTransport(server.url, { timeoutMs: server.timeoutMs });

/** A receipt whose outcome is not known: the key is kept, named as pending in the state file; the cause's message, never a secret. */
const outcomeUnknown = (sim: SimulatedDevice, error: ReceiptOutcomeUnknown) =>
  validationError(
    [{
      path: 'dir', rule: 'provision-outcome-unknown',
      message: `${error.message}; the new key is kept, named as pending in ${stateFile(sim.dir)}: ` +
        'run device provision again with an operator token (--token-file, --token or CREDENCE_TOKEN) to settle it by its fingerprint',
    }],
    'device folder',
  );

/**
 * Remote provisioning of one credential. An earlier run left pending is settled first (`checkWith`, an operator
 * token, lets the server be asked whether it recorded it); asked for that same credential, its adoption is the
 * answer. The new key is named in the state before the receipt is sent (write-ahead), and the state holding the
 * credential is written once the server recorded it: a failure to write it is an error naming the state file, the
 * key kept and named as pending for a rerun to adopt. So is a receipt whose outcome is not known (no answer, a 5xx,
 * a 2xx that fails a local check): only the server's refusal of the receipt destroys the key and clears the record.
 */
export const provision = async (
  server: string | DeviceServer,
  sim: SimulatedDevice,
  r: { readonly credentialId: string; readonly kind: CredentialKind; readonly predecessorId?: string | undefined; readonly checkWith?: ServerTarget | undefined },
): Promise<ProvisioningRecorded | AdoptedCredential> => {
  const adopted = await settlePendingProvisioning(sim, r.checkWith);
  if (adopted?.credentialId === r.credentialId) return adopted;
  let written = false;
  try {
    const { recorded } = await provisionOverHttp(transportOf(server), sim.device, {
      credentialId: r.credentialId, kind: r.kind, predecessorId: r.predecessorId, enrolmentFunction: sim.state.pinned.enrolmentFunction,
      beforeReceipt: (made) => {
        writeAhead(sim, r.credentialId, made);
        written = true;
      },
    });
    written = false;
    clearPending(sim, `credential ${r.credentialId} is recorded by the server and its key stays named as pending there: run device provision again with an operator token to adopt it`);
    return recorded;
  } catch (error) {
    // The receipt went out and the server did not refuse it, but no good answer came back: it may hold the credential
    // bound to the key, so the key and its pending record stay for a rerun to settle by the fingerprint.
    if (error instanceof ReceiptOutcomeUnknown) throw outcomeUnknown(sim, error);
    // The run destroyed its key when it failed before the server's answer: the state then names it no longer.
    if (written) {
      try {
        clearPending(sim, 'its key is gone');
      } catch {
        // A rerun finds the pending key gone and forgets it.
      }
    }
    throw error;
  }
};

/**
 * The association handshake for an association an operator configured. With an operator's token, the association
 * is configured first (one already configured, the service's 409, is left as it is: the handshake says whether it is
 * this one; a gateway's 409 says nothing of the association, and ends the run).
 */
export const associate = async (
  server: string | DeviceServer,
  sim: SimulatedDevice,
  r: { readonly associationId: string; readonly credentialId: string; readonly lifetimeSeconds: number; readonly configureWith?: ServerTarget | undefined },
) => {
  const { device, state } = sim;
  const registreeId = device.cseId;
  if (registreeId === undefined) {
    throw validationError([{ path: 'cseId', rule: 'provisioned', message: `device ${device.nodeId} has no CSE-ID yet: enrol the node, then provision a credential` }], 'association');
  }
  if (r.configureWith !== undefined) {
    try {
      await operatorCommand(r.configureWith, 'configureAssociation', {
        associationId: r.associationId, nodeId: device.nodeId, credentialId: r.credentialId,
        registree: { kind: 'cse', id: registreeId }, registrarCseId: state.pinned.registrar.id,
      });
    } catch (error) {
      if (!(isServiceProblem(error) && error.status === 409)) throw error;
    }
  }
  const outcome = await associateOverHttp(transportOf(server), device, {
    associationId: r.associationId, credentialId: r.credentialId, lifetimeSeconds: r.lifetimeSeconds, registreeId, registrar: state.pinned.registrar,
  });
  const before = sim.state;
  const previous = before.associations.find((a) => a.associationId === r.associationId);
  sim.state = {
    ...before,
    associations: [
      ...before.associations.filter((a) => a.associationId !== r.associationId),
      {
        associationId: r.associationId, credentialId: r.credentialId, registrarId: outcome.registrarId, registreeId: outcome.registreeId,
        sessionKeys: outcome.sessionKeys, transcriptHash: outcome.transcriptHash, establishedAt: outcome.establishedAt, expiresAt: outcome.expiresAt,
      },
    ],
  };
  // The state is written before the keys of an earlier handshake for this association are destroyed: a state that
  // cannot be written leaves the device as it was (the new keys destroyed, the old ones kept and named), where
  // destroying first left a state naming destroyed keys and new keys no state named (found in review). A run that
  // dies between the two leaves only the old keys unnamed, never a handle to nothing.
  try {
    sim.save();
  } catch (error) {
    sim.state = before;
    await destroyQuietly(device.se, outcome.sessionKeys.send, outcome.sessionKeys.receive);
    throw error;
  }
  if (previous !== undefined) await destroyQuietly(device.se, previous.sessionKeys.send, previous.sessionKeys.receive);
  return outcome;
};
