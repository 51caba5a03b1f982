/**
 * Review 198 finding 2: after an event store restored from an earlier backup, `credence projections` printed the read
 * models whose checkpoints (518-521) are past the restored head (333) as `up to date: cascade, expiry, audit, … (the
 * events after the checkpoint … are of types not read there)`. They are read models of another log, which the next
 * start resets and rebuilds (the runner's log check, projections/runtime/log-check.ts): the status now says so, and
 * so does `--json`, as a distinct state of the component. So too once the restored log has grown past those
 * checkpoints with other events.
 */
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { runCli } from './support/cli.ts';
import { cmd, fixture } from './support/fleet.ts';
import { copyEventStore } from './support/restored-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-projections-another-log-');

const execute = async (dir: string, commands: readonly unknown[]): Promise<void> => {
  const store = openSqliteStoreInDir(dir);
  const { engine } = fixture(store);
  for (const c of commands) await engine.execute(c);
  await store.close();
};

interface Component {
  readonly name: string;
  readonly checkpoint?: string;
  readonly head?: string;
  readonly eventsBehind: number;
  readonly state?: string;
}

const statusOf = async (dir: string) => {
  const text = await runCli(['projections', '--data', dir]);
  expect(text.code, text.err).toBe(0);
  const json = await runCli(['projections', '--data', dir, '--json']);
  expect(json.code, json.err).toBe(0);
  return { out: text.out, components: (JSON.parse(json.out) as { components: Component[] }).components };
};

describe('credence projections on read models built before the event store was restored from an older backup', () => {
  it('says they are built from another log and rebuilt at the next start, not up to date, in text and --json', async () => {
    const dir = scratch();
    const backup = scratch();
    await execute(dir, [cmd.createSubscription(), cmd.registerNode('meter-1')]);
    copyEventStore(dir, backup);
    await execute(dir, [cmd.registerNode('meter-2'), cmd.enrolNode('meter-2'), cmd.issueCredential('cred-2'), cmd.registerNode('meter-3')]);
    const rebuilt = await runCli(['projections', 'rebuild', 'all', '--data', dir]);
    expect(rebuilt.code, rebuilt.err).toBe(0);
    copyEventStore(backup, dir);

    const restored = await statusOf(dir);
    const ahead = restored.components.filter((c) => c.checkpoint !== undefined && BigInt(c.checkpoint) > BigInt(c.head ?? '0')).map((c) => c.name);
    expect(ahead.length).toBeGreaterThan(0);
    expect(restored.out).toContain(`built from another log: ${ahead.join(', ')}: rebuilt at the next start`);
    expect(restored.out).not.toMatch(/^up to date: /m);
    for (const c of restored.components) expect(c.state, c.name).toBe(ahead.includes(c.name) ? 'another-log' : undefined);

    // The restored log written on past those checkpoints, with other events: their positions hold other events.
    await execute(dir, ['meter-4', 'meter-5', 'meter-6', 'meter-7', 'meter-8', 'meter-9'].map((id) => cmd.registerNode(id)));
    const grown = await statusOf(dir);
    for (const name of ahead) {
      const c = grown.components.find((x) => x.name === name)!;
      expect(BigInt(c.checkpoint!) <= BigInt(c.head!), name).toBe(true);
      expect(c.state, name).toBe('another-log');
    }
    expect(grown.out).toMatch(new RegExp(`^built from another log: .*${ahead[0]!}.*: rebuilt at the next start`, 'm'));
    expect(grown.out).not.toMatch(new RegExp(`^up to date: .*\\b${ahead[0]!}\\b`, 'm'));
  });
});
