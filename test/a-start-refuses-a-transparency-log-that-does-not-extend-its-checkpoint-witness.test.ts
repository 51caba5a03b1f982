import Database from 'better-sqlite3';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { assertWitnessUsable, checkpointWitnessFile } from '../adapters/runtime/checkpoint-witness-file.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { messageOf } from '../adapters/runtime/live-failure.ts';
import { witnessedTransparencyProjection } from '../adapters/runtime/witnessed-projection.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { isCredenceError } from '../domain/errors.ts';
import { formatVerifierKey } from '../domain/transparency/index.ts';
import { capture, runCli } from './support/cli.ts';
import { postCommand } from './support/console-fleet.ts';
import { profile } from './support/fleet.ts';
import { startTestService } from './support/service.ts';
import { removeCheckpoints, rewriteBothFiles } from './support/rewritten-history.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { ORIGIN, appendEvents, fixedSigner, keyOf } from './transparency-fixtures.ts';

/*
 * Review 98: the log file alone cannot say what the key signed before it was altered. Someone who can write the data
 * folder but not use the log key rewrote an event in both files and removed the checkpoints over the old history while
 * no process held the folder; the next start signed the forged tree with the genuine key, and every proof of the
 * forged event verified. A copy of the latest checkpoint kept outside the folder (the checkpoint witness) holds a start
 * to what the key signed: the log must extend it, or nothing opens and nothing is signed (SER-003).
 */

const folder = temporaryFolders('credence-witness-');
const signer = fixedSigner();
const clock = new FakeClock(new Date('2026-12-04T10:00:00.000Z'));

/** One process's log over the folder's files, held to the witness at `witness` when given. */
const open = async (dir: string, witness?: string) => {
  const store = openSqliteStoreInDir(dir);
  const log = openTransparencyLogInDir(dir);
  const close = async () => (log.close(), await store.close());
  try {
    const projection = witnessedTransparencyProjection(
      { store, log, signer, origin: ORIGIN, now: () => clock.now(), checkpointEveryMs: 0 },
      dir,
      witness === undefined ? undefined : checkpointWitnessFile(witness),
    );
    return { store, log, projection, close };
  } catch (error) {
    await close();
    throw error;
  }
};

/** `count` more events logged and signed by one process held to `witness`. */
const signMore = async (dir: string, witness: string | undefined, count: number, from: number): Promise<number> => {
  const o = await open(dir, witness);
  try {
    await appendEvents(o.store, count, from);
    await o.projection.catchUp();
    return (await o.projection.checkpoint()).treeSize;
  } finally {
    await o.close();
  }
};

const checkpointSizes = (dir: string): number[] => {
  const db = new Database(join(dir, 'transparency.db'), { readonly: true });
  try {
    return (db.prepare('SELECT tree_size FROM checkpoints ORDER BY tree_size').all() as { tree_size: number }[]).map((r) => Number(r.tree_size));
  } finally {
    db.close();
  }
};

/** The refusal an opening throws, as its field issue. */
const refusalOf = async (opening: Promise<unknown>) => {
  const error = await opening.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isCredenceError(error) || error.problem.code !== 'validation') throw new Error(`expected a validation refusal, got ${String(error)}`);
  return error.problem.issues[0]!;
};

const setUp = async () => {
  const dir = folder();
  const witness = join(folder(), 'checkpoint.note');
  expect(await signMore(dir, witness, 10, 0)).toBe(10);
  return { dir, witness };
};

