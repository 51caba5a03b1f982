import { execFileSync } from 'node:child_process';
import { readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CheckpointFile } from '../adapters/driven/replay-checkpoint/checkpoint-file.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { verifyFleet } from '../adapters/replay-workers/verify-fleet.ts';
import type { ReplayCheckpoint } from '../projections/replay/checkpoint.ts';
import type { KeptBeside } from '../projections/replay/kept-beside.ts';
import { streamIdOf } from '../domain/streams.ts';
import { cmd, establishOne, fixture } from './support/fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 447: the replay checkpoint was written as one JSON.stringify string and read as one readFileSync string. V8's
 * longest string is 536,870,888 characters, about 3.2 million events of the bench's lifecycle mix: past that it could
 * not be saved ("checkpoint not saved"), and every later `credence replay` verified in full. The file is now written a
 * line per element of the arrays that grow with the log, behind a first line that says how many of each follow, and
 * read back a line at a time; a file of the earlier single-line form is still read.
 */

/** A keeper that remembers the checkpoint (and what is kept beside it) the run gave it to save. */
class Remembering extends CheckpointFile {
  saved: { checkpoint: ReplayCheckpoint; beside: KeptBeside | undefined } | undefined;
  override save(checkpoint: ReplayCheckpoint, beside?: KeptBeside): string | undefined {
    this.saved = { checkpoint, beside };
    return super.save(checkpoint, beside);
  }
}

const verifiedOnce = async (dir: string): Promise<{ file: Remembering; checkpoint: ReplayCheckpoint; beside: KeptBeside | undefined }> => {
  const store = openSqliteStoreInDir(dir);
  try {
    const { engine } = fixture(store);
    await establishOne(engine);
    for (const id of ['meter-2', 'meter-3']) await engine.execute(cmd.registerNode(id));
    const file = new Remembering(dir);
    const result = await verifyFleet(store, { checkpoint: file });
    expect(result.mode).toBe('full');
    return { file, checkpoint: file.saved!.checkpoint, beside: file.saved!.beside };
  } finally {
    await store.close();
  }
};

const linesOf = (path: string): string[] => readFileSync(path, 'utf8').split('\n');

/** A checkpoint of `n` more node entities than `checkpoint`, each a copy of its first node under another id. */
const grown = (checkpoint: ReplayCheckpoint, n: number): ReplayCheckpoint => {
  const node = checkpoint.entities.find((e) => e[1] === 'node')!;
  const more = Array.from({ length: n }, (_, i): ReplayCheckpoint['entities'][number] => {
    const id = `copy-${i}`;
    return [streamIdOf('node', id), 'node', id, node[3], { ...node[4], nodeId: id }, ...node.slice(5)] as never;
  });
  return { ...checkpoint, entities: [...checkpoint.entities, ...more], entitiesPerKind: { ...checkpoint.entitiesPerKind, node: checkpoint.entitiesPerKind.node + n } };
};

