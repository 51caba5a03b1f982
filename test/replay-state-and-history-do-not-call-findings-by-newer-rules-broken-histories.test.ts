import { describe, expect, it } from 'vitest';
import { dataDirs } from './replay.fixtures.ts';
import { rotationAfterRevocationFolder } from './support/rotation-abandoned-after-a-newer-rule-finding.ts';
import { runCli } from './support/cli.ts';
import { startTestService } from './support/service.ts';

/*
 * Review 323: a data folder whose only finding is by a rule newer than its stored event (a rotation machines v12
 * accepted after revokeNode, refused by ownerIsLive since v13) made `credence replay` print "verdict: 1 broken
 * histories" over "1 of the 1 findings are by rules newer than the stored events", and `credence state --at` "verdict:
 * broken history up to …", where `credence demo`'s summary and docs/service.md (Upgrading) say no broken history. Every
 * command now words the verdict from one count (broken = total − by newer rules − following them), and still exits 1;
 * the one entity's findings carry the rule and the version that added it, so state and history tell them apart too.
 */

const AFTER = '2030-01-01T00:00:00Z';

const folder = (dir: string, forged = false): Promise<string> => rotationAfterRevocationFolder(dir, { provisionedAfterRevocation: forged });

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
