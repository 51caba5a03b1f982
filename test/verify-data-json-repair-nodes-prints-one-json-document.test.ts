import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { lockDataFolder } from '../adapters/runtime/data-folder.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { capture } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * `credence verify --data DIR --json --repair-nodes` audited, repaired, audited again and printed each audit's JSON:
 * two documents on stdout, which no JSON reader takes. It prints one: the audit after the repair, and under `repaired`
 * what the first audit found and how many stored subtree hashes were written again.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const verifyJson = async (dir: string): Promise<{ code: number; out: string; err: string }> => {
  const c = capture();
  const key = readFileSync(join(dir, 'transparency.pub'), 'utf8').trim();
  const code = await verifyCommand(['--data', dir, '--key', key, '--json', '--repair-nodes'], c.io);
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

/** A folder of 8 events logged and signed by an export, one stored subtree hash of its log changed. */
const folderWithOneWrongSubtreeHash = async (): Promise<string> => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, 8);
  await store.close();
  const c = capture();
  expect(await exportCommand(['credential-meter-1', '--out', join(dir, 'bundle.json'), '--data', dir], c.io), c.err.join('\n')).toBe(0);
  const db = new Database(join(dir, 'transparency.db'));
  db.prepare('UPDATE nodes SET hash = randomblob(32) WHERE level = 2 AND idx = 1').run();
  db.close();
  return dir;
};

describe('verify --data --json --repair-nodes', () => {
  it('prints one JSON document: the audit after the repair, with what was found and repaired', async () => {
    const dir = await folderWithOneWrongSubtreeHash();
    const result = await verifyJson(dir);
    expect(result.code, result.err).toBe(0);
    const document: unknown = JSON.parse(result.out);
    expect(document).toMatchObject({
      ok: true,
      checkedEvents: 8,
      repaired: { subtreeHashes: 7, found: { ok: false, kind: 'node_mismatch', message: expect.stringMatching(/level 2, index 1/) } },
    });
  });

  it('prints one JSON document, the refusal, when the folder is held and nothing is repaired', async () => {
    const dir = await folderWithOneWrongSubtreeHash();
    const held = lockDataFolder(dir);
    try {
      const result = await verifyJson(dir);
      expect(result.code).toBe(1);
      expect(JSON.parse(result.out)).toMatchObject({ type: expect.stringMatching(/validation$/), errors: [{ path: 'data', rule: 'unlocked' }] });
      expect(result.out).toMatch(/is in use by .*stop that service first/);
    } finally {
      held.release();
    }
  });

  it('prints the one audit, without `repaired`, when there was nothing to repair', async () => {
    const dir = await folderWithOneWrongSubtreeHash();
    expect((await verifyJson(dir)).code).toBe(0);
    const again = await verifyJson(dir);
    expect(again.code, again.err).toBe(0);
    const document = JSON.parse(again.out) as Record<string, unknown>;
    expect(document).toMatchObject({ ok: true, checkedEvents: 8 });
    expect(document).not.toHaveProperty('repaired');
  });
});
