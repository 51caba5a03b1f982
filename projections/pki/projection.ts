import type Database from 'better-sqlite3';
import { CaId } from '../../domain/x509/issuing-ca.ts';
import { isSerialHex, revokedCertificateDer } from '../../domain/x509/revocation/index.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import { lapseCauseOf, revocationInstant } from '../revocation-instant/index.ts';
import { BatchSlot, readCheckpoint, type Projection, type ResetCause } from '../runtime/index.ts';
import type { PkiChanges } from './changes.ts';
import { issuingKeyId } from './issuing-key.ts';
import { lapseOf, recordEnrolmentEnd, recordSubscription } from './lapses.ts';
import { applicationHolder, bootstrapHolder, forgetHolders, holderOfOwner, nodeHolder, recordHolder, recordHolderEnd, settleOwed, type Holder } from './owner-endings.ts';
import { endInstanceCredential, forgetInstanceAssociation, recordInstanceAssociation, recordInstanceCredential, recordInstanceEstablished } from './instance-holders.ts';
import { forgetRotation, overlapEndOf, recordRotation } from './rotations.ts';
import { recordCertifiedSubscription, recordCseCredential, recordNodeEnrolment } from './subscription-moves.ts';
import { markPkiBatch, PKI_PROJECTION } from './schema-rebuild.ts';
import { certificateOfCredential, forgetRebuild, markRebuild, recordCertificate, raiseRevocation, recordRevocation, resetPkiTables, setupPkiTables, standingRevocation } from './tables.ts';

export { PKI_PROJECTION };

/** The events the `pki` read model is made of. */
export const PKI_EVENT_TYPES = [
  'CredentialIssued',
  'CredentialRotationStarted',
  'CredentialRotationAbandoned',
  'CredentialRevoked',
  'SubscriptionCreated',
  'NodeEnrolmentExpired',
  // Review 306 (owner-endings.ts): what a certificate follows, and its end, before the cascade revokes it.
  'CredentialProvisioned',
  'NodeRevoked',
  'ApplicationRevoked',
  'CredentialExpired',
  // Review 397 (subscription-moves.ts): a node enrolled under another subscription owes the revocation of what the
  // CA of the one it left certified (NodeEnrolmentExpired above ends the node as NodeRevoked does).
  'NodeEnrolled',
  // Review 402 (instance-holders.ts): an App-ID's instance runs on the nodes an association of it is established on,
  // and its certificates follow those nodes as the cascade's do (projections/pki/app-instances.ts).
  'AssociationConfigured',
  'AssociationEstablished',
  // Review 411: an association revoked or expired before it was established is done with (its row deleted).
  'AssociationRevoked',
  'AssociationExpired',
] as const;

/**
 * Connections on which `pki` rows were written inside a transaction other than the runner's synchronous batch (one
 * that may stay open across awaits: the projection run with reactions). Until that transaction ends, the rows on
 * the connection may be uncommitted; committed readers sharing the connection (adapters/runtime/pki-committed.ts)
 * wait for it only then.
 */
const heldOpen = new WeakSet<Database.Database>();

/** True while `pki` rows written on `db` may belong to a transaction that is still open (see heldOpen). */
export const pkiWritesHeldOpen = (db: Database.Database): boolean => {
  if (!db.inTransaction) {
    heldOpen.delete(db);
    return false;
  }
  return heldOpen.has(db);
};

/** The issuing CA a certificate summary names, when it is one of ours with a usable serial (factory ones are not). */
const ourCertificate = (certificate: unknown): { caId: string; serialNumber: string } | undefined => {
  const c = certificate as { issuingCa?: unknown; serialNumber?: unknown } | undefined;
  if (c === undefined || typeof c.serialNumber !== 'string' || !isSerialHex(c.serialNumber)) return undefined;
  const caId = CaId.safeParse(c.issuingCa);
  return caId.success ? { caId: caId.data, serialNumber: c.serialNumber } : undefined;
};

/**
 * The late lapse `e` (a CredentialRevoked) follows from, if any (lapseCauseOf: the cascade's own revocation names the
 * expiry it reacts to), as lapses.ts kept it.
 */
const lapseCausing = (db: Database.Database, e: DecodedEvent): number | undefined => {
  const cause = lapseCauseOf(e);
  return cause === undefined ? undefined : lapseOf(db, cause);
};

