import type Database from 'better-sqlite3';
import type { RevocationReason } from '../../domain/events/index.ts';
import { prepared } from '../runtime/index.ts';
import { revokeCredential, revokeCredentials, type Reaction } from './reaction.ts';
import { PROVISIONED_ON_BOOTSTRAP, type ReactionContext } from './reaction-context.ts';

/*
 * Review 288 (seed 003 11.2.1: remote provisioning is mutually authenticated on the node's pre-existing bootstrap
 * credential): whoever held a bootstrap credential's key could have run the remote provisionings authenticated on it,
 * impersonating the device. So a bootstrap credential revoked for keyCompromise takes, as keyCompromise, every
 * credential a `CredentialProvisioned` of method remote-provisioning names it the `bootstrapCredentialId` of; their
 * associations then end with them by the credential's own rule. Revoked for any other reason (superseded,
 * cessationOfOperation: a factory credential retired once its node was provisioned) it gave nothing away, and they
 * stay. Kept apart from the dependents table: this is no holder's link (the credential is its node's), and only a
 * compromise follows it; the dependents graph lists it after the holders' links while it applies
 * (dependency-graph.ts, `provisioned-on-bootstrap`, review 329).
 */

export const setupBootstrapProvisioned = (db: Database.Database): void => {
  db.exec(`CREATE TABLE IF NOT EXISTS cascade_bootstrap_provisioned (
    bootstrap TEXT NOT NULL,
    credential TEXT NOT NULL,
    PRIMARY KEY (bootstrap, credential)
  ) WITHOUT ROWID`);
};

/** The tables `setupBootstrapProvisioned` makes. */
export const BOOTSTRAP_PROVISIONED_TABLES = ['cascade_bootstrap_provisioned'] as const;

export const resetBootstrapProvisioned = (db: Database.Database): void => {
  db.exec(BOOTSTRAP_PROVISIONED_TABLES.map((table) => `DELETE FROM ${table}`).join('; '));
};

/** A credential (a stream id) remotely provisioned on a bootstrap credential (a stream id). */
export const addBootstrapProvisioned = (db: Database.Database, bootstrap: string, credential: string): void => {
  prepared(db, 'INSERT OR IGNORE INTO cascade_bootstrap_provisioned (bootstrap, credential) VALUES (?, ?)').run(bootstrap, credential);
};

/** The credentials (stream ids) remotely provisioned on the bootstrap credential (a stream id), as far as the log has said. */
export const provisionedOnBootstrap = (db: Database.Database, bootstrap: string): string[] =>
  (prepared(db, 'SELECT credential FROM cascade_bootstrap_provisioned WHERE bootstrap = ? ORDER BY credential').all(bootstrap) as {
    credential: string;
  }[]).map((r) => r.credential);

/**
 * A credential's revocation (its first, or a raise to keyCompromise; `credential` is its stream id): for keyCompromise,
 * the credentials remotely provisioned on it are revoked keyCompromise; for any other reason, nothing.
 */
export const provisionedOnCompromised = (ctx: ReactionContext, credential: string, reason: RevocationReason): Reaction[] =>
  reason === 'keyCompromise' ? revokeCredentials(ctx.dependents(credential, PROVISIONED_ON_BOOTSTRAP), 'keyCompromise') : [];

/**
 * A remote provisioning on a bootstrap credential stored after that bootstrap's revocation for keyCompromise (decided
 * before it, stored after it: a raced import, a store without conditions across streams): the revocation's reaction
 * could not see it, so the credential is revoked on arrival. A bootstrap revoked for another reason and raised to
 * keyCompromise before such a provisioning was stored counts as compromised too (review 308): its raise's reaction
 * could not see the provisioning either, and the `pki` read model owes the credential its revocation.
 */
export const provisionedOnArrival = async (ctx: ReactionContext, credentialId: string, bootstrapCredentialId: string | undefined): Promise<Reaction[]> =>
  bootstrapCredentialId !== undefined && (await ctx.compromised('credential', bootstrapCredentialId)) ? [revokeCredential(credentialId, 'keyCompromise')] : [];
