import Database from 'better-sqlite3';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { RecordedEventJson } from '../domain/transparency/index.ts';
import { appendEvents, readAllEvents, tempDirs } from './transparency-fixtures.ts';
import { capture } from './support/cli.ts';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());


const dataDir = async (events = 9): Promise<string> => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, events);
  await store.close();
  return dir;
};

const exportBundle = async (dir: string, stream = 'credential-meter-1'): Promise<string> => {
  const file = join(dir, `${stream}.json`);
  const c = capture();
  expect(await exportCommand([stream, '--out', file, '--data', dir], c.io)).toBe(0);
  return file;
};

describe('credence export and credence verify', () => {
  it('exports an entity bundle that verifies offline with the pinned log key', async () => {
    const dir = await dataDir();
    const file = await exportBundle(dir);
    const bundle = JSON.parse(readFileSync(file, 'utf8'));
    expect(bundle.entries.map((e: { event: { revision: string } }) => e.event.revision)).toEqual(['0', '1', '2']);
    const c = capture();
    expect(await verifyCommand([file, '--key', join(dir, 'transparency.pub')], c.io)).toBe(0);
    expect(c.out.join('\n')).toMatch(/ok: 3 events of credential-meter-1/);
  });

  it('exits 1 on a bundle whose event was altered', async () => {
    const dir = await dataDir();
    const file = await exportBundle(dir);
    const bundle = JSON.parse(readFileSync(file, 'utf8'));
    bundle.entries[1].event.data.label = 'forged';
    writeFileSync(file, JSON.stringify(bundle));
    const c = capture();
    expect(await verifyCommand([file, '--key', join(dir, 'transparency.pub')], c.io)).toBe(1);
    expect(c.err.join('\n')).toMatch(/not_included.*position 4/);
  });

  it('audits a data folder: exit 0 when intact, exit 1 with the first bad position after an edit', async () => {
    const dir = await dataDir();
    await exportBundle(dir);
    const key = readFileSync(join(dir, 'transparency.pub'), 'utf8').trim();
    const ok = capture();
    expect(await verifyCommand(['--data', dir, '--key', key], ok.io)).toBe(0);
    expect(ok.out.join('\n')).toMatch(/ok: 9 stored events match/);
    const db = new Database(join(dir, 'events.db'));
    db.prepare(`UPDATE events SET data = json_set(data, '$.label', 'x') WHERE position IN (4, 7)`).run();
    db.close();
    const bad = capture();
    expect(await verifyCommand(['--data', dir, '--key', key], bad.io)).toBe(1);
    expect(bad.err.join('\n')).toMatch(/TAMPERED: edited at position 4/);
  });

  it('verifies one event with its proof, checkpoint and key, and a consistency proof between checkpoints', async () => {
    const dir = await dataDir(5);
    await exportBundle(dir);
    const store = openSqliteStoreInDir(dir);
    await appendEvents(store, 4, 5);
    const events = await readAllEvents(store);
    await store.close();
    await exportBundle(dir, 'node-meter-1');
    const log = openTransparencyLogInDir(dir);
    const [a, b] = [log.checkpointAt(5)!, log.checkpointAt(9)!];
    const write = (name: string, content: string) => (writeFileSync(join(dir, name), content), join(dir, name));
    const hashes = (list: Uint8Array[]) => list.map((h) => Buffer.from(h).toString('base64url'));
    const eventFile = write('e.json', JSON.stringify(RecordedEventJson.encode(events[6]!)));
    const proofFile = write('p.json', JSON.stringify({ leafIndex: 6, treeSize: 9, hashes: hashes(log.inclusionProof(6, 9)) }));
    const consistencyFile = write('c.json', JSON.stringify({ first: 5, second: 9, hashes: hashes(log.consistencyProof(5, 9)) }));
    const [cpA, cpB] = [write('a.txt', a.note), write('b.txt', b.note)];
    log.close();
    const key = join(dir, 'transparency.pub');
    const c1 = capture();
    expect(await verifyCommand(['--event', eventFile, '--proof', proofFile, '--checkpoint', cpB, '--key', key], c1.io)).toBe(0);
    const c2 = capture();
    expect(await verifyCommand(['--event', eventFile, '--proof', proofFile, '--checkpoint', cpA, '--key', key], c2.io)).toBe(1);
    const c3 = capture();
    expect(await verifyCommand(['--from', cpA, '--to', cpB, '--proof', consistencyFile, '--key', key], c3.io)).toBe(0);
    expect(c3.out.join('\n')).toMatch(/size 9 extends the tree of size 5/);
  });

  it('answers a usage error with exit 2 and names the missing argument', async () => {
    const c = capture();
    expect(await verifyCommand(['--event', 'e.json'], c.io)).toBe(2);
    expect(c.err.join('\n')).toMatch(/--proof is required/);
    const d = capture();
    expect(await exportCommand(['credential-meter-1'], d.io)).toBe(2);
    expect(d.err.join('\n')).toMatch(/out/);
  });
});