/**
 * The revocation status of certificates Credence's CAs issued (issue 13), from the events alone: CredentialIssued
 * with `certificate.issuingCa` and `serialNumber` records the certificate and the key that signed it (issuing-key.ts); CredentialRevoked records its revocation
 * with the reason, when it was recorded (revocationDate, RFC 5280 5.3.2) and, where earlier, when it occurred as its
 * invalidityDate (revocationInstant, projections/revocation-instant, the rule the compliance `revocations` query
 * dates by too: the rotations under way of those credentials are kept for it, rotations.ts, and the subscriptions'
 * notAfter with the enrolments that ended after it, lapses.ts), and its CRL entry encoded once. Per event: a few
 * primary-key statements, whatever the number already revoked. Rebuilt from position 0 it gives the same rows. The
 * CRL publisher reads revocations in the order they were recorded.
 *
 * CredentialExpired changes no status here (it only ends a revocation owed, owner-endings.ts): an expired certificate that was revoked stays revoked (OCSP keeps
 * answering so), and one that was not stays good until its notAfter, which relying parties check themselves. When
 * an expired entry leaves the CRLs depends on the clock and on which CRLs were issued, so the CRL publisher decides
 * it (adapters/runtime/pki-crl-publisher.ts, RFC 5280 5.1.2.6); this read model stays a function of the events.
 */
