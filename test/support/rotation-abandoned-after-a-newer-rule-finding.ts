import { FakeClock } from '../../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../../adapters/driven/store/index.ts';
import { createEngine } from '../../adapters/engine/index.ts';
import { command } from '../../domain/commands/index.ts';
import { forge } from '../replay.fixtures.ts';
import { at, cmd, operator, T0 } from './fleet.ts';

/**
 * A data folder as machines v12 could leave it (review 325): cred-1 and its successor cred-2 of meter-1, meter-1
 * revoked, then cred-1's rotation (refused by ownerIsLive since v13) and its abandonment (refused only because replay
 * left the rotation unrecorded) stored around the engine, then both credentials revoked by the engine. With
 * `recordedTwice`, the abandonment's command is recorded once more, which no version wrote: a broken history beside them.
 */
export const rotationAbandonedAfterANewerRuleFinding = async (dir: string, recordedTwice = false): Promise<string> => {
  const store = openSqliteStoreInDir(dir);
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  for (const c of [
    cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(),
    cmd.issueCredential('cred-1', 'meter-1', at(90)), cmd.provisionCredential('cred-1'),
    cmd.issueCredential('cred-2', 'meter-1', at(90), { predecessorId: 'cred-1' }), cmd.provisionCredential('cred-2'),
  ]) await engine.execute(c);
  await engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
  await forge(store, 'credential-cred-1', 'CredentialRotationStarted', { credentialId: 'cred-1', successorId: 'cred-2', overlapEndsAt: at(30) }, T0);
  const abandoned = { credentialId: 'cred-1', successorId: 'cred-2' };
  const abandonment = crypto.randomUUID();
  await forge(store, 'credential-cred-1', 'CredentialRotationAbandoned', abandoned, T0, abandonment);
  if (recordedTwice) await forge(store, 'credential-cred-1', 'CredentialRotationAbandoned', abandoned, T0, abandonment);
  for (const id of ['cred-1', 'cred-2']) await engine.execute(cmd.revokeCredential(id));
  await store.close();
  return dir;
};
