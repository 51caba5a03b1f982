import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyInDir, openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { runCli } from './support/cli.ts';
import { at, cmd, placeholderKey, rejection, T0 } from './support/fleet.ts';
import { tempDirs } from './transparency-fixtures.ts';
import { nameTheFingerprintTwice, twoMetersAndCred1 } from './support/fingerprint-named-twice.ts';

/*
 * Review 321: SQLite's json_extract reads the first of two members of one name, JSON.parse the last. An insider who put
 * `"fingerprint":"<other>",` before the real one in cred-1's CredentialIssued row changed nothing the parsed event
 * says, so the leaf hash and the replay digest still matched and `verify --data` passed; while the SER-010 index
 * (json_extract) filed cred-1 under the other key, and the engine issued cred-2 on cred-1's real key.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

/** A folder holding cred-1 of meter-1, its log signed over it (an export signs), and that checkpoint kept. */
const folder = async (): Promise<{ dir: string; saved: string; position: bigint }> => {
  const dir = dirs.make();
  const position = await twoMetersAndCred1(dir);
  openTransparencyInDir(dir).log.close();
  expect((await runCli(['export', 'credential-cred-1', '--out', join(dirs.make(), 'b.json'), '--data', dir])).code).toBe(0);
  const log = openTransparencyLogInDir(dir);
  const saved = join(dirs.make(), 'saved.txt');
  writeFileSync(saved, log.latestCheckpoint()!.note);
  log.close();
  return { dir, saved, position };
};

describe('a CredentialIssued row edited to name its fingerprint twice', () => {
  it('is reported by verify --data as edited at its position, naming the member', async () => {
    const { dir, saved, position } = await folder();
    const key = join(dir, 'transparency.pub');
    expect((await runCli(['verify', '--data', dir, '--key', key, '--checkpoint', saved])).code).toBe(0);
    nameTheFingerprintTwice(dir);
    const audit = await runCli(['verify', '--data', dir, '--key', key, '--checkpoint', saved]);
    expect(audit.code, audit.err).toBe(1);
    expect(audit.err).toContain(`TAMPERED: edited at position ${position}: the row at position ${position} was edited: data`);
    expect(audit.err).toContain('fingerprint');
    expect(audit.err).toContain('names a member its object names already');
  }, 60_000);

  it('certifies no key anew: issuing cred-2 on cred-1 real key is refused naming the row, not accepted', async () => {
    const { dir, position } = await folder();
    nameTheFingerprintTwice(dir);
    const store = openSqliteStoreInDir(dir);
    try {
      const engine = createEngine({ store, clock: new FakeClock(T0) });
      const refused = await rejection(engine.execute(cmd.issueCredential('cred-2', 'meter-2', at(90), placeholderKey('cred-1'))));
      expect(refused.code).toBe('damaged_database');
      expect(refused.message).toContain(`position ${position}`);
      expect(refused.message).toContain('events.db');
      expect(await store.readStream('credential-cred-2')).toEqual([]);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('is refused as a member SQLite reads as "fingerprint" twice, also when its name only reads so (a NUL after it)', async () => {
    for (const label of ['fingerprint', 'fingerprint\\u0000']) {
      const { dir, position } = await folder();
      nameTheFingerprintTwice(dir, label);
      const store = openSqliteStoreInDir(dir);
      try {
        const engine = createEngine({ store, clock: new FakeClock(T0) });
        const refused = await rejection(engine.execute(cmd.issueCredential('cred-2', 'meter-2', at(90), placeholderKey('cred-1'))));
        expect(refused.code, label).toBe('damaged_database');
        expect(refused.message).toContain(`position ${position} has a member SQLite reads as "fingerprint" twice`);
        expect(refused.message).not.toContain('names "fingerprint" twice');
      } finally {
        await store.close();
      }
    }
  }, 60_000);
});
