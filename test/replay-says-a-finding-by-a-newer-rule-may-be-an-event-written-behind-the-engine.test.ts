import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { dataDirs, forge } from './replay.fixtures.ts';
import { runCli } from './support/cli.ts';
import { at, cmd, issueCredentialData, placeholderKey, T0 } from './support/fleet.ts';

/*
 * Review 321: `credence replay` counted a credential on a key another credential certified, written into the store
 * just now behind the engine, "by rules newer than the stored events: see Upgrading", as an upgrade leftover. Nothing
 * in the folder dates an event to the version that wrote it (no version in its metadata; a replay checkpoint names
 * only the machines that judged it), so the note says it may be either.
 */
describe('a finding by a rule newer than some version', () => {
  const tmp = dataDirs('credence-newer-rule-or-forged-');

  it('is said to be an upgrade leftover or an event written behind the engine, not an upgrade leftover alone', async () => {
    const dir = tmp();
    const store = openSqliteStoreInDir(dir);
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    for (const c of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.registerNode('meter-2'), cmd.enrolNode('meter-1'), cmd.enrolNode('meter-2')]) {
      await engine.execute(c);
    }
    await engine.execute(cmd.issueCredential('cred-1', 'meter-1', at(90)));
    // Written now, by this version's store, on cred-1's key: keyNeverCertified (since v4) refuses it.
    await forge(store, 'credential-cred-2', 'CredentialIssued', { ...issueCredentialData('cred-2', 'meter-2', { notBefore: T0, notAfter: at(90) }), ...placeholderKey('cred-1') }, at(1));
    await store.close();
    const run = await runCli(['replay', '--data', dir, '--full']);
    expect(run.code, run.err).toBe(1);
    expect(run.out).toContain('1 of the 1 findings are by rules newer than the stored events');
    expect(run.out).toContain('left by an upgrade if an earlier version stored them, else written behind the engine (nothing in the store tells which)');
  }, 60_000);
});
