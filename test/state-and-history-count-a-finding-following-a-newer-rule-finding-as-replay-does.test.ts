import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { replayEntity } from '../projections/replay/index.ts';
import { dataDirs } from './replay.fixtures.ts';
import { runCli } from './support/cli.ts';
import { rotationAbandonedAfterANewerRuleFinding } from './support/rotation-abandoned-after-a-newer-rule-finding.ts';
import { startTestService } from './support/service.ts';

/*
 * Review 325: a rotation machines v12 accepted after revokeNode (refused by ownerIsLive since v13), then its
 * abandonment, stored as v12 would: the abandonment is refused only because replay left the rotation unrecorded. `credence
 * replay` counted it as following from the newer-rule finding ("no broken history"), while `credence state --at` and
 * `credence history` called the same credential's history broken: the one entity's replay marked no finding as following
 * from another. It now applies the fleet's same-stream rule (finding-causes.ts): a refusal on a stream an earlier
 * finding left behind follows from it, and the commands count it as the fleet does, locally and over a server, where
 * GET /v1/entities/{kind}/{id} counts them too (the console's entity page words them by it).
 */

const AFTER = '2030-01-01T00:00:00Z';
const NOTE = '1 of the 2 findings are by rules newer than the stored events and 1 follow from them';

const folder = rotationAbandonedAfterANewerRuleFinding;

describe('a refusal that follows from a finding by a newer rule, in one entity', () => {
  const tmp = dataDirs('credence-entity-follows-newer-rule-');

  it("is marked as following from the first finding of its own stream, as the fleet's", async () => {
    const dir = await folder(tmp());
    const store = openSqliteStoreInDir(dir);
    try {
      const replay = await replayEntity(store, 'credential-cred-1');
      expect(replay.verdict.ok).toBe(false);
      const findings = replay.verdict.ok ? [] : replay.verdict.findings;
      expect(findings).toHaveLength(2);
      expect(findings[0]).toMatchObject({ type: 'CredentialRotationStarted', ruleSince: 'credence:machines:v13' });
      expect(findings[0]!.followsFrom).toBeUndefined();
      expect(findings[1]).toMatchObject({ type: 'CredentialRotationAbandoned', followsFrom: { streamId: 'credential-cred-1', position: findings[0]!.position } });
    } finally {
      await store.close();
    }
  });

  it('is no broken history in `credence replay`, `credence state --at` and `credence history` alike, which exit 1', async () => {
    const dir = await folder(tmp());
    const replay = await runCli(['replay', '--full', '--data', dir]);
    expect(replay.code, replay.err).toBe(1);
    expect(replay.out).toContain('verdict: no broken history');
    expect(replay.out).toContain(NOTE);
    const state = await runCli(['state', 'credential-cred-1', '--at', AFTER, '--data', dir]);
    expect(state.code, state.err).toBe(1);
    expect(state.out).toContain(`verdict: no broken history up to ${new Date(AFTER).toISOString()}`);
    expect(state.out).toContain(NOTE);
    expect(state.out).toMatch(/\(follows from the finding on credential-cred-1 at position \d+\)/);
    const history = await runCli(['history', 'credential-cred-1', '--data', dir]);
    expect(history.code, history.err).toBe(1);
    expect(history.out).toContain(`verdict: no broken history; ${NOTE}`);
  });

  it('is no broken history over a server either, whose one-entity findings carry followsFrom', async () => {
    const dir = await folder(tmp());
    const service = await startTestService({ dir });
    try {
      const server = ['--server', service.url, '--token', service.tokens.auditor];
      const state = await runCli(['state', 'credential-cred-1', '--at', AFTER, ...server]);
      expect(state.code, state.err).toBe(1);
      expect(state.out).toContain(`verdict: no broken history up to ${new Date(AFTER).toISOString()}`);
      expect(state.out).toContain(NOTE);
      const history = await runCli(['history', 'credential-cred-1', ...server]);
      expect(history.code, history.err).toBe(1);
      expect(history.out).toContain(`verdict: no broken history; ${NOTE}`);
      const json = await runCli(['history', 'credential-cred-1', ...server, '--json']);
      const findings = JSON.parse(json.out).verdict.findings;
      expect(findings[1]).toMatchObject({ followsFrom: { streamId: 'credential-cred-1', position: findings[0].position } });
      const entity = await fetch(`${service.url}/v1/entities/credential/cred-1`, { headers: { authorization: `Bearer ${service.tokens.auditor}` } });
      expect(entity.status).toBe(200);
      expect(((await entity.json()) as { broken?: unknown }).broken).toMatchObject({
        position: findings[0].position, rule: 'ownerIsLive', ruleSince: 'credence:machines:v13',
        findingsTotal: 2, findingsByNewerRules: 1, findingsFollowingNewerRules: 1,
      });
    } finally {
      await service.close();
    }
  });

  it('leaves a record no version wrote beside them a broken history, in state, history and the entity', async () => {
    const dir = await folder(tmp(), true);
    const state = await runCli(['state', 'credential-cred-1', '--at', AFTER, '--data', dir]);
    expect(state.code, state.err).toBe(1);
    expect(state.out).toContain('verdict: broken history up to');
    expect(state.out).toContain('1 of the 3 findings are by rules newer than the stored events and 1 follow from them');
    const history = await runCli(['history', 'credential-cred-1', '--data', dir]);
    expect(history.out).toContain('verdict: broken history; 1 of the 3 findings');
    const service = await startTestService({ dir });
    try {
      const entity = await fetch(`${service.url}/v1/entities/credential/cred-1`, { headers: { authorization: `Bearer ${service.tokens.auditor}` } });
      expect(((await entity.json()) as { broken?: unknown }).broken).toMatchObject({ findingsTotal: 3, findingsByNewerRules: 1, findingsFollowingNewerRules: 1 });
    } finally {
      await service.close();
    }
  });
});
