import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { runCli } from './support/cli.ts';
import { expectLocalReadsOfRevokedMeter1 } from './support/local-reads.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 236: replay, history, query and projections read ./data whatever CREDENCE_DATA said, while token and serve
 * in the same shell followed it; and a folder without a store was said as `--data: no event store in ./data`, never
 * naming the variable. Now `--data`, else CREDENCE_DATA, else ./data, as `credence token` and `serve` choose it.
 */
const folder = temporaryFolders('credence-env-data-');

/** A data folder whose store holds one node, revoked. */
const folderWithRevokedNode = async (): Promise<string> => {
  const dir = folder();
  const store = openSqliteStoreInDir(dir);
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  await engine.execute(cmd.registerNode('meter-1'));
  await engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
  await store.close();
  return dir;
};

describe('a local read command without --data', () => {
  it('reads the data folder CREDENCE_DATA names', async () => {
    const env = { CREDENCE_DATA: await folderWithRevokedNode() };
    await expectLocalReadsOfRevokedMeter1(env);
    // An evidence bundle too, without --config: its events from that folder, its log key made there.
    const out = join(folder(), 'bundle.json');
    const exported = await runCli(['export', 'node-meter-1', '--out', out], env);
    expect(exported.code, exported.err).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('NodeRevoked');
    expect(['transparency.key', 'transparency.handle'].some((name) => existsSync(join(env.CREDENCE_DATA, name)))).toBe(true);
  });

  it('reads --data over CREDENCE_DATA, and names the variable when its folder holds no store', async () => {
    const stored = await folderWithRevokedNode();
    const empty = folder();
    const flagWins = await runCli(['query', 'revocations', '--json', '--data', stored], { CREDENCE_DATA: empty });
    expect(flagWins.code, flagWins.err).toBe(0);
    expect(flagWins.out).toContain('node-meter-1');
    const none = await runCli(['history', 'node-meter-1'], { CREDENCE_DATA: empty });
    expect(none.code).toBe(2);
    expect(none.err).toContain(`env CREDENCE_DATA: no event store in ${empty}`);
  });
});
