import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { readEventsDbInDir } from '../../adapters/driven/store/index.ts';
import { eventLeafHash, MemoryTree } from '../../domain/transparency/index.ts';

/**
 * What someone who can write the data folder but not use the log key does: event `position` edited in events.db, its
 * leaf and every stored subtree hash recomputed in transparency.db, so the files agree with each other.
 */
export const rewriteBothFiles = (dir: string, position = 2): void => {
  const events = new Database(join(dir, 'events.db'));
  events.prepare(`UPDATE events SET data = json_set(data, '$.label', 'forged') WHERE position = ?`).run(position);
  events.close();
  const rows = [...readEventsDbInDir(dir)].map((row) => {
    if (!row.ok) throw new Error('fixture: every row parses');
    return row.event;
  });
  const db = new Database(join(dir, 'transparency.db'));
  db.prepare('UPDATE leaves SET leaf_hash = ? WHERE position = ?').run(eventLeafHash(rows[position - 1]!), position);
  const tree = new MemoryTree(rows.map(eventLeafHash));
  const nodes = db.prepare('SELECT level, idx FROM nodes').all() as { level: number; idx: number }[];
  const update = db.prepare('UPDATE nodes SET hash = ? WHERE level = ? AND idx = ?');
  for (const { level, idx } of nodes) update.run(tree.nodeHash(Number(level), Number(idx)), level, idx);
  db.close();
  // The first event rewritten: the folder's memory of it goes too (first-event-of-the-folder.ts), as whoever writes the
  // folder can; what still holds them to the old history is what lies outside it, the log key and its witness.
  if (position === 1) rmSync(join(dir, 'first-event.json'), { force: true });
};

/** And the checkpoints the key signed over the old history removed, so nothing in the folder remembers them. */
export const removeCheckpoints = (dir: string): void => {
  const db = new Database(join(dir, 'transparency.db'));
  db.exec('DELETE FROM checkpoints');
  db.close();
};
