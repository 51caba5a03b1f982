import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { DEFAULT_LOG_ORIGIN, openKeyFileSigner, openTransparencyInDir, openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { formatCheckpointText, formatSignedNote, noteKeyId } from '../domain/transparency/index.ts';
import { handlerServers } from './support/canned-server.ts';
import { runCli } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * Review 134: `credence verify --save-checkpoint FILE` replaced whatever FILE held. An audit of an older copy of the
 * folder (or a rolled-back server) downgraded the checkpoint an auditor kept, exit 0, and the next `--checkpoint FILE`
 * passed where it had said TAMPERED rolled_back. A checkpoint FILE holds under the key is now replaced only by the same
 * tree, or by one the run proved extends it (FILE given as --checkpoint or --from too); otherwise exit 1, FILE kept.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const credence = runCli;
const exported = async (dir: string, name: string): Promise<void> => {
  const run = await credence(['export', 'credential-meter-1', '--out', join(dir, name), '--data', dir]);
  expect(run.code, run.err).toBe(0);
};
const latestNote = (dir: string): string => {
  const log = openTransparencyLogInDir(dir);
  try {
    return log.latestCheckpoint()!.note;
  } finally {
    log.close();
  }
};

/** A folder whose log signed tree 5 then tree 9, and a copy of it taken at tree 5; its key a file, to sign a fork. */
const folderAndOlderCopy = async () => {
  const dir = dirs.make();
  let store = openSqliteStoreInDir(dir);
  await appendEvents(store, 5);
  await store.close();
  openTransparencyInDir(dir).log.close();
  await exported(dir, 'a.json');
  const older = join(dirs.make(), 'copy');
  cpSync(dir, older, { recursive: true });
  store = openSqliteStoreInDir(dir);
  await appendEvents(store, 4, 5);
  await store.close();
  await exported(dir, 'b.json');
  const key = readFileSync(join(dir, 'transparency.pub'), 'utf8').trim();
  return { dir, older, key, note5: latestNote(older), note9: latestNote(dir) };
};

describe('verify --data --save-checkpoint FILE over a checkpoint FILE already keeps', () => {
  it('refuses an older copy of the folder (rolled_back, exit 1), FILE kept, and the next audit still finds it rolled back', async () => {
    const f = await folderAndOlderCopy();
    const saved = join(dirs.make(), 'saved.txt');
    expect((await credence(['verify', '--data', f.dir, '--key', f.key, '--save-checkpoint', saved])).code).toBe(0);
    expect(readFileSync(saved, 'utf8')).toBe(f.note9);

    const downgraded = await credence(['verify', '--data', f.older, '--key', f.key, '--save-checkpoint', saved]);

    expect(downgraded.code).toBe(1);
    expect(downgraded.err).toContain(`FAILED (rolled_back): --save-checkpoint: ${saved} holds a checkpoint signed by ${DEFAULT_LOG_ORIGIN} of tree size 9, larger than the one verified (5)`);
    expect(downgraded.out).toBe('');
    expect(readFileSync(saved, 'utf8')).toBe(f.note9);
    const json = await credence(['verify', '--data', f.older, '--key', f.key, '--save-checkpoint', saved, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({ ok: false, kind: 'rolled_back' });
    const next = await credence(['verify', '--data', f.older, '--key', f.key, '--checkpoint', saved]);
    expect(next.code).toBe(1);
    expect(next.err).toMatch(/^TAMPERED: rolled_back: /);
  });

  it('replaces it with a larger tree only when the run checked the log extends it (FILE as --checkpoint too)', async () => {
    const f = await folderAndOlderCopy();
    const saved = join(dirs.make(), 'saved.txt');
    writeFileSync(saved, f.note5);

    const unproven = await credence(['verify', '--data', f.dir, '--key', f.key, '--save-checkpoint', saved]);
    expect(unproven.code).toBe(1);
    expect(unproven.err).toContain(`FAILED (consistency_unproven): --save-checkpoint: ${saved} holds a checkpoint signed by ${DEFAULT_LOG_ORIGIN} of tree size 5`);
    expect(unproven.err).toContain(`give ${saved} as --checkpoint too`);
    expect(readFileSync(saved, 'utf8')).toBe(f.note5);

    const proven = await credence(['verify', '--data', f.dir, '--key', f.key, '--checkpoint', saved, '--save-checkpoint', saved]);
    expect(proven.code, proven.err).toBe(0);
    expect(readFileSync(saved, 'utf8')).toBe(f.note9);
    // The same tree again: nothing to prove.
    expect((await credence(['verify', '--data', f.dir, '--key', f.key, '--save-checkpoint', saved])).code).toBe(0);
    expect(readFileSync(saved, 'utf8')).toBe(f.note9);
  });

  it('refuses the same size with another root, signed by the key (inconsistent, exit 1), FILE kept', async () => {
    const f = await folderAndOlderCopy();
    const signer = openKeyFileSigner({ path: join(f.dir, 'transparency.key'), keyName: DEFAULT_LOG_ORIGIN });
    const text = formatCheckpointText({ origin: DEFAULT_LOG_ORIGIN, treeSize: 9, rootHash: new Uint8Array(32).fill(7), time: '2026-12-01T00:00:00.000Z' });
    const signature = await signer.sign(new TextEncoder().encode(text));
    const fork = formatSignedNote({ text, signatures: [{ keyName: signer.keyName, keyId: noteKeyId(signer.keyName, signer.publicKey), signature }] });
    const saved = join(dirs.make(), 'saved.txt');
    writeFileSync(saved, fork);

    const run = await credence(['verify', '--data', f.dir, '--key', f.key, '--save-checkpoint', saved]);

    expect(run.code).toBe(1);
    expect(run.err).toContain(`FAILED (inconsistent): --save-checkpoint: ${saved} holds a checkpoint signed by ${DEFAULT_LOG_ORIGIN} of tree size 9 with another root`);
    expect(readFileSync(saved, 'utf8')).toBe(fork);
  });
});

describe('verify --server --save-checkpoint FILE over a checkpoint FILE already keeps', () => {
  const serve = handlerServers();

  it("refuses a rolled-back server's smaller checkpoint (rolled_back, exit 1), FILE kept", async () => {
    const f = await folderAndOlderCopy();
    const url = await serve((_request, response) => void response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(f.note5));
    const saved = join(dirs.make(), 'saved.txt');
    writeFileSync(saved, f.note9);

    const run = await credence(['verify', '--server', url, '--token', 'auditor-token', '--key', f.key, '--save-checkpoint', saved]);

    expect(run.code, run.err).toBe(1);
    expect(run.err).toContain(`FAILED (rolled_back): --save-checkpoint: ${saved} holds a checkpoint signed by ${DEFAULT_LOG_ORIGIN} of tree size 9, larger than the one verified (5)`);
    expect(readFileSync(saved, 'utf8')).toBe(f.note9);
  });
});
