import { basename, join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { verifiedOnceWithNodesAfter } from './support/replay-checkpoint-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/**
 * The checkpoint's folder refusing the write as an immutable file or a read-only or full disk does (`chattr +i`,
 * EROFS, ENOSPC): root passes any mode bits, so the failure is injected where the file is written, as the OS gives it.
 */
const refuse = vi.hoisted(() => ({ checkpoint: false }));
vi.mock('../adapters/driven/files/atomic-write.ts', async (original) => {
  const real = await original<typeof import('../adapters/driven/files/atomic-write.ts')>();
  return {
    ...real,
    writeFileAtomic: (...args: Parameters<typeof real.writeFileAtomic>) => {
      const [path] = args;
      if (refuse.checkpoint && basename(path) === 'replay-checkpoint.json') {
        const temp = join(path, '..', `.replay-checkpoint.json.${process.pid}.0123456789ab.tmp`);
        throw Object.assign(new Error(`EPERM: operation not permitted, rename '${temp}' -> '${path}'`), { errno: -1, code: 'EPERM', syscall: 'rename', path: temp, dest: path });
      }
      return real.writeFileAtomic(...args);
    },
    writeFileAtomicFrom: (...args: Parameters<typeof real.writeFileAtomicFrom>) => {
      const [path] = args;
      if (refuse.checkpoint && basename(path) === 'replay-checkpoint.json') {
        const temp = join(path, '..', `.replay-checkpoint.json.${process.pid}.0123456789ab.tmp`);
        throw Object.assign(new Error(`EPERM: operation not permitted, rename '${temp}' -> '${path}'`), { errno: -1, code: 'EPERM', syscall: 'rename', path: temp, dest: path });
      }
      return real.writeFileAtomicFrom(...args);
    },
  };
});

/*
 * Review 228, finding 1: an incremental `credence replay` whose checkpoint could not be written took the write error
 * for "going on from it failed", verified the whole log again, and that run's save threw: no verdict, a raw
 * `error: EPERM: … rename '.replay-checkpoint.json.…tmp'`, exit 1 ("broken history"). The verdict now stands with its
 * exit code, and the unsaved checkpoint is a note naming the file and the OS reason.
 */
describe('credence replay whose checkpoint cannot be saved', () => {
  const folder = temporaryFolders('credence-replay-unsavable-');

  it('gives the verdict it reached from the checkpoint, exit 0, and says the file and why it was not saved', async () => {
    // Given a folder verified once, with events after its checkpoint
    const dir = join(folder(), 'data');
    await verifiedOnceWithNodesAfter(dir, ['meter-2']);

    // When the checkpoint cannot be written
    refuse.checkpoint = true;
    try {
      const text = capture();
      const code = await main(['replay', '--data', dir], text.io);

      // Then the verdict is the one gone on from the checkpoint, not a second one in full, and its exit code stands
      expect(code).toBe(0);
      expect(text.out[0]).toMatch(/^replayed \d+ events \(1 new after the checkpoint at position \d+;/);
      expect(text.out).toContain('verdict: every stored transition is legal');
      expect(text.out.join('\n')).not.toMatch(/going on from it failed|verified in full/);
      const path = join(dir, 'replay-checkpoint.json');
      const said = text.err.join('\n');
      expect(said).toContain(`credence replay: the replay checkpoint is not saved: ${path} cannot be written: operation not permitted (EPERM)`);
      expect(said).not.toMatch(/^error:|\.tmp|\n\s+at /m);

      const json = capture();
      expect(await main(['replay', '--data', dir, '--json'], json.io)).toBe(0);
      const verdict = JSON.parse(json.out.join('\n')) as { ok: boolean; verification: { mode: string; notes: string[] } };
      expect(verdict).toMatchObject({ ok: true, verification: { mode: 'incremental' } });
      expect(verdict.verification.notes).toContain(`the replay checkpoint is not saved: ${path} cannot be written: operation not permitted (EPERM)`);
    } finally {
      refuse.checkpoint = false;
    }
  }, 60_000);
});
