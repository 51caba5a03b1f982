import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { main } from '../bin/cli.ts';
import { cmd, establishOne, fixture } from './support/fleet.ts';
import { dataDirs } from './replay.fixtures.ts';
import { capture } from './support/cli.ts';

/*
 * Review 284 #1: `replay --data A --store sqlite:B` read and wrote A's replay checkpoint for B's events. Without one in
 * A it wrote B's into A, and every later `replay --data A` said "history altered"; with A's own, B was reported as
 * "another history", exit 1. The folder's checkpoint is the folder's store's alone: another store is verified in full.
 */
describe("credence replay of a store that is not the data folder's own", () => {
  const dataDir = dataDirs('credence-replay-other-store-');
  // Review 294 L2: worded by what the note knows (a --store other than the folder's events.db), since the folder's own
  // EventStoreDB named by --store gets it too; CREDENCE_STORE is how to go on from the checkpoint.
  const WORDS =
    "a store named by --store other than the folder's own events.db is verified in full and the folder's replay checkpoint is neither read nor written (set CREDENCE_STORE, as the service does, to go on from it)";
  const NOTE = `  note: ${WORDS}`;

  /** A: a short history of its own; B: a longer, other one. */
  const twoFolders = async (): Promise<{ a: string; b: string }> => {
    const a = dataDir();
    let store = openSqliteStoreInDir(a);
    await fixture(store).engine.execute(cmd.registerNode('meter-a'));
    await store.close();
    const b = dataDir();
    store = openSqliteStoreInDir(b);
    await establishOne(fixture(store).engine);
    await store.close();
    return { a, b };
  };

  it('writes no checkpoint into a folder that had none, and the folder replays as before', async () => {
    const { a, b } = await twoFolders();
    const checkpoint = join(a, 'replay-checkpoint.json');

    const other = capture();
    expect(await main(['replay', '--data', a, '--store', `sqlite:${b}`], other.io)).toBe(0);
    const written = { intoA: existsSync(checkpoint), intoB: existsSync(join(b, 'replay-checkpoint.json')) };

    // The folder's own replay is not taken for an altered history.
    const own = capture();
    const code = await main(['replay', '--data', a], own.io);
    expect(own.out.join('\n')).not.toContain('history altered');
    expect(code).toBe(0);
    expect(written).toEqual({ intoA: false, intoB: false });
    expect(other.out).toContain(NOTE);
    expect(other.out).toContain('verdict: every stored transition is legal');
    expect(own.out).not.toContain(NOTE);
    expect(existsSync(checkpoint)).toBe(true);
  });

  it("neither reads nor rewrites the folder's checkpoint: the other store's verdict is its own", async () => {
    const { a, b } = await twoFolders();
    const checkpoint = join(a, 'replay-checkpoint.json');
    expect(await main(['replay', '--data', a], capture().io)).toBe(0);
    const before = readFileSync(checkpoint);

    for (const extra of [[], ['--full'], ['--json']]) {
      const other = capture();
      const code = await main(['replay', '--data', a, '--store', `sqlite:${b}`, ...extra], other.io);
      const said = other.out.join('\n');
      expect(said).not.toContain('history altered');
      expect(said).not.toContain('another history');
      expect(code).toBe(0);
      if (extra[0] === '--json') {
        const verdict = JSON.parse(said);
        expect(verdict).toMatchObject({ ok: true, verification: { mode: 'full' } });
        expect(verdict.verification.notes).toContainEqual(WORDS);
      } else {
        expect(other.out).toContain(NOTE);
        expect(other.out).toContain('verdict: every stored transition is legal');
      }
      expect(readFileSync(checkpoint).equals(before)).toBe(true);
    }

    const own = capture();
    expect(await main(['replay', '--data', a], own.io)).toBe(0);
    expect(own.out[0]).toMatch(/new after the checkpoint at position/);
  });
});
