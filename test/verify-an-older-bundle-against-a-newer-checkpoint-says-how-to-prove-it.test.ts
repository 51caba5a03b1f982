import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyInDir, openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { toBase64url } from '../domain/crypto/index.ts';
import { capture } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * Found in review 372: a genuine bundle of tree size 5 checked against a checkpoint kept at size 9 failed `rollback`
 * ("the log was rolled back, or the bundle is older"): a bundle carries no consistency proof, so nothing was shown
 * either way, and `--json`'s reason told automation the log was rolled back. It is `consistency_unproven`, as a
 * larger bundle's is, naming the command that settles it.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const verify = async (args: string[]) => {
  const c = capture();
  return { code: await verifyCommand(args, c.io), out: c.out.join('\n'), err: c.err.join('\n') };
};

describe('verify OLDER.json --checkpoint SAVED (a newer checkpoint kept)', () => {
  it('fails consistency_unproven, not rollback, and names the consistency check that settles it, which passes', async () => {
    const dir = dirs.make();
    let store = openSqliteStoreInDir(dir);
    await appendEvents(store, 5);
    await store.close();
    openTransparencyInDir(dir).log.close();
    const older = join(dir, 'older.json');
    const c = capture();
    expect(await exportCommand(['credential-meter-1', '--out', older, '--data', dir], c.io), c.err.join('\n')).toBe(0);
    store = openSqliteStoreInDir(dir);
    await appendEvents(store, 4, 5);
    await store.close();
    expect(await exportCommand(['credential-meter-1', '--out', join(dir, 'newer.json'), '--data', dir], capture().io)).toBe(0);
    const log = openTransparencyLogInDir(dir);
    const saved = join(dir, 'saved-9.txt');
    writeFileSync(saved, log.checkpointAt(9)!.note);
    const proof = join(dir, 'p.json');
    writeFileSync(proof, JSON.stringify({ first: 5, second: 9, hashes: log.consistencyProof(5, 9).map(toBase64url) }));
    log.close();
    const key = readFileSync(join(dir, 'transparency.pub'), 'utf8').trim();

    const result = await verify([older, '--key', key, '--checkpoint', saved, '--json']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.out)).toMatchObject({ ok: false, reason: 'consistency_unproven' });
    expect(result.err).not.toMatch(/\(rollback\)/);
    expect(result.err).toMatch(/size 5.*smaller than the checkpoint kept \(size 9\).*credence verify --from IT --to SAVED --proof P.*from=5&to=9/);

    // The check it names settles it: the bundle's checkpoint, the one kept and the log's proof between them.
    const it = join(dir, 'it.txt');
    writeFileSync(it, (JSON.parse(readFileSync(older, 'utf8')) as { checkpoint: string }).checkpoint);
    const settled = await verify(['--from', it, '--to', saved, '--proof', proof, '--key', key]);
    expect(settled.code, settled.err).toBe(0);
  });
});
