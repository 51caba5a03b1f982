import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import { dataDirs, forge } from './replay.fixtures.ts';
import { runCli } from './support/cli.ts';
import { startTestService } from './support/service.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';

/*
 * Review 323: a data folder whose only finding is by a rule newer than its stored event (a rotation machines v12
 * accepted after revokeNode, refused by ownerIsLive since v13) made `credence replay` print "verdict: 1 broken
 * histories" over "1 of the 1 findings are by rules newer than the stored events", and `credence state --at` "verdict:
 * broken history up to …", where `credence demo`'s summary and docs/service.md (Upgrading) say no broken history. Every
 * command now words the verdict from one count (broken = total − by newer rules − following them), and still exits 1;
 * the one entity's findings carry the rule and the version that added it, so state and history tell them apart too.
 */

const AFTER = '2030-01-01T00:00:00Z';

/**
 * What v12 could leave: cred-1 and its successor cred-2 of meter-1, meter-1 revoked, then cred-1's rotation (stored
 * straight into the store), then both credentials revoked by the engine. With `forged`, cred-3 is also provisioned
 * after its own revocation, which no version accepted.
 */
const folder = async (dir: string, forged = false): Promise<string> => {
  const store = openSqliteStoreInDir(dir);
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  for (const c of [
    cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(),
    cmd.issueCredential('cred-1', 'meter-1', at(90)), cmd.provisionCredential('cred-1'),
    cmd.issueCredential('cred-2', 'meter-1', at(90), { predecessorId: 'cred-1' }), cmd.provisionCredential('cred-2'),
  ]) await engine.execute(c);
  if (forged) {
    await engine.execute(cmd.issueCredential('cred-3', 'meter-1', at(90)));
    await engine.execute(cmd.revokeCredential('cred-3'));
    await forge(store, 'credential-cred-3', 'CredentialProvisioned', { credentialId: 'cred-3', method: 'pre-provisioning' }, T0);
  }
  await engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
  await forge(store, 'credential-cred-1', 'CredentialRotationStarted', { credentialId: 'cred-1', successorId: 'cred-2', overlapEndsAt: at(30) }, T0);
  for (const id of ['cred-1', 'cred-2']) await engine.execute(cmd.revokeCredential(id));
  await store.close();
  return dir;
};

describe('a finding by a rule newer than its stored event is no broken history', () => {
  const tmp = dataDirs('credence-newer-rule-verdict-');

  it('in `credence replay`, which still exits 1', async () => {
    const dir = await folder(tmp());
    const run = await runCli(['replay', '--data', dir]);
    expect(run.code, run.err).toBe(1);
    expect(run.out).toContain('verdict: no broken history');
    expect(run.out).not.toContain('broken histories');
    expect(run.out).toContain('1 of the 1 findings are by rules newer than the stored events');
  });

  it('in `credence replay`, which counts the broken histories beside it without it', async () => {
    const dir = await folder(tmp(), true);
    const run = await runCli(['replay', '--data', dir]);
    expect(run.code, run.err).toBe(1);
    expect(run.out).toContain('verdict: broken histories: 1 of the 2 findings');
    expect(run.out).not.toContain('verdict: 2 broken histories');
  });

  it('in `credence state --at`, which still exits 1, its findings carrying the rule and its version', async () => {
    const dir = await folder(tmp());
    const run = await runCli(['state', 'credential-cred-1', '--at', AFTER, '--data', dir]);
    expect(run.code, run.err).toBe(1);
    expect(run.out).toContain(`verdict: no broken history up to ${new Date(AFTER).toISOString()}`);
    expect(run.out).toContain('1 of the 1 findings are by rules newer than the stored events');
    expect(run.out).not.toContain('verdict: broken history');
    const json = await runCli(['state', 'credential-cred-1', '--at', AFTER, '--data', dir, '--json']);
    expect(JSON.parse(json.out).verdict.findings).toMatchObject([{ type: 'CredentialRotationStarted', rule: 'ownerIsLive', ruleSince: 'credence:machines:v13' }]);
  });

  it('in `credence history`, which still exits 1, its findings carrying the rule and its version', async () => {
    const dir = await folder(tmp());
    const run = await runCli(['history', 'credential-cred-1', '--data', dir]);
    expect(run.code, run.err).toBe(1);
    expect(run.out).toContain('verdict: no broken history');
    expect(run.out).toContain('1 of the 1 findings are by rules newer than the stored events');
    const json = await runCli(['history', 'credential-cred-1', '--data', dir, '--json']);
    expect(JSON.parse(json.out).verdict.findings).toMatchObject([{ type: 'CredentialRotationStarted', rule: 'ownerIsLive', ruleSince: 'credence:machines:v13' }]);
  });

  it('in `credence state --at` and `credence history` over a server, whose findings carry the rule and its version', async () => {
    const dir = await folder(tmp());
    const service = await startTestService({ dir });
    try {
      const server = ['--server', service.url, '--token', service.tokens.auditor];
      const state = await runCli(['state', 'credential-cred-1', '--at', AFTER, ...server]);
      expect(state.code, state.err).toBe(1);
      expect(state.out).toContain(`verdict: no broken history up to ${new Date(AFTER).toISOString()}`);
      const history = await runCli(['history', 'credential-cred-1', ...server, '--json']);
      expect(JSON.parse(history.out).verdict.findings).toMatchObject([{ rule: 'ownerIsLive', ruleSince: 'credence:machines:v13' }]);
    } finally {
      await service.close();
    }
  });

  it('in `credence state --at` and `credence history` of a stream whose finding no version accepted, as a broken history', async () => {
    const dir = await folder(tmp(), true);
    const state = await runCli(['state', 'credential-cred-3', '--at', AFTER, '--data', dir]);
    expect(state.code, state.err).toBe(1);
    expect(state.out).toContain('verdict: broken history up to');
    expect(state.out).not.toContain('rules newer');
    const history = await runCli(['history', 'credential-cred-3', '--data', dir]);
    expect(history.code, history.err).toBe(1);
    expect(history.out).not.toContain('rules newer');
  });
});
