import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { main } from '../bin/cli.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { cannedServer } from './support/canned-server.ts';
import { capture } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * Found in review. `credence verify --server --from A` sorted the two checkpoints by size, so a server answering
 * with an older checkpoint (a log rolled back) passed as extending A; `verify <stream> --server` and
 * `export <stream> --server` took a genuine bundle of another stream as the one asked for; and `export --store
 * sqlite:DIR` without --data made a new log, with a new key, in ./data instead of using DIR's.
 */

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const dataDir = async (events: number): Promise<string> => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, events);
  await store.close();
  return dir;
};
const exportTo = async (stream: string, file: string, location: string[]) => {
  const c = capture();
  return { code: await exportCommand([stream, '--out', file, ...location], c.io), out: c.out.join('\n'), err: c.err.join('\n') };
};
const hashes = (list: readonly Uint8Array[]): string[] => list.map((h) => Buffer.from(h).toString('base64url'));

describe('against a server that answers something else than was asked', () => {
  const { answers, url: served } = cannedServer();
  const cli = async (argv: string[]) => {
    const c = capture();
    return { code: await main(argv, { ...c.io, env: { CREDENCE_TOKEN: 'a.b.c' } }), out: c.out.join('\n'), err: c.err.join('\n') };
  };

  it('verify --from fails when the server answers with an older checkpoint, and says so when nothing was appended', async () => {
    const dir = await dataDir(5);
    expect((await exportTo('credential-meter-1', join(dir, 'a.json'), ['--data', dir])).code).toBe(0);
    const store = openSqliteStoreInDir(dir);
    await appendEvents(store, 4, 5);
    await store.close();
    expect((await exportTo('credential-meter-1', join(dir, 'b.json'), ['--data', dir])).code).toBe(0);
    const log = openTransparencyLogInDir(dir);
    const [cp5, cp9] = [log.checkpointAt(5)!, log.checkpointAt(9)!];
    const proof = log.consistencyProof(5, 9);
    log.close();
    const saved = join(dir, 'saved-9.txt');
    writeFileSync(saved, cp9.note);
    const key = join(dir, 'transparency.pub');
    answers.set('/v1/transparency/proofs/consistency', JSON.stringify({ proof: { first: 5, second: 9, hashes: hashes(proof) }, from: cp9.note, to: cp5.note }));
    const rolledBack = await cli(['verify', '--server', served(), '--from', saved, '--key', key]);
    expect(rolledBack.code).toBe(1);
    expect(rolledBack.err).toMatch(/FAILED \(rollback\)/);
    answers.set('/v1/transparency/proofs/consistency', JSON.stringify({ proof: { first: 9, second: 9, hashes: [] }, from: cp9.note, to: cp9.note }));
    const same = await cli(['verify', '--server', served(), '--from', saved, '--key', key]);
    expect(same.code).toBe(0);
    expect(same.out).toMatch(/the tree of size 9 itself \(nothing appended since\)/);
  });

  it('verify and export of a stream refuse a genuine bundle of another stream', async () => {
    const dir = await dataDir(9);
    const other = join(dir, 'other.json');
    expect((await exportTo('credential-meter-1', other, ['--data', dir])).code).toBe(0);
    answers.set('/v1/transparency/evidence/credential/meter-2', readFileSync(other, 'utf8'));
    const verified = await cli(['verify', 'credential-meter-2', '--server', served(), '--key', join(dir, 'transparency.pub')]);
    expect(verified.code).toBe(1);
    expect(verified.err).toMatch(/FAILED \(wrong_stream\): the bundle is of credential-meter-1, not of credential-meter-2/);
    const out = join(dir, 'meter-2.json');
    const exported = await cli(['export', 'credential-meter-2', '--server', served(), '--out', out]);
    expect(exported.code).toBe(1);
    expect(exported.err).toMatch(/a bundle of credential-meter-1, not of credential-meter-2/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('export from an embedded store named by --store', () => {
  it("uses that folder's log and key, and makes none in ./data", async () => {
    const dir = await dataDir(9);
    expect((await exportTo('credential-meter-1', join(dir, 'genuine.json'), ['--data', dir])).code).toBe(0);
    const cwd = mkdtempSync(join(tmpdir(), 'credence-export-cwd-'));
    const before = process.cwd();
    process.chdir(cwd);
    try {
      const out = join(cwd, 'b.json');
      expect((await exportTo('credential-meter-1', out, ['--store', `sqlite:${dir}`])).code).toBe(0);
      expect(existsSync(join(cwd, 'data'))).toBe(false);
      const c = capture();
      expect(await verifyCommand([out, '--key', join(dir, 'transparency.pub')], c.io)).toBe(0);
    } finally {
      process.chdir(before);
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
