import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { capture } from './support/cli.ts';
import { exportedFolder } from './support/exported-folder.ts';
import { tempDirs } from './transparency-fixtures.ts';

/*
 * Review 167 F3. Both files altered: leaves 2 and 3 zeroed in transparency.db (the path of leaf 2, position 3, with
 * them), and event 7 edited in events.db (or its row made unreadable). The stored events no longer hash to the signed
 * root, so the store was altered, but nothing says where: the audit named the event at the first disagreement,
 * "event …0002 at position 3 was edited", though event 3 is untouched. It now says what it knows: the stored events
 * miss the signed root, first disagreeing with the log at position 3; a row that does not parse, at its own position.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const alter = (dir: string, file: string, sql: string): void => {
  const db = new Database(join(dir, file));
  db.exec(sql);
  db.close();
};
const audit = async (dir: string) => {
  const key = readFileSync(join(dir, 'transparency.pub'), 'utf8').trim();
  const text = capture();
  const code = await verifyCommand(['--data', dir, '--key', key], text.io);
  const json = capture();
  await verifyCommand(['--data', dir, '--key', key, '--json'], json.io);
  return { code, err: text.err.join('\n'), document: JSON.parse(json.out.join('\n') || 'null') as unknown };
};
const zeroLeaves2And3 = (dir: string) => alter(dir, 'transparency.db', 'UPDATE leaves SET leaf_hash = zeroblob(32) WHERE leaf_index IN (2, 3)');

describe('verify --data over leaves zeroed in transparency.db and a later event altered in events.db', () => {
  it('event 7 edited: the stored events no longer hash to the signed root, first disagreeing at position 3; event 3 is not named', async () => {
    const { dir } = await exportedFolder(dirs, 9);
    zeroLeaves2And3(dir);
    alter(dir, 'events.db', `UPDATE events SET data = json_set(data, '$.label', 'forged') WHERE position = 7`);
    const result = await audit(dir);
    expect(result.code, result.err).toBe(1);
    expect(result.err).toMatch(/^TAMPERED: edited at position 3: the stored events no longer hash to the signed root \(first disagreement with the log at position 3\)/);
    expect(result.err).not.toMatch(/was edited/);
    expect(result.document).toMatchObject({ ok: false, kind: 'edited', position: '3' });
  });

  it('row 7 unparseable: that row is named at its position', async () => {
    const { dir } = await exportedFolder(dirs, 9);
    zeroLeaves2And3(dir);
    alter(dir, 'events.db', `UPDATE events SET data = '{not json' WHERE position = 7`);
    const result = await audit(dir);
    expect(result.code, result.err).toBe(1);
    expect(result.err).toMatch(/^TAMPERED: edited at position 3: the stored row at position 7 does not parse \(.+\), so the stored events no longer hash to the signed root \(first disagreement with the log at position 3\)/);
    expect(result.err).not.toMatch(/event \S+ at position 3 was edited/);
    expect(result.document).toMatchObject({ ok: false, kind: 'edited' });
  });

  it('event 3 itself edited and only events.db altered: still named (the log vouches for its own leaf there)', async () => {
    const { dir } = await exportedFolder(dirs, 9);
    alter(dir, 'events.db', `UPDATE events SET data = json_set(data, '$.label', 'forged') WHERE position = 3`);
    const result = await audit(dir);
    expect(result.code, result.err).toBe(1);
    expect(result.err).toMatch(/^TAMPERED: edited at position 3: event \S+ at position 3 was edited/);
  });
});
