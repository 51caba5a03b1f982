import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import { replayAll, replayEntity } from '../projections/replay/index.ts';
import { MACHINES_VERSION, RULES_SINCE } from '../projections/replay/machines-fingerprint.ts';
import { forge } from './replay.fixtures.ts';
import { cmd, operator, T0 } from './support/fleet.ts';

/*
 * Review 167 F1. Machines v2 (review 165) hold a provisioning to ownerIsLive. A store written by v1 may hold a
 * provisioning stored after revokeNode, before the cascade revoked the credential: legal then. After the upgrade
 * replay flagged it at every run as "refused … by rule ownerIsLive … node meter-1 is revoked", which said nothing of
 * the rule being newer than the event. The finding now says so, and where to read what to do (docs/service.md,
 * Upgrading).
 */
const NEWER_RULE = `(rule since credence:machines:v2: an event stored by an earlier version may break it; see docs/service.md, Upgrading)`;

/** What v1 could store: meter-1 revoked, then cred-1 provisioned (v1 did not read the owner), then the cascade's revocation. */
const v1Store = async () => {
  const store = openSqliteStore({ memory: true });
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1')]) await engine.execute(c);
  await engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
  await forge(store, 'credential-cred-1', 'CredentialProvisioned', { credentialId: 'cred-1', method: 'pre-provisioning' }, T0);
  await engine.execute(cmd.revokeCredential('cred-1', 'cessationOfOperation'));
  return store;
};

describe('a replay finding by a rule the machines gained after the event was stored', () => {
  it('says the rule is since v2, for the fleet replay and one entity (history, state --at)', async () => {
    const store = await v1Store();
    const { findings } = await replayAll(store);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ streamId: 'credential-cred-1', type: 'CredentialProvisioned' });
    expect(findings[0]!.reason).toContain('by rule ownerIsLive');
    expect(findings[0]!.reason.endsWith(NEWER_RULE)).toBe(true);
    const entity = await replayEntity(store, 'credential-cred-1');
    expect(entity.verdict).toMatchObject({ ok: false, findings: [{ reason: findings[0]!.reason }] });
    // The credential stands revoked all the same: the cascade's revocation was accepted.
    expect(entity.state).toBe('revoked');
  });

  it('adds nothing to a refusal by a rule the event was always held to', async () => {
    const store = await v1Store();
    // Provisioned again after the revocation: no version accepted that.
    await forge(store, 'credential-cred-1', 'CredentialProvisioned', { credentialId: 'cred-1', method: 'pre-provisioning' }, T0);
    const { findings } = await replayAll(store);
    expect(findings).toHaveLength(2);
    expect(findings[1]!.reason).not.toContain('rule since');
  });

  it('lists only rules of a version up to this one', () => {
    expect(RULES_SINCE.map((r) => `${r.eventType}:${r.rule}`)).toEqual(['CredentialProvisioned:ownerIsLive', 'AssociationConfigured:registrarIsNotRegistree', 'CredentialIssued:keyIsNew', 'CredentialIssued:keyNeverCertified',
      'CredentialProvisioned:endsWithinSubscription', 'AssociationEstablished:endsWithinSubscription', 'CredentialIssued:endsWithinSubscription',
      'CredentialRotationStarted:overlapEndsAfterNotBefore', 'NodeEnrolled:currentSubscriptionServes',
      'NodeAssociated:associationNamesThisNode', 'NodeAssociationReleased:associationNamesThisNode', 'NodeAssociationReleased:associationEnded',
      'CredentialAssociated:associationNamesThisCredential', 'CredentialAssociationReleased:associationNamesThisCredential', 'CredentialAssociationReleased:associationEnded',
      'ApplicationInstanceAssociated:associationNamesThisInstance', 'ApplicationInstanceReleased:associationNamesThisInstance', 'ApplicationInstanceReleased:associationEnded',
      'CredentialIssued:successorKeepsPurpose', 'CredentialRotationStarted:successorKeepsPurpose',
      'CredentialIssued:purposeFitsOwner', 'AssociationConfigured:appCredentialIsEnrolled', 'AssociationEstablished:appCredentialIsEnrolled',
      'NodeRegistered:bootstrapNotYetRecorded', 'CredentialIssued:bootstrapNamedByItsNode', 'CredentialIssued:factoryCredentialNotRotated', 'CredentialProvisioned:bootstrapIsFactoryCredential',
      'CredentialRotationStarted:ownerIsLive',
      'CredentialProvisioned:receiptServiceParametersCurrent', 'ApplicationEnrolled:credentialBeforeOverlapEnds',
      'AssociationEstablished:endsWithinOverlap', 'SubscriptionTerminated:terminatedBeforeItsEnd',
    ]);
    for (const r of RULES_SINCE) expect(Number(r.since.split(':v')[1])).toBeLessThanOrEqual(Number(MACHINES_VERSION.split(':v')[1]));
  });
});
