import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { ConsistencyProofJson } from '../domain/transparency/index.ts';
import { runCli } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * Review 134: `credence verify --from A --to B --proof P` read P loosely: `{"first":5.0,…}` and a member the format
 * does not define passed, where README says the --event and --proof files are read as a bundle's members are, and a
 * bad file got "not a valid consistency proof file" naming no field or rule. P is now read as the inclusion proof file
 * is: `number_not_canonical` and `unknown_member` refused (exit 2), each refusal naming the path and the rule.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const credence = runCli;

/** Two checkpoints of one log (trees 5 and 9) as files, its key, and the consistency proof between them as JSON text. */
const twoCheckpoints = async () => {
  const dir = dirs.make();
  let store = openSqliteStoreInDir(dir);
  await appendEvents(store, 5);
  await store.close();
  expect((await credence(['export', 'credential-meter-1', '--out', join(dir, 'a.json'), '--data', dir])).code).toBe(0);
  store = openSqliteStoreInDir(dir);
  await appendEvents(store, 4, 5);
  await store.close();
  expect((await credence(['export', 'credential-meter-1', '--out', join(dir, 'b.json'), '--data', dir])).code).toBe(0);
  const log = openTransparencyLogInDir(dir);
  try {
    const [from, to] = [join(dir, 'from.txt'), join(dir, 'to.txt')];
    writeFileSync(from, log.checkpointAt(5)!.note);
    writeFileSync(to, log.latestCheckpoint()!.note);
    const proof = JSON.stringify(ConsistencyProofJson.encode({ first: 5, second: 9, hashes: log.consistencyProof(5, 9) }));
    return { dir, from, to, proof, key: join(dir, 'transparency.pub') };
  } finally {
    log.close();
  }
};

const verifyWith = async (f: Awaited<ReturnType<typeof twoCheckpoints>>, proofText: string) => {
  const path = join(f.dir, `proof-${Math.random()}.json`);
  writeFileSync(path, proofText);
  return credence(['verify', '--from', f.from, '--to', f.to, '--proof', path, '--key', f.key]);
};

describe('verify --from --to --proof P', () => {
  it('verifies the proof as the log wrote it', async () => {
    const f = await twoCheckpoints();
    const run = await verifyWith(f, f.proof);
    expect(run.code, run.err).toBe(0);
    expect(run.out).toBe('ok: the tree of size 9 extends the tree of size 5');
  });

  it('refuses a number not written as JSON writes its value (exit 2, number_not_canonical)', async () => {
    const f = await twoCheckpoints();
    const run = await verifyWith(f, f.proof.replace('"first":5', '"first":5.0'));
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/^error: --proof: .*first.*number_not_canonical/);
  });

  it('refuses a member the format does not define (exit 2, unknown_member)', async () => {
    const f = await twoCheckpoints();
    const run = await verifyWith(f, f.proof.replace('{', '{"note":"not covered by any proof",'));
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/^error: --proof: not a valid consistency proof file: note: unknown_member/);
  });

  it('names the field and what is wrong with it', async () => {
    const f = await twoCheckpoints();
    const run = await verifyWith(f, JSON.stringify({ ...JSON.parse(f.proof), hashes: ['not a hash'] }));
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/^error: --proof: not a valid consistency proof file: hashes\.0: /);
  });
});
