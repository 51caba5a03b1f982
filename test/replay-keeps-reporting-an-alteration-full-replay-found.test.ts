import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { main } from '../bin/cli.ts';
import { command } from '../domain/commands/index.ts';
import { capture } from './support/cli.ts';
import { cmd, fixture, operator } from './support/fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { readCheckpointFileJson } from '../adapters/driven/replay-checkpoint/checkpoint-file.ts';

/*
 * After review 371 #2: once `credence replay --full` had found the history behind the checkpoint altered, it kept the
 * checkpoint of the verified history (docs/performance.md: "so the alteration is reported again until someone removes
 * the file"), but the next plain run checked only the tip the checkpoint ends on, went on from it, said every
 * transition was legal (exit 0, --json ok: true) and saved over the kept checkpoint: the evidence was gone. The kept
 * checkpoint now records the alteration; every run reports it (exit 1) and never saves over it until it is removed.
 *
 * After review 376 #3: the recorded alteration made invalid by hand (`foundAt: "yesterday"`) had the file refused by
 * its schema, moved aside with a note, and every later run said all was legal (exit 0). A file that cannot be read but
 * holds an `altered` member is now reported as the alteration it records, and kept where it is.
 */
describe('credence replay after a full replay found the history altered', () => {
  const folder = temporaryFolders('credence-replay-altered-kept-');

  const run = async (...args: string[]) => {
    const c = capture();
    const code = await main(['replay', ...args], c.io);
    return { code, out: c.out };
  };

  it('reports the alteration on every later run, plain or full, and keeps the checkpoint as it was', async () => {
    const dir = join(folder(), 'data');
    const store = openSqliteStoreInDir(dir);
    const { engine } = fixture(store);
    await engine.execute(cmd.registerNode('meter-1'));
    await engine.execute(cmd.registerNode('meter-2'));
    await engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await engine.execute(cmd.registerNode('meter-3'));
    await store.close();
    expect((await run('--data', dir)).code).toBe(0);
    const path = join(dir, 'replay-checkpoint.json');

    // An event behind the checkpoint's tip altered in place: still legal for the machines
    const db = new Database(join(dir, 'events.db'));
    db.prepare(`UPDATE events SET data = json_set(data, '$.reason', 'superseded') WHERE type = 'NodeRevoked'`).run();
    db.close();

    const full = await run('--data', dir, '--full');
    expect(full.code).toBe(1);
    expect(full.out.some((l) => l.startsWith('history altered: '))).toBe(true);
    const writtenAt = (readCheckpointFileJson(path) as { writtenAt: string }).writtenAt;

    // A plain run does not go on from it: it reports the alteration, names the file to remove, exit 1
    const plain = await run('--data', dir, '--json');
    expect(plain.code).toBe(1);
    const verdict = JSON.parse(plain.out.join('\n')) as { ok: boolean; verification: { altered?: { reason: string }; notes: string[] } };
    expect(verdict.ok).toBe(false);
    expect(verdict.verification.altered?.reason).toBeDefined();
    expect(JSON.stringify(verdict.verification)).toContain(path);
    const text = await run('--data', dir);
    expect(text.code).toBe(1);
    expect(text.out.some((l) => l.startsWith('history altered: '))).toBe(true);

    // And no run saves over the kept checkpoint
    expect((await run('--data', dir, '--full')).code).toBe(1);
    expect((readCheckpointFileJson(path) as { writtenAt: string }).writtenAt).toBe(writtenAt);

    // The recorded alteration made invalid by hand: the file is not read, yet what it records is still reported
    const edited = readCheckpointFileJson(path) as { altered: Record<string, unknown> };
    edited.altered['foundAt'] = 'yesterday';
    writeFileSync(path, JSON.stringify(edited));
    for (const args of [['--data', dir], ['--data', dir, '--json'], ['--data', dir]]) {
      const again = await run(...args);
      expect(again.code, again.out.join('\n')).toBe(1);
      expect(again.out.join('\n')).toContain(path);
    }
    expect(existsSync(`${path}.unreadable`)).toBe(false);
    expect((readCheckpointFileJson(path) as { writtenAt: string }).writtenAt).toBe(writtenAt);

    // Once the file is removed, the history as it now stands is verified and checkpointed again
    rmSync(path);
    expect((await run('--data', dir)).code).toBe(0);
    expect((await run('--data', dir)).code).toBe(0);
  });
});