describe('the checkpoint witness', () => {
  it('keeps the latest checkpoint the key signed, whole, for an auditor to pass to verify --checkpoint', async () => {
    const { dir, witness } = await setUp();
    const first = readFileSync(witness, 'utf8');
    expect(first).toMatch(/^credence\.test\/log\n10\n/);
    expect(await signMore(dir, witness, 5, 10)).toBe(15);
    const log = openTransparencyLogInDir(dir);
    try {
      expect(readFileSync(witness, 'utf8')).toBe(log.latestCheckpoint()!.note);
    } finally {
      log.close();
    }
    const c = capture();
    expect(await verifyCommand(['--data', dir, '--key', formatVerifierKey(keyOf(signer)), '--checkpoint', witness], c.io)).toBe(0);
  });

  it('refuses a start on a history rewritten with its checkpoints removed, and nothing is signed over it', async () => {
    const { dir, witness } = await setUp();
    rewriteBothFiles(dir);
    removeCheckpoints(dir);
    const issue = await refusalOf(open(dir, witness));
    expect(issue).toMatchObject({ path: 'checkpointWitness', rule: 'log_extends_witness' });
    expect(issue.message).toContain(`its latest checkpoint signs 0 leaves, where the checkpoint witness ${witness} keeps one of 10`);
    expect(issue.message).toContain(`credence verify --data ${dir} --checkpoint ${witness}`);
    expect(checkpointSizes(dir)).toEqual([]);
    // What the witness closes: without it, the next start signs the forged tree with the genuine key.
    expect(await signMore(dir, undefined, 1, 10)).toBe(11);
    expect(checkpointSizes(dir)).toEqual([11]);
  });

  it('refuses a history rewritten under checkpoints planted at the same size, which only the witness remembers', async () => {
    const { dir, witness } = await setUp();
    rewriteBothFiles(dir);
    removeCheckpoints(dir);
    // A process without the witness signs the forgery at 11; the witness still holds the genuine tree of 10.
    await signMore(dir, undefined, 1, 10);
    const issue = await refusalOf(open(dir, witness));
    expect(issue.rule).toBe('log_extends_witness');
    expect(issue.message).toContain('its first 10 leaves no longer hash to the checkpoint this key signed at that size, kept by the checkpoint witness');
  });

  it('refuses a log put back from an older copy, whose key signed a larger tree since', async () => {
    const { dir, witness } = await setUp();
    const older = join(folder(), 'transparency.db');
    copyFileSync(join(dir, 'transparency.db'), older);
    await signMore(dir, witness, 4, 10);
    copyFileSync(older, join(dir, 'transparency.db'));
    const issue = await refusalOf(open(dir, witness));
    expect(issue.message).toContain('where the checkpoint witness');
    expect(issue.message).toContain('keeps one of 14: checkpoints were removed, or the log was put back from an older copy');
    expect(checkpointSizes(dir)).toEqual([10]);
  });

  it("refuses another log's witness, naming what to move aside after a new log", async () => {
    const { witness } = await setUp();
    const other = folder();
    const otherSigner = fixedSigner(2);
    const store = openSqliteStoreInDir(other);
    const log = openTransparencyLogInDir(other);
    try {
      await appendEvents(store, 3);
      const issue = await refusalOf(
        Promise.resolve().then(() =>
          witnessedTransparencyProjection({ store, log, signer: otherSigner, origin: ORIGIN, now: () => clock.now(), checkpointEveryMs: 0 }, other, checkpointWitnessFile(witness)),
        ),
      );
      expect(issue).toMatchObject({ path: 'checkpointWitness', rule: 'witness_of_this_log' });
      expect(issue.message).toContain(`${witness} does not hold a checkpoint of this log (bad_checkpoint_signature)`);
      expect(issue.message).toContain(`move ${witness} aside with the old log`);
    } finally {
      log.close();
      await store.close();
    }
  });

  it('is written at the first opening that names it, from the latest checkpoint the key signed', async () => {
    const dir = folder();
    await signMore(dir, undefined, 6, 0);
    const witness = join(folder(), 'checkpoint.note');
    const o = await open(dir, witness);
    expect(o.projection.witnessBegun).toBe(6);
    await o.close();
    expect(readFileSync(witness, 'utf8')).toMatch(/^credence\.test\/log\n6\n/);
    // The next opening finds it kept: nothing begun.
    const again = await open(dir, witness);
    expect(again.projection.witnessBegun).toBeUndefined();
    await again.close();
  });

  it('says how many leaves the log held when the copy was deleted with its checkpoints (review 108)', async () => {
    const { dir, witness } = await setUp();
    rmSync(witness);
    removeCheckpoints(dir);
    const o = await open(dir, witness);
    expect(o.projection.witnessBegun).toBe(10);
    await o.close();
  });

  it('refuses a link named as the witness: the copy is replaced by a rename, which would put a file where the link was (review 108)', async () => {
    const dir = folder();
    const outside = join(folder(), 'checkpoint.note');
    writeFileSync(outside, '', { mode: 0o644 });
    const link = join(folder(), 'witness-link');
    symlinkSync(outside, link);
    expect(() => assertWitnessUsable(link, dir)).toThrow(/checkpointWitness: .*witness-link is a link: name the file itself/);
    expect(() => checkpointWitnessFile(link).keep('note')).toThrow(/is not a regular file \(a link, a folder\)/);
  });

  it('takes an empty file, made ahead of the first start, as none kept yet', async () => {
    const dir = folder();
    await signMore(dir, undefined, 3, 0);
    const witness = join(folder(), 'checkpoint.note');
    writeFileSync(witness, '', { mode: 0o644 });
    const o = await open(dir, witness);
    expect(o.projection.witnessBegun).toBe(3);
    await o.close();
    expect(readFileSync(witness, 'utf8')).toMatch(/^credence\.test\/log\n3\n/);
  });

  it('is refused at the start when its folder is missing or others may write it, not at a later start', () => {
    const dir = folder();
    const open777 = folder();
    chmodSync(open777, 0o777);
    expect(() => assertWitnessUsable(join(open777, 'checkpoint.note'), dir)).toThrow(/checkpointWitness: .* is in .*, which group or others may write \(mode 0777\)/);
    expect(() => assertWitnessUsable(join(folder(), 'missing', 'checkpoint.note'), dir)).toThrow(/checkpointWitness: .* cannot be used \(ENOENT\): make that folder/);
    expect(() => assertWitnessUsable(join(folder(), 'checkpoint.note'), dir)).not.toThrow();
  });

  it('keeps a checkpoint durably before its copy is written: the commit syncs the WAL, the leaves before it with it', () => {
    const log = openTransparencyLogInDir(folder());
    const pragmas = vi.spyOn(Database.prototype, 'pragma');
    try {
      log.append([{ position: 1n, eventId: 'e-1', leafHash: new Uint8Array(32).fill(1), stream: { streamId: 'node-a', revision: 0n } }]);
      pragmas.mockClear();
      log.saveCheckpoint({ treeSize: 1, rootHash: log.rootHash(1), time: clock.now().toISOString(), note: 'note' });
      expect(pragmas.mock.calls.map(([pragma]) => pragma)).toEqual(['synchronous = FULL', 'synchronous = NORMAL']);
    } finally {
      pragmas.mockRestore();
      log.close();
    }
  });

  it('is not trusted when group or others may write it, and is refused inside the data folder', async () => {
    const { dir, witness } = await setUp();
    chmodSync(witness, 0o666);
    const issue = await refusalOf(open(dir, witness));
    expect(issue).toMatchObject({ path: 'checkpointWitness', rule: 'trusted_file' });
    expect(issue.message).toContain('may be written by group or others');
    expect(() => assertWitnessUsable(join(dir, 'checkpoint.note'), dir)).toThrow(/inside the data folder/);
    expect(() => checkpointWitnessFile('relative/checkpoint.note')).toThrow(/checkpointWitness: must be an absolute path/);
  });

  it('refuses a file that is not a checkpoint note, before anything is signed', async () => {
    const { dir, witness } = await setUp();
    writeFileSync(witness, 'not a note\n', { mode: 0o644 });
    const issue = await refusalOf(open(dir, witness));
    expect(issue.rule).toBe('witness_of_this_log');
    expect(issue.message).toContain('(malformed_checkpoint)');
  });

  it('needs a data folder: an instance in memory has no log to hold to it', () => {
    expect(() => openCredence({ location: { memory: true }, clock, checkpointWitness: checkpointWitnessFile('/nonexistent/checkpoint.note') })).toThrow(
      /checkpointWitness: holds a data folder's transparency log/,
    );
  });
});