export const pkiProjection = (changes?: PkiChanges): Projection => {
  const batch = new BatchSlot<true>();
  // Cached OCSP answers about the certificates that follow an ended holder are stale (a `good` among them); no CRL is
  // due: each is listed once its own revocation is recorded (review 308).
  const holderEnded = (db: Database.Database, holder: Holder, at: number): void => {
    for (const certificate of recordHolderEnd(db, holder, at)) changes?.rotationChanged(certificate);
  };
  return {
    name: PKI_PROJECTION,
    eventTypes: PKI_EVENT_TYPES,
    setup: setupPkiTables,
    // Inside the rebuild's transaction, before its checkpoint is deleted: the position the tables had reached.
    reset(db: Database.Database, cause?: ResetCause) {
      const reached = readCheckpoint(db, PKI_PROJECTION)?.position;
      resetPkiTables(db);
      // A position of another log is no floor: this log may never reach it, and the signers would refuse forever.
      if (cause === 'another-log') forgetRebuild(db);
      else if (reached !== undefined) markRebuild(db, reached);
      changes?.reset();
    },
    // Writes at once: the slot only tells `apply` that it runs in the runner's synchronous batch (see heldOpen). The
    // batch is marked this version's, so its checkpoint keeps the read model's version (review 411, tables.ts).
    beginBatch: (db: Database.Database) => {
      markPkiBatch(db);
      return batch.open(db, true, () => undefined);
    },
    apply(db: Database.Database, e: DecodedEvent) {
      if (db.inTransaction && batch.held(db) === undefined) heldOpen.add(db);
      switch (e.event.type) {
        case 'CredentialIssued': {
          const ours = ourCertificate(e.event.data.certificate);
          if (ours === undefined || e.event.data.certificate === undefined) return;
          const { notAfter, der } = e.event.data.certificate;
          const issuerKeyId = issuingKeyId(der);
          recordCertificate(db, { credentialId: e.event.data.credentialId, ...ours, notAfter, ...(issuerKeyId !== undefined ? { issuerKeyId } : {}) });
          const holder = holderOfOwner(e.event.data.owner);
          if (holder !== undefined) recordHolder(db, holder, e.event.data.credentialId);
          // Certified by the CA of a subscription its node left before it was recorded: owed at once (review 397).
          recordCertifiedSubscription(db, e.event.data.credentialId, e.event.data.owner, e.event.data.certificate);
          // Issued to a CSE-ID its node no longer holds (review 402), or to an App-ID's instance (its nodes' too).
          recordCseCredential(db, e.event.data.credentialId, e.event.data.owner);
          recordInstanceCredential(db, e.event.data.credentialId, e.event.data.owner);
          return;
        }
        case 'CredentialProvisioned': {
          // Review 288: remotely provisioned on a bootstrap credential, it is revoked with that bootstrap's keyCompromise.
          const { credentialId, method, bootstrapCredentialId } = e.event.data;
          if (method === 'remote-provisioning' && bootstrapCredentialId !== undefined) recordHolder(db, bootstrapHolder(bootstrapCredentialId), credentialId);
          return;
        }
        case 'NodeRevoked':
          holderEnded(db, nodeHolder(e.event.data.nodeId), e.at);
          return;
        case 'ApplicationRevoked':
          holderEnded(db, applicationHolder(e.event.data.appId), e.at);
          return;
        case 'CredentialExpired':
          // Its certificate stays as it was (see above); only no revocation of it is owed any more.
          forgetHolders(db, e.event.data.credentialId);
          endInstanceCredential(db, e.event.data.credentialId);
          return;
        case 'CredentialRotationStarted': {
          const { credentialId, overlapEndsAt } = e.event.data;
          const certificate = certificateOfCredential(db, credentialId);
          if (certificate === undefined) return;
          recordRotation(db, credentialId, Date.parse(overlapEndsAt));
          changes?.rotationChanged({ caId: certificate.caId, serialNumber: certificate.serialNumber });
          return;
        }
        case 'CredentialRotationAbandoned': {
          forgetRotation(db, e.event.data.credentialId);
          const certificate = certificateOfCredential(db, e.event.data.credentialId);
          if (certificate !== undefined) changes?.rotationChanged({ caId: certificate.caId, serialNumber: certificate.serialNumber });
          return;
        }
        case 'SubscriptionCreated':
          recordSubscription(db, e.event.data.subscriptionId, Date.parse(e.event.data.notAfter));
          return;
        case 'NodeEnrolmentExpired':
          recordEnrolmentEnd(db, e.record.id, e.event.data.subscriptionId, e.at);
          // Review 397: expired is final, and the cascade ends the node as if revoked (cessationOfOperation).
          holderEnded(db, nodeHolder(e.event.data.nodeId), e.at);
          return;
        case 'NodeEnrolled':
          // Under another subscription than before (RS-17): what the CA of the one it left certified is owed (review 397);
          // under another CSE-ID, what was issued to another naming the node (review 402).
          for (const certificate of recordNodeEnrolment(db, e.event.data.nodeId, e.event.data.subscriptionId, e.event.data.cseId)) changes?.rotationChanged(certificate);
          return;
        case 'AssociationConfigured':
          recordInstanceAssociation(db, e.event.data.associationId, e.event.data.nodeId, e.event.data.registree);
          return;
        case 'AssociationEstablished':
          recordInstanceEstablished(db, e.event.data.associationId);
          return;
        case 'AssociationRevoked':
        case 'AssociationExpired':
          forgetInstanceAssociation(db, e.event.data.associationId);
          return;
        case 'CredentialRevoked': {
          const { credentialId, reason } = e.event.data;
          // A bootstrap's key compromised (first or raised): what was remotely provisioned on it is to be revoked too.
          if (reason === 'keyCompromise') holderEnded(db, bootstrapHolder(credentialId), e.at);
          // Ended: it follows no node its App-ID's instance is established on later (review 402).
          endInstanceCredential(db, credentialId);
          const certificate = certificateOfCredential(db, credentialId);
          if (certificate === undefined) return;
          // Revoked: whatever its holder's end owed it is settled (owner-endings.ts).
          settleOwed(db, certificate.caId, certificate.serialNumber);
          const standing = standingRevocation(db, certificate.caId, certificate.serialNumber);
          if (standing !== undefined) {
            // A second revocation is its reason raised to keyCompromise (the machine accepts no other): the entry keeps
            // its revocationDate and invalidityDate, its reasonCode says keyCompromise.
            if (reason !== 'keyCompromise') return;
            const entry = revokedCertificateDer({
              serialNumber: certificate.serialNumber,
              revokedAt: Date.parse(standing.revokedAt),
              reason,
              ...(standing.invalidSince !== undefined ? { invalidSince: Date.parse(standing.invalidSince) } : {}),
            });
            if (raiseRevocation(db, certificate.caId, certificate.serialNumber, entry)) changes?.revoked({ caId: certificate.caId, serialNumber: certificate.serialNumber });
            return;
          }
          // revocationDate is when the CA processed it, the recording (RFC 5280 5.3.2); an earlier instant the service
          // refused the certificate from is its invalidityDate, never a back-dated revocationDate (review 203).
          const occurred = revocationInstant(e.at, reason, overlapEndOf(db, credentialId), lapseCausing(db, e));
          const invalidSince = occurred < e.at ? occurred : undefined;
          forgetRotation(db, credentialId);
          const entry = revokedCertificateDer({
            serialNumber: certificate.serialNumber,
            revokedAt: e.at,
            reason,
            ...(invalidSince !== undefined ? { invalidSince } : {}),
          });
          const recorded = recordRevocation(db, {
            ...certificate,
            revokedAt: new Date(e.at).toISOString(),
            reason,
            entry,
            ...(invalidSince !== undefined ? { invalidSince: new Date(invalidSince).toISOString() } : {}),
          });
          if (recorded) changes?.revoked({ caId: certificate.caId, serialNumber: certificate.serialNumber });
          return;
        }
        default:
          return;
      }
    },
  };
};
