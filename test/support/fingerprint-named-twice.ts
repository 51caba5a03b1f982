import Database from 'better-sqlite3';
import { join } from 'node:path';
import { expect } from 'vitest';
import { FakeClock } from '../../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../../adapters/driven/store/index.ts';
import { createEngine } from '../../adapters/engine/index.ts';
import { at, cmd, placeholderKey, T0 } from './fleet.ts';

/** The key cred-1 is issued on, and one nobody certified, which an edit of cred-1's row names first (reviews 321, 325). */
export const REAL_KEY = placeholderKey('cred-1').fingerprint;
export const OTHER_KEY = placeholderKey('a key nobody certified').fingerprint;

/**
 * A data folder in `dir` holding meter-1 and meter-2, enrolled, and cred-1 issued to meter-1 (and, with `cred3`, cred-3
 * to meter-2 on its own key), its store closed: the position of cred-1's CredentialIssued row.
 */
export const twoMetersAndCred1 = async (dir: string, { cred3 = false } = {}): Promise<bigint> => {
  const store = openSqliteStoreInDir(dir);
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  for (const c of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.registerNode('meter-2'), cmd.enrolNode('meter-1'), cmd.enrolNode('meter-2')]) {
    await engine.execute(c);
  }
  await engine.execute(cmd.issueCredential('cred-1', 'meter-1', at(90)));
  if (cred3) await engine.execute(cmd.issueCredential('cred-3', 'meter-2', at(90)));
  const position = (await store.readStream('credential-cred-1'))[0]!.position;
  await store.close();
  return position;
};

/** cred-1's CredentialIssued row edited by hand to name `label` (by default "fingerprint" again) with OTHER_KEY first. */
export const nameTheFingerprintTwice = (dir: string, label = 'fingerprint'): void => {
  const db = new Database(join(dir, 'events.db'));
  const changed = db
    .prepare(`UPDATE events SET data = replace(data, ?, ?) WHERE type = 'CredentialIssued' AND stream_id = 'credential-cred-1'`)
    .run(`"fingerprint":"${REAL_KEY}"`, `"${label}":"${OTHER_KEY}","fingerprint":"${REAL_KEY}"`);
  db.close();
  expect(changed.changes).toBe(1);
};