describe('credence serve with a checkpoint witness', () => {
  it('keeps the checkpoint it signs there, and a restart over a log rewritten meanwhile is refused before anything is signed', async () => {
    const dir = folder();
    const witness = join(folder(), 'checkpoint.note');
    const svc = await startTestService({ dir, config: { checkpointWitness: witness } });
    try {
      const day = 86_400_000;
      await postCommand(svc, 'createSubscription', {
        subscriptionId: 'sub-1',
        subscriber: 'City Utilities',
        notBefore: new Date(Date.now() - day).toISOString(),
        notAfter: new Date(Date.now() + 365 * day).toISOString(),
      });
    } finally {
      await svc.close();
    }
    const signed = /^credence\.local\/log\n(\d+)\n/.exec(readFileSync(witness, 'utf8'));
    expect(Number(signed?.[1])).toBeGreaterThanOrEqual(1);
    const before = checkpointSizes(dir);
    expect(before.length).toBeGreaterThan(0);

    rewriteBothFiles(dir, 1);
    removeCheckpoints(dir);
    const refused = await startTestService({ dir, config: { checkpointWitness: witness } }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isCredenceError(refused) && refused.problem.code === 'validation' && refused.problem.issues[0]).toMatchObject({ path: 'checkpointWitness', rule: 'log_extends_witness' });
    expect(checkpointSizes(dir)).toEqual([]);
    // The command line says the same, a refusal naming the setting.
    const cli = await runCli(['serve', '--data', dir, '--port', '0', '--checkpoint-witness', witness]);
    expect(cli.code).toBe(1);
    expect(cli.err).toContain('refused (validation): invalid transparency log: checkpointWitness: the transparency log of');
    expect(checkpointSizes(dir)).toEqual([]);
    // And a local export, which signs checkpoints too, held to the witness the service's setting names.
    const { main } = await import('../bin/cli.ts');
    const exported = capture();
    const args = ['export', 'subscription-sub-1', '--data', dir, '--out', join(folder(), 'bundle.json')];
    expect(await main(args, { ...exported.io, env: { CREDENCE_CHECKPOINT_WITNESS: witness } })).toBe(1);
    expect(exported.err.join('\n')).toContain('checkpointWitness: the transparency log of');
    expect(checkpointSizes(dir)).toEqual([]);
    // And with its own flag, as the service was run (review 106: only the variable or --config held it).
    const flagged = capture();
    expect(await main([...args, '--checkpoint-witness', witness], { ...flagged.io, env: {} })).toBe(1);
    expect(flagged.err.join('\n')).toContain('checkpointWitness: the transparency log of');
    expect(checkpointSizes(dir)).toEqual([]);
  }, 60_000);

  it('answers proofs when the copy cannot be written, and is not ready until it is written again', async () => {
    const dir = folder();
    const witnessFolder = folder();
    const witness = join(witnessFolder, 'checkpoint.note');
    const svc = await startTestService({ dir, config: { checkpointWitness: witness } });
    const proof = (position: number) =>
      fetch(`${svc.url}/v1/transparency/proofs/inclusion?position=${position}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    try {
      const day = 86_400_000;
      const subscription = (id: string) => ({ subscriptionId: id, subscriber: 'City Utilities', notBefore: new Date(Date.now() - day).toISOString(), notAfter: new Date(Date.now() + 365 * day).toISOString() });
      await postCommand(svc, 'createSubscription', subscription('sub-1'));
      rmSync(witnessFolder, { recursive: true });
      await postCommand(svc, 'createSubscription', subscription('sub-2'));
      const answered = await proof(2);
      expect(answered.status).toBe(200);
      const ready = await fetch(`${svc.url}/readyz`);
      expect(ready.status).toBe(503);
      const problem = JSON.stringify(await ready.json());
      expect(problem).toContain('checkpoint_witness_unkept');
      expect(problem).not.toContain(witnessFolder);

      // What GET /v1/projections says of the runtime's failure names no path of the server's (review 109).
      const unkept = svc.service.context.credence.transparency!.witnessUnkept;
      expect(unkept?.message).toContain(witnessFolder);
      expect(messageOf(unkept)).toBe("the checkpoint witness could not be kept: its operator must mend it (the service's log says why)");

      mkdirSync(witnessFolder, { mode: 0o700 });
      svc.service.context.credence.transparency!.checkStillSigned();
      expect((await fetch(`${svc.url}/readyz`)).status).toBe(200);
      expect(readFileSync(witness, 'utf8')).toMatch(/^credence\.local\/log\n2\n/);
    } finally {
      await svc.close();
    }
  }, 60_000);

  it('says at warn when it begins over a log that has checkpoints already', async () => {
    const dir = folder();
    const first = await startTestService({ dir });
    try {
      await postCommand(first, 'registerNode', { nodeId: 'meter-1', profile });
    } finally {
      await first.close();
    }
    const witness = join(folder(), 'checkpoint.note');
    const svc = await startTestService({ dir, config: { checkpointWitness: witness } });
    try {
      expect(svc.logs().some((line) => line.includes('the checkpoint witness held no checkpoint'))).toBe(true);
    } finally {
      await svc.close();
    }
  }, 60_000);

  it('is refused inside the data folder, and as a relative path, naming where the setting came from', async () => {
    const dir = folder();
    // Bad usage naming where the setting came from (review 106: exit 1, the code of a log refused against its witness).
    const inside = await runCli(['serve', '--data', dir, '--port', '0', '--checkpoint-witness', join(dir, 'checkpoint.note')]);
    expect(inside.code).toBe(2);
    expect(inside.err).toContain(`flag --checkpoint-witness: ${join(dir, 'checkpoint.note')} is inside the data folder`);
    const { main } = await import('../bin/cli.ts');
    const fromEnv = capture();
    const missing = join(folder(), 'missing', 'checkpoint.note');
    expect(await main(['serve', '--data', dir, '--port', '0'], { ...fromEnv.io, env: { CREDENCE_CHECKPOINT_WITNESS: missing } })).toBe(2);
    expect(fromEnv.err.join('\n')).toContain(`env CREDENCE_CHECKPOINT_WITNESS: ${missing} is to be in`);
    const relative = await runCli(['serve', '--data', dir, '--port', '0', '--checkpoint-witness', 'checkpoint.note']);
    expect(relative.code).toBe(2);
    expect(relative.err).toContain('flag --checkpoint-witness: must be an absolute path');
  });
});
