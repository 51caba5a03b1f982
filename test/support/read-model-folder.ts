import Database from 'better-sqlite3';
import { join } from 'node:path';
import { cmd } from './fleet.ts';
import { withStoreAndReadModels } from './restored-folder.ts';

/** The events of `types` in the folder's store: what a rebuild of their read model reads. */
export const eventsOf = (dir: string, types: readonly string[]): number => {
  const db = new Database(join(dir, 'events.db'), { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM events WHERE type IN (${types.map(() => '?').join(', ')})`).get(...types) as { n: number }).n;
  } finally {
    db.close();
  }
};

/** What an upgrade of read model `name` leaves: its tables written under the version before. */
export const writtenByTheVersionBefore = (dir: string, name: string): void => {
  const db = new Database(join(dir, 'readmodels.db'));
  try {
    db.prepare('UPDATE projection_schemas SET version = version - 1 WHERE name = ?').run(name);
  } finally {
    db.close();
  }
};

/** A folder whose store holds a subscription and `nodes` nodes registered and enrolled under it, its read models built. */
export const enrolledFleetIn = (dir: string, nodes: number): Promise<void> =>
  withStoreAndReadModels(dir, async ({ engine }) => {
    await engine.execute(cmd.createSubscription());
    for (let n = 0; n < nodes; n++) {
      await engine.execute(cmd.registerNode(`meter-${n}`));
      await engine.execute(cmd.enrolNode(`meter-${n}`));
    }
  });
