import type Database from 'better-sqlite3';
import type { Owner } from '../../domain/events/index.ts';
import { prepared } from '../runtime/index.ts';

/*
 * Review 306: a node's or an App-ID's revocation, or a bootstrap credential's for keyCompromise, is acknowledged before
 * the cascade appends the CredentialRevoked of the certificates that follow it (batched, retried with a back-off). In
 * between, OCSP signed a `good` valid for an hour and the CRLs a nextUpdate that left them out. So the `pki` read model
 * keeps, for each certificate of ours, what it follows (its holder: the node or App-ID its owner names; the bootstrap
 * credential a remote provisioning named), and which of those have ended: a certificate whose holder ended and whose
 * own revocation is not recorded yet is owed it (`pki_owed`, `holderEnded`), answered as one past its overlap is (never `good`).
 *
 * The CRLs are not held back for them (review 308): a revocation the cascade dead-letters would leave one owed until its
 * notAfter, and every CRL of its CA frozen, an unrelated keyCompromise never listed. A CRL lists it once it is recorded.
 *
 * The same links the cascade follows (projections/cascade read-model.ts `credential-of-node`, `credential-of-application`,
 * bootstrap-provisioned.ts), as far as a certificate's own events and its App-ID instance's establishments (review 402,
 * instance-holders.ts: the nodes an AE-ID's credential naming its App-ID follows) say: a credential issued before review 41 to a CSE-ID
 * or AE-ID without its holder, and an App-ID credential of a node revoked for keyCompromise (review 249, found through
 * associations), are not followed here; the cascade still revokes them, and OCSP answers `revoked` from then.
 */
export const PKI_HOLDERS_TABLES = `CREATE TABLE IF NOT EXISTS pki_holders (
    holder TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    PRIMARY KEY (holder, credential_id)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS pki_ended_holders (
    holder TEXT PRIMARY KEY,
    ended_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  -- The revocations owed: a certificate of a credential whose holder ended, not revoked yet. Kept apart, so that what
  -- OCSP reads costs what is owed now, not every certificate of every holder that ever ended.
  CREATE TABLE IF NOT EXISTS pki_owed (
    credential_id TEXT PRIMARY KEY,
    ca_id TEXT NOT NULL,
    serial TEXT NOT NULL,
    not_after TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS pki_owed_serial ON pki_owed (ca_id, serial)`;

/** A holder a certificate follows, as a key of these tables. */
export type Holder = `node:${string}` | `application:${string}` | `bootstrap:${string}`;

export const nodeHolder = (nodeId: string): Holder => `node:${nodeId}`;
export const applicationHolder = (appId: string): Holder => `application:${appId}`;
export const bootstrapHolder = (credentialId: string): Holder => `bootstrap:${credentialId}`;

/**
 * The node or App-ID a credential's owner names, as the cascade links it (an App-ID instance's nodes are linked as it
 * is established, instance-holders.ts): undefined for an owner of old shape, and
 * for none (the projection's tests apply CredentialIssued events made by hand, with the certificate alone).
 */
export const holderOfOwner = (owner: Owner | undefined): Holder | undefined => {
  if (owner === undefined) return undefined;
  switch (owner.kind) {
    case 'node':
      return nodeHolder(owner.id);
    case 'app':
      return applicationHolder(owner.id);
    case 'cse':
      return owner.nodeId === undefined ? undefined : nodeHolder(owner.nodeId);
    case 'ae':
      return owner.appId === undefined ? undefined : applicationHolder(owner.appId);
    default: {
      const never: never = owner.kind;
      throw new TypeError(`unknown owner kind ${String(never)}`);
    }
  }
};

/**
 * What `credentialId` holds is owed a revocation when it is a certificate of ours not revoked yet: returned then. Also
 * for a node's move to another subscription (subscription-moves.ts, review 397).
 */
export const oweRevocation = (db: Database.Database, credentialId: string): { caId: string; serialNumber: string } | undefined => {
  const row = prepared(
    db,
    `SELECT c.ca_id, c.serial, c.not_after FROM pki_certificates c WHERE c.credential_id = ?
      AND NOT EXISTS (SELECT 1 FROM pki_revocations r WHERE r.ca_id = c.ca_id AND r.serial = c.serial)`,
  ).get(credentialId) as { ca_id: string; serial: string; not_after: string } | undefined;
  if (row === undefined) return undefined;
  prepared(db, 'INSERT OR IGNORE INTO pki_owed (credential_id, ca_id, serial, not_after) VALUES (?, ?, ?, ?)').run(credentialId, row.ca_id, row.serial, row.not_after);
  return { caId: row.ca_id, serialNumber: row.serial };
};

/** `credentialId` follows `holder`; owed its revocation at once when the holder ended before (a raced import). */
export const recordHolder = (db: Database.Database, holder: Holder, credentialId: string): void => {
  prepared(db, 'INSERT OR IGNORE INTO pki_holders (holder, credential_id) VALUES (?, ?)').run(holder, credentialId);
  if (prepared(db, 'SELECT 1 FROM pki_ended_holders WHERE holder = ?').get(holder) !== undefined) oweRevocation(db, credentialId);
};

/**
 * The credential expired (CredentialExpired): no revocation of it is owed any more, whatever it followed (the cascade
 * revokes no expired credential), so nothing waits for one.
 */
export const forgetHolders = (db: Database.Database, credentialId: string): void => {
  prepared(db, 'DELETE FROM pki_holders WHERE credential_id = ?').run(credentialId);
  prepared(db, 'DELETE FROM pki_owed WHERE credential_id = ?').run(credentialId);
};

/** (CA, serial) was revoked: whichever credential held it, nothing is owed for it any more. */
export const settleOwed = (db: Database.Database, caId: string, serialNumber: string): void => {
  prepared(db, 'DELETE FROM pki_owed WHERE ca_id = ? AND serial = ?').run(caId, serialNumber);
};

/**
 * The holder ended at `at` (its first ending stands). Returns the certificates that follow it and are not revoked yet,
 * now owed their revocation: cached OCSP answers about them are stale.
 */
export const recordHolderEnd = (db: Database.Database, holder: Holder, at: number): { caId: string; serialNumber: string }[] => {
  prepared(db, 'INSERT OR IGNORE INTO pki_ended_holders (holder, ended_at) VALUES (?, ?)').run(holder, at);
  const credentials = (prepared(db, 'SELECT credential_id FROM pki_holders WHERE holder = ?').all(holder) as { credential_id: string }[]).map((r) => r.credential_id);
  return credentials.flatMap((credentialId) => oweRevocation(db, credentialId) ?? []);
};

/**
 * True when (CA, serial), not past `now` (ISO), is owed its revocation: a credential holding it follows a holder that
 * has ended. Past its notAfter nothing is owed.
 */
export const holderEnded = (db: Database.Database, caId: string, serialNumber: string, now: string): boolean =>
  prepared(db, 'SELECT 1 FROM pki_owed WHERE ca_id = ? AND serial = ? AND not_after > ? LIMIT 1').get(caId, serialNumber, now) !== undefined;
