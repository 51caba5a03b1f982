/**
 * A store machines v2 wrote holds a successor credential on its predecessor's key, legal then: machines v3 refuse it
 * (keyIsNew), and replay reports it as a finding by a rule newer than the event. Replay then holds that credential
 * unrecorded, so its later events and an association established on it are refused in turn: those findings follow from
 * the newer-rule one (they carry its position), and are counted with it, not as broken histories. A forged event on
 * an entity no finding touched stays a broken history. One pass, the workers and a checkpointed run agree.
 */
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { CheckpointFile, readCheckpointFileJson } from '../adapters/driven/replay-checkpoint/checkpoint-file.ts';
import { verifyFleet } from '../adapters/replay-workers/verify-fleet.ts';
import { findingsByNewerRules, findingsFollowingNewerRules, replayAll } from '../projections/replay/index.ts';
import { expectEveryReplayModeAgrees } from './support/replay-modes.ts';
import { dataDirs } from './replay.fixtures.ts';
import { fleet, laterEventsOnIt, successorOnItsPredecessorsKey } from './successor-on-its-predecessors-key.fixtures.ts';
import { runCli } from './support/cli.ts';
import { startTestService } from './support/service.ts';

describe('replay of an old store with a successor on its predecessor\'s key, then events on that successor', () => {
  const dataDir = dataDirs('credence-replay-follows-');

  it('says one finding by a newer rule and the later ones as following from it, in one pass, in workers and from a checkpoint', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    try {
      await fleet(store);
      const issued = await successorOnItsPredecessorsKey(store);
      const checkpoint = new CheckpointFile(dataDir());
      // The checkpoint ends just after the newer-rule finding: what follows it is judged after the checkpoint.
      expect(await verifyFleet(store, { checkpoint })).toMatchObject({ mode: 'full' });
      const { consequences, tampered } = await laterEventsOnIt(store);

      const single = await replayAll(store);
      const root = single.findings.find((f) => f.position === issued.position)!;
      expect(root).toMatchObject({ streamId: 'credential-cred-2', rule: 'keyIsNew', ruleSince: 'credence:machines:v3' });
      expect(root.followsFrom).toBeUndefined();
      for (const position of consequences) {
        expect(single.findings.find((f) => f.position === position), `finding at ${position}`).toMatchObject({
          followsFrom: { streamId: 'credential-cred-2', position: issued.position },
        });
      }
      const broken = single.findings.find((f) => f.position === tampered)!;
      expect(broken.followsFrom).toBeUndefined();
      expect(single.findings).toHaveLength(5);
      expect(findingsByNewerRules(single.findings)).toBe(1);
      expect(findingsFollowingNewerRules(single.findings)).toBe(3);

      await expectEveryReplayModeAgrees(store, checkpoint, single);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('verifies in full once from a checkpoint whose findings do not say what they left unrecorded (an earlier version wrote it)', async () => {
    const store = openSqliteStoreInDir(dataDir());
    try {
      await fleet(store);
      await successorOnItsPredecessorsKey(store);
      const folder = dataDir();
      const checkpoint = new CheckpointFile(folder);
      await verifyFleet(store, { checkpoint });
      const written = readCheckpointFileJson(checkpoint.path) as { findings: Record<string, unknown>[] };
      expect(written.findings).toHaveLength(1);
      writeFileSync(checkpoint.path, JSON.stringify({ ...written, findings: written.findings.map(({ unrecorded: _u, rule: _r, ruleSince: _s, ...f }) => f) }));
      await laterEventsOnIt(store);
      const again = await verifyFleet(store, { checkpoint: new CheckpointFile(folder) });
      expect(again.mode).toBe('full');
      expect(again.notes.join('\n')).toContain('whose findings do not say what they left unrecorded');
      expect(findingsFollowingNewerRules(again.replay.findings)).toBe(3);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('is said by GET /v1/replay and by `credence replay`, locally as from the server', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    await fleet(store);
    const issued = await successorOnItsPredecessorsKey(store);
    await laterEventsOnIt(store);
    await store.close();
    const text = await runCli(['replay', '--data', dir]);
    expect(text.code, text.err).toBe(1);
    expect(text.out).toContain('note: 1 of the 5 findings are by rules newer than the stored events and 3 follow from them');
    expect(text.out).toContain(`(follows from the finding on credential-cred-2 at position ${issued.position})`);
    // The service's cascade revokes sa-2 as it reads cred-2 revoked (its read models follow the store as written): one
    // more event the replay refuses, and one more that follows from the finding by the newer rule.
    const svc = await startTestService({ dir });
    try {
      const response = await fetch(`${svc.url}/v1/replay?full=true`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
      const verdict = (await response.json()) as { findingsTotal: number; findingsFollowingNewerRules: number; findings: { followsFrom?: unknown }[] };
      expect(verdict).toMatchObject({ findingsByNewerRules: 1, findingsTotal: verdict.findingsFollowingNewerRules + 2 });
      expect(verdict.findingsFollowingNewerRules).toBeGreaterThanOrEqual(3);
      expect(verdict.findings.filter((f) => f.followsFrom !== undefined)).toEqual(
        Array(verdict.findingsFollowingNewerRules).fill(expect.objectContaining({ followsFrom: { streamId: 'credential-cred-2', position: String(issued.position) } })),
      );
      const fromServer = await runCli(['replay', '--json', '--full', '--server', svc.url, '--token', svc.tokens.auditor]);
      const local = await runCli(['replay', '--json', '--full', '--data', dir]);
      for (const run of [fromServer, local]) {
        const json = JSON.parse(run.out) as { findingsTotal: number; findingsByNewerRules: number; findingsFollowingNewerRules: number };
        expect(json.findingsByNewerRules).toBe(1);
        expect(json.findingsTotal - json.findingsFollowingNewerRules).toBe(2);
      }
    } finally {
      await svc.close();
    }
  }, 60_000);
});
