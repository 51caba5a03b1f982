import { FakeClock } from '../../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../../adapters/driven/store/index.ts';
import { createEngine } from '../../adapters/engine/index.ts';
import { command } from '../../domain/commands/index.ts';
import { forge } from '../replay.fixtures.ts';
import { at, cmd, operator, T0 } from './fleet.ts';

/** What the folder holds beside the rotation machines v12 accepted after its node's revocation. */
export interface RotationAfterRevocation {
  /** The rotation's abandonment, refused only because replay left the rotation unrecorded (review 325). */
  readonly abandoned?: boolean;
  /** The abandonment's command recorded once more, which no version wrote: a broken history beside them. */
  readonly recordedTwice?: boolean;
  /** cred-3 provisioned after its own revocation, which no version accepted: a broken history of another stream. */
  readonly provisionedAfterRevocation?: boolean;
}

/**
 * A data folder as machines v12 could leave it (reviews 323, 325): cred-1 and its successor cred-2 of meter-1,
 * meter-1 revoked, then cred-1's rotation (refused by ownerIsLive since v13) stored around the engine, with what
 * `holds` adds, then both credentials revoked by the engine.
 */
export const rotationAfterRevocationFolder = async (dir: string, holds: RotationAfterRevocation = {}): Promise<string> => {
  const store = openSqliteStoreInDir(dir);
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  for (const c of [
    cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(),
    cmd.issueCredential('cred-1', 'meter-1', at(90)), cmd.provisionCredential('cred-1'),
    cmd.issueCredential('cred-2', 'meter-1', at(90), { predecessorId: 'cred-1' }), cmd.provisionCredential('cred-2'),
  ]) await engine.execute(c);
  if (holds.provisionedAfterRevocation === true) {
    await engine.execute(cmd.issueCredential('cred-3', 'meter-1', at(90)));
    await engine.execute(cmd.revokeCredential('cred-3'));
    await forge(store, 'credential-cred-3', 'CredentialProvisioned', { credentialId: 'cred-3', method: 'pre-provisioning' }, T0);
  }
  await engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
  await forge(store, 'credential-cred-1', 'CredentialRotationStarted', { credentialId: 'cred-1', successorId: 'cred-2', overlapEndsAt: at(30) }, T0);
  if (holds.abandoned === true) {
    const abandoned = { credentialId: 'cred-1', successorId: 'cred-2' };
    const abandonment = crypto.randomUUID();
    await forge(store, 'credential-cred-1', 'CredentialRotationAbandoned', abandoned, T0, abandonment);
    if (holds.recordedTwice === true) await forge(store, 'credential-cred-1', 'CredentialRotationAbandoned', abandoned, T0, abandonment);
  }
  for (const id of ['cred-1', 'cred-2']) await engine.execute(cmd.revokeCredential(id));
  await store.close();
  return dir;
};

/** The folder of review 325: the rotation and its abandonment (`recordedTwice`: its command recorded once more). */
export const rotationAbandonedAfterANewerRuleFinding = (dir: string, recordedTwice = false): Promise<string> =>
  rotationAfterRevocationFolder(dir, { abandoned: true, recordedTwice });
