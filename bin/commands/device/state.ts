import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CredentialDescriptor, Identifier, IsoTimestamp } from '../../../domain/crypto/credential.ts';
import { validationError } from '../../../domain/errors.ts';
import { KeyHandle } from '../../../domain/ports/secure-environment.ts';
import { PinnedResponder } from '../../../adapters/protocols/procedures/index.ts';
import { writeFileAtomic } from '../../../adapters/driven/files/index.ts';
import { refuseNewerFileVersion } from '../../../adapters/driven/files/newer-file-version.ts';
import { FILE_LIMITS, readJsonFile } from '../../files.ts';
import { pendingInitFile, readPendingInit } from './pending-init.ts';

/**
 * What a simulated device remembers between runs, beside its Secure Environment (same folder): its identity, the
 * handles of its keys in that Secure Environment and their public descriptions, and whom it pinned at the factory.
 * Handles are references that mean nothing outside this Secure Environment; no key material is ever written here.
 */

/** The most credentials, and the most associations, device.json keeps (ended ones are dropped when no room is left: held-entries.ts). */
export const MAX_ENTRIES = 1_000;

const HeldCredential = z.strictObject({ credentialId: Identifier, handle: KeyHandle, descriptor: CredentialDescriptor });

const HeldAssociation = z.strictObject({
  associationId: Identifier,
  credentialId: Identifier,
  registrarId: Identifier,
  registreeId: Identifier,
  /** This device's session keys: `send` protects what it sends, `receive` what it receives. */
  sessionKeys: z.strictObject({ send: KeyHandle, receive: KeyHandle }),
  transcriptHash: z.string().max(64),
  establishedAt: IsoTimestamp,
  expiresAt: IsoTimestamp,
});

/**
 * A provisioning run whose receipt was sent, or about to be: its new key and what the server records on that receipt.
 * Written before the receipt is sent (write-ahead), so a run whose state could not be written after the server
 * recorded the credential (disk full, killed) leaves its key named here, as does a receipt whose answer was lost (a
 * 5xx, a timeout, a reset, a 2xx failing a local check); a rerun checks the server by the fingerprint and adopts the
 * key or destroys it (pending-provisioning.ts). Found in review: the key was left unnamed, then destroyed.
 */
export const PendingProvisioning = z.strictObject({
  credentialId: Identifier,
  handle: KeyHandle,
  descriptor: CredentialDescriptor,
  /** The CSE-ID the run's service parameters carried. */
  cseId: Identifier.optional(),
  /**
   * When the write-ahead was written, by the device's clock: until the server's run for it is surely over, a rerun
   * that finds nothing recorded keeps the key (review 207). Absent from records an earlier build wrote (same version:
   * the member is optional, so they still read); a rerun stamps one then (pending-provisioning.ts).
   */
  writtenAt: IsoTimestamp.optional(),
  /**
   * The server's time at the write-ahead (its Date header, read just before it: server-clock.ts): the wait above is
   * judged on the server's clock when known, the device's clock being free to jump ahead between two runs (review
   * 211). Absent when the server's answer carried no Date, and from records earlier builds wrote (same version).
   */
  serverWrittenAt: IsoTimestamp.optional(),
});
export type PendingProvisioning = z.infer<typeof PendingProvisioning>;

/**
 * The layout of device.json this build writes. Version 2 (review 213): a pending provisioning may carry `writtenAt`
 * and `serverWrittenAt`, which a build of version 1 reads as unknown members of a damaged file; it refuses version 2
 * naming the version instead. Version 1 is still read, and written again as version 2.
 */
export const DEVICE_FILE_VERSION = 2;

export const DeviceState = z.strictObject({
  version: z.union([z.literal(1), z.literal(DEVICE_FILE_VERSION)]),
  nodeId: Identifier,
  bootstrap: HeldCredential,
  /** The Enrolment Function and the Registrar CSE as pinned at the factory (trust on first use). */
  pinned: z.strictObject({ enrolmentFunction: PinnedResponder, registrar: PinnedResponder }),
  /** The CSE-ID received at provisioning (service parameters). */
  cseId: Identifier.optional(),
  credentials: z.array(HeldCredential).max(MAX_ENTRIES),
  associations: z.array(HeldAssociation).max(MAX_ENTRIES),
  /** A provisioning run not known to have finished: its key is named here until the server's answer is settled. */
  provisioning: PendingProvisioning.optional(),
});
export type DeviceState = z.infer<typeof DeviceState>;
export type HeldAssociation = z.infer<typeof HeldAssociation>;

const FILE = 'device.json';

export const stateFile = (dir: string): string => join(dir, FILE);
export const hasState = (dir: string): boolean => existsSync(stateFile(dir));

const refused = (dir: string, message: string) => validationError([{ path: 'dir', rule: 'device-state', message }], 'device folder');

/** The first issues of a state that does not parse, each by its member: never the state's content. */
const issuesOf = (error: z.ZodError): string => error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');

/**
 * Why `dir` holds no device: an init that did not finish is named, with how to finish it (review 302: such a folder
 * was said to hold no device, "run credence device init first", as if the key in it were not there).
 */
const noDevice = (dir: string): string => {
  if (!existsSync(pendingInitFile(dir))) return `${dir} holds no device: run credence device init first`;
  const pending = readPendingInit(dir)!;
  return `${dir} holds an unfinished init of node ${pending.nodeId} (bootstrap ${pending.bootstrapCredentialId}), not a device yet: run the same device init again to finish it (${pendingInitFile(dir)} holds what it sent)`;
};

export const readState = (dir: string): DeviceState => {
  const path = stateFile(dir);
  if (!existsSync(path)) throw refused(dir, noDevice(dir));
  const read = readJsonFile(path, FILE_LIMITS.json);
  if (!read.ok) throw refused(dir, read.message);
  // Before the schema: a newer layout is no malformed file of this one (review 198: "version: Invalid input: expected 1").
  refuseNewerFileVersion(read.value, path, 'device', DEVICE_FILE_VERSION);
  const parsed = DeviceState.safeParse(read.value);
  if (!parsed.success) throw refused(dir, `${path}: ${issuesOf(parsed.error)}`);
  return parsed.data;
};

/**
 * Atomic and private (0600), like every file next to a Secure Environment. A state that would not read back is not
 * written, and refused as one read is (review 183: past 1,000 associations the raw ZodError reached the terminal).
 */
export const writeState = (dir: string, state: DeviceState): void => {
  const parsed = DeviceState.safeParse(state);
  if (!parsed.success) throw refused(dir, `${stateFile(dir)} would not be valid: ${issuesOf(parsed.error)}`);
  writeFileAtomic(stateFile(dir), `${JSON.stringify({ ...parsed.data, version: DEVICE_FILE_VERSION }, null, 2)}\n`);
};
