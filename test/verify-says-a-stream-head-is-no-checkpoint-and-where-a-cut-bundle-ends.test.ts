import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyInDir, openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { toBase64url } from '../domain/crypto/index.ts';
import { capture, runCli } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * Found in review 372: a signed stream head given where a checkpoint goes (`--from`, `--checkpoint`, or a bundle's
 * `checkpoint` member) was refused as "tree size is not a decimal without leading zeroes", which sends the reader to
 * the note's second line, not to the mix-up; and a bundle file cut in half said only "<file> is not JSON". The first now
 * says it is a stream head note, not a checkpoint; the second adds where JSON.parse stopped (an offset, no content).
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const verify = (args: string[]) => runCli(['verify', ...args]);

const folder = async () => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, 5);
  await store.close();
  openTransparencyInDir(dir).log.close();
  const bundle = join(dir, 'bundle.json');
  expect(await exportCommand(['credential-meter-1', '--out', bundle, '--data', dir], capture().io)).toBe(0);
  const log = openTransparencyLogInDir(dir);
  const proof = join(dir, 'p.json');
  writeFileSync(proof, JSON.stringify({ first: 5, second: 5, hashes: log.consistencyProof(5, 5).map(toBase64url) }));
  const saved = join(dir, 'saved.txt');
  writeFileSync(saved, log.checkpointAt(5)!.note);
  log.close();
  const parsed = JSON.parse(readFileSync(bundle, 'utf8')) as { checkpoint: string; streamHead: string };
  const head = join(dir, 'head.txt');
  writeFileSync(head, parsed.streamHead);
  return { dir, bundle, parsed, head, proof, saved, key: readFileSync(join(dir, 'transparency.pub'), 'utf8').trim() };
};

describe('verify given a signed stream head where a checkpoint goes', () => {
  it('says the --from file is a stream head note, not a checkpoint (exit 2)', async () => {
    const f = await folder();
    const result = await verify(['--from', f.head, '--to', f.saved, '--proof', f.proof, '--key', f.key]);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/--from: .*a stream head note .*not a checkpoint/);
    expect(result.err).not.toMatch(/tree size is not a decimal/);
  });

  it("says a bundle's checkpoint member holding the stream head is a stream head note, not a checkpoint", async () => {
    const f = await folder();
    const swapped = join(f.dir, 'swapped.json');
    writeFileSync(swapped, JSON.stringify({ ...JSON.parse(readFileSync(f.bundle, 'utf8')), checkpoint: f.parsed.streamHead }));
    const result = await verify([swapped, '--key', f.key]);
    expect(result.code).not.toBe(0);
    expect(result.err).toMatch(/a stream head note .*not a checkpoint/);
    expect(result.err).not.toMatch(/tree size is not a decimal/);
  });
});

describe('verify given a bundle file cut in half', () => {
  it('says where JSON.parse stopped, naming no content of the file (exit 2)', async () => {
    const f = await folder();
    const text = readFileSync(f.bundle, 'utf8');
    const cut = join(f.dir, 'cut.json');
    writeFileSync(cut, text.slice(0, Math.floor(text.length / 2)));
    const result = await verify([cut, '--key', f.key]);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/cut\.json is not JSON \((Unexpected end of JSON input|[^"'()]* at position \d+[^"']*)\)/);
  });

  it('names nothing of the content where JSON.parse would quote it', async () => {
    const f = await folder();
    const bad = join(f.dir, 'bad.json');
    writeFileSync(bad, 'secret-looking text');
    const result = await verify([bad, '--key', f.key]);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/bad\.json is not JSON/);
    expect(result.err).not.toMatch(/secret|looking/);
  });
});