describe('the replay checkpoint is written line by line, past the longest string', () => {
  const folder = temporaryFolders('credence-checkpoint-lines-');
  afterEach(() => vi.restoreAllMocks());

  it('round-trips through save and load equal to the checkpoint, what is kept beside it on the first line', async () => {
    const dir = join(folder(), 'data');
    const { file, checkpoint, beside } = await verifiedOnce(dir);
    expect(file.load()).toEqual({ ok: true, checkpoint, ...beside });

    const altered = { position: '3', reason: 'an event was changed', foundAt: '2026-01-02T00:00:00.000Z' };
    file.save(checkpoint, { ...beside, altered });
    const lines = linesOf(file.path);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({ format: 2, position: checkpoint.position, altered, lines: { entities: checkpoint.entities.length, commandIds: checkpoint.commandIds.length } });
    expect(first).not.toHaveProperty('entities');
    // One line per element of each array, then the end of the file.
    const counts = first['lines'] as Record<string, number>;
    expect(lines.length).toBe(1 + Object.values(counts).reduce((a, b) => a + b, 0) + 1);
    expect(lines.at(-1)).toBe('');
    expect(JSON.parse(lines[1 + (counts['findings'] ?? 0)]!)).toEqual(checkpoint.entities[0]);
    expect(new CheckpointFile(dir).load()).toEqual({ ok: true, checkpoint, ...beside, altered });
  }, 60_000);

  it('still reads a file of the earlier single-line form, and the next save writes lines', async () => {
    const dir = join(folder(), 'data');
    const { file, checkpoint, beside } = await verifiedOnce(dir);
    writeFileSync(file.path, JSON.stringify({ ...checkpoint, ...beside }));
    const earlier = new CheckpointFile(dir);
    expect(earlier.load()).toEqual({ ok: true, checkpoint, ...beside });
    expect(earlier.save(checkpoint, beside)).toBeUndefined();
    expect(linesOf(file.path).length).toBeGreaterThan(2);
    expect(new CheckpointFile(dir).load()).toEqual({ ok: true, checkpoint, ...beside });
  }, 60_000);

  const refusals: [string, (lines: string[]) => string][] = [
    ['a line removed', (lines) => [...lines.slice(0, 2), ...lines.slice(3)].join('\n')],
    [
      'a count raised',
      (lines) => {
        const first = JSON.parse(lines[0]!) as { lines: Record<string, number> };
        first.lines['entities']! += 1;
        return [JSON.stringify(first), ...lines.slice(1)].join('\n');
      },
    ],
    [
      'a count lowered',
      (lines) => {
        const first = JSON.parse(lines[0]!) as { lines: Record<string, number> };
        first.lines['entities']! -= 1;
        return [JSON.stringify(first), ...lines.slice(1)].join('\n');
      },
    ],
    ['trailing garbage', (lines) => `${lines.join('\n')}[]\n`],
    ['its last line without its end', (lines) => lines.join('\n').slice(0, -1)],
    ['a line cut short', (lines) => [lines[0], lines[1]!.slice(0, 10), ...lines.slice(2)].join('\n')],
    ['a count that is no count', (lines) => [lines[0]!.replace(/"lines":\{/, '"lines":{"__proto__":1,'), ...lines.slice(1)].join('\n')],
  ];
  for (const [what, edit] of refusals) {
    it(`refuses a file with ${what} as unreadable, never a throw, and the next save moves it aside`, async () => {
      const dir = join(folder(), 'data');
      const { file, checkpoint, beside } = await verifiedOnce(dir);
      const text = edit(linesOf(file.path));
      writeFileSync(file.path, text);
      const reader = new CheckpointFile(dir);
      const loaded = reader.load();
      expect(loaded).toMatchObject({ ok: false, problem: expect.stringContaining(file.path) as string });
      expect(reader.save(checkpoint, beside)).toContain('could not be read: moved to');
      expect(readFileSync(reader.asidePath, 'utf8')).toBe(text);
      expect(new CheckpointFile(dir).load()).toEqual({ ok: true, checkpoint, ...beside });
    }, 60_000);
  }

  it('reports the alteration a file refused for its lines records on its first line', async () => {
    const dir = join(folder(), 'data');
    const { file, checkpoint, beside } = await verifiedOnce(dir);
    file.save(checkpoint, { ...beside, altered: { position: '3', reason: 'changed', foundAt: '2026-01-02T00:00:00.000Z' } });
    truncateSync(file.path, readFileSync(file.path).length - 5);
    expect(new CheckpointFile(dir).load()).toMatchObject({ ok: false, altered: { position: '3' } });
  }, 60_000);

  it('reports the alteration a file records on its first line when the line count of that line is damaged (review 454)', async () => {
    const dir = join(folder(), 'data');
    const { file, checkpoint, beside } = await verifiedOnce(dir);
    file.save(checkpoint, { ...beside, altered: { position: '3', reason: 'changed', foundAt: '2026-01-02T00:00:00.000Z' } });
    const lines = linesOf(file.path);
    lines[0] = lines[0]!.replace('"lines":', '"linez":');
    writeFileSync(file.path, lines.join('\n'));
    expect(new CheckpointFile(dir).load()).toMatchObject({ ok: false, problem: expect.stringContaining('counts no lines'), altered: { position: '3' } });
  }, 60_000);

  it('refuses a device or a pipe at the checkpoint\'s name at once, as no regular file (review 454)', () => {
    const dir = folder();
    symlinkSync('/dev/zero', join(dir, 'replay-checkpoint.json'));
    expect(new CheckpointFile(dir).load()).toEqual({ ok: false, problem: `${join(dir, 'replay-checkpoint.json')} is not a regular file` });
    const piped = folder();
    execFileSync('mkfifo', [join(piped, 'replay-checkpoint.json')]);
    expect(new CheckpointFile(piped).load()).toEqual({ ok: false, problem: `${join(piped, 'replay-checkpoint.json')} is not a regular file` });
  });

  it('never builds one string of the whole checkpoint', async () => {
    const dir = join(folder(), 'data');
    const { file, checkpoint, beside } = await verifiedOnce(dir);
    const large = grown(checkpoint, 20_000);
    const stringify = JSON.stringify.bind(JSON);
    let longest = 0;
    vi.spyOn(JSON, 'stringify').mockImplementation((...args: Parameters<typeof JSON.stringify>) => {
      const text = stringify(...args);
      longest = Math.max(longest, text?.length ?? 0);
      return text;
    });
    file.save(large, beside);
    vi.restoreAllMocks();
    const size = readFileSync(file.path).length;
    expect(size).toBeGreaterThan(4_000_000);
    expect(longest).toBeLessThan(size / 100);
    expect(new CheckpointFile(dir).load()).toEqual({ ok: true, checkpoint: large, ...beside });
  }, 60_000);
});
