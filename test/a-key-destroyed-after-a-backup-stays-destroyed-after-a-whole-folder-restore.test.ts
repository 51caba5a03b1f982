import { cpSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { SqliteKeyRegistry } from '../adapters/driven/key-registry/index.ts';
import { keysDestroyedSince, secureEnvironmentConfigForDataDir, wrappingKeysPath } from '../adapters/driven/secure-environment/index.ts';
import { loadIssuingCas } from '../adapters/driven/pki/load.ts';
import { OcspSigningKey } from '../adapters/driven/pki/ocsp-signing-key.ts';
import { ocspSignerHandles } from '../adapters/driven/pki/ocsp-signer-handles.ts';
import { openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { ownerView, type KeyHandle, type OwnedSecureEnvironment } from '../domain/ports/index.ts';
import { capture } from './support/cli.ts';
import { isHeld, withDataFolderSe } from './support/key-held.ts';
import { folderSnapshot } from './support/served-folder.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 84: crypto-shredding undone by a restore. A destroy erases a key's wrapping key, but a backup of the data
 * folder taken before holds it, so a whole-folder restore (README "Restoring a whole data folder") brought back every
 * key destroyed since: a shredded PSK copy MACs again. `credence key destroy-since-backup --before-restore DIR`
 * destroys again, in the restored folder, each key the folder moved aside no longer holds, and refuses to guess
 * when the two folders cannot say it (swapped, or not copies of one key database): nothing destroyed then.
 * Review of that command: a key made in the restored folder since the restore (step 3's rotation of the token signing
 * key, a PSK a start made) is not in the folder moved aside either, and was destroyed too: the next start refused with
 * access_signing_key_present. Only keys made before the moved-aside folder's last key change are destroyed; where the
 * clock cannot order them, nothing is.
 */
const scratch = temporaryFolders('credence-destroyed-since-');
const OWNER = 'maf:infrastructure';
const MESSAGE = new Uint8Array([1, 2, 3]);

const STREAM = 'credential-meter-1-service';

const credence = async (argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; stdout: string }> => {
  const { io, out, err } = capture();
  const code = await main(argv, { ...io, env });
  return { code, out: [...out, ...err].join('\n'), stdout: out.join('\n') };
};

/** `token rotate-key --withdraw-previous` on a folder, as README step 3 runs it: the new key's kid. */
const rotateWithdrawing = async (dir: string): Promise<string> => {
  const run = await credence(['token', 'rotate-key', '--data', dir, '--withdraw-previous', '--json']);
  expect(run.code, run.out).toBe(0);
  return (JSON.parse(run.stdout) as { kid: string }).kid;
};

/** A token issued on the folder: signing it needs the current key access.db lists (else access_signing_key_present). */
const issue = async (dir: string): Promise<{ code: number; out: string; kid?: string }> => {
  const run = await credence(['token', 'create', '--data', dir, '--role', 'auditor', '--subject', 'ops', '--ttl', '1h']);
  return run.code === 0 ? { ...run, kid: decodeProtectedHeader(run.stdout.trim()).kid! } : run;
};

const held = (dir: string, handle: KeyHandle): Promise<boolean> => withDataFolderSe(dir, OWNER, (se) => isHeld(se, handle));

const withRegistry = <T>(dir: string, use: (registry: SqliteKeyRegistry) => T): T => {
  const registry = SqliteKeyRegistry.open({ dir });
  try {
    return use(registry);
  } finally {
    registry.close();
  }
};

/**
 * A folder with keys `shredded` (the PSK copy keys.db binds to a credential) and `kept`, and a token signing key,
 * backed up, then `shredded` destroyed as the shredder does when the credential is revoked, `made` made, and the
 * token signing key rotated withdrawing the old one; then restored, and, as README step 3 says, the rotation run
 * again in the restored folder (its new key `rotatedKid`), and a PSK `fresh` made there since the restore.
 */
const restoredAfterAShred = async () => {
  const root = scratch();
  const data = join(root, 'data');
  const [shredded, kept] = await withDataFolderSe(data, OWNER, async (se) => [await se.generate('psk256'), await se.generate('psk256')]);
  withRegistry(data, (registry) => registry.register(STREAM, shredded, 'psk'));
  expect((await issue(data)).code).toBe(0);
  // The service stopped: the key database keeps a rollback journal, so a copy of the folder is consistent.
  cpSync(data, join(root, 'backup'), { recursive: true });
  const made = await withDataFolderSe(data, OWNER, async (se) => {
    await se.destroy(shredded);
    return se.generate('psk256');
  });
  withRegistry(data, (registry) => registry.markDestroyed(STREAM, shredded, new Date()));
  await rotateWithdrawing(data);
  const aside = join(root, 'data.before-restore');
  renameSync(data, aside);
  cpSync(join(root, 'backup'), data, { recursive: true });
  const rotatedKid = await rotateWithdrawing(data);
  const fresh = await withDataFolderSe(data, OWNER, (se) => se.generate('psk256'));
  return { data, aside, shredded, kept, made, rotatedKid, fresh };
};

/** A data folder's Secure Environment on a clock of the test's. */
const withSeAt = async <T>(dir: string, now: Date, use: (se: OwnedSecureEnvironment) => Promise<T>): Promise<T> => {
  const se = openDataFolderSecureEnvironment(dir, { now: () => now });
  try {
    return await use(ownerView(se, OWNER));
  } finally {
    se.close();
  }
};

const keyFiles = (dir: string) => {
  const config = secureEnvironmentConfigForDataDir(dir);
  return { database: config.database, wrappingKeys: wrappingKeysPath(config) };
};

/** As a version before the key database kept the time of its last key change left it: no such record. */
const asAnOlderVersionLeftIt = (dir: string): void => {
  const db = new Database(keyFiles(dir).database);
  try {
    db.prepare(`DELETE FROM se_meta WHERE name IN ('changes', 'last_change')`).run();
  } finally {
    db.close();
  }
};

/**
 * A backup taken under an older version, the token signing key rotated withdrawing the old one before the upgrade,
 * then (`upgraded`) the upgrade and `shredded` destroyed, as a revocation shreds its PSK copy; then restored, and
 * README step 3's rotation run again in the restored folder. Without `upgraded`, every change before the restore
 * was made under the older version.
 */
const restoredAfterAnUpgrade = async ({ upgraded }: { upgraded: boolean }) => {
  const root = scratch();
  const data = join(root, 'data');
  const [shredded, kept] = await withDataFolderSe(data, OWNER, async (se) => [await se.generate('psk256'), await se.generate('psk256')]);
  expect((await issue(data)).code).toBe(0);
  asAnOlderVersionLeftIt(data);
  cpSync(data, join(root, 'backup'), { recursive: true });
  await rotateWithdrawing(data);
  if (!upgraded) await withDataFolderSe(data, OWNER, (se) => se.destroy(shredded!));
  asAnOlderVersionLeftIt(data);
  if (upgraded) await withDataFolderSe(data, OWNER, (se) => se.destroy(shredded!));
  const aside = join(root, 'data.before-restore');
  renameSync(data, aside);
  cpSync(join(root, 'backup'), data, { recursive: true });
  const rotatedKid = await rotateWithdrawing(data);
  return { data, aside, shredded: shredded!, kept: kept!, rotatedKid };
};

const refusal = (run: () => unknown): string => {
  try {
    run();
  } catch (error) {
    return JSON.stringify(error);
  }
  throw new Error('not refused');
};

describe('a key destroyed after a backup stays destroyed after a whole-folder restore', () => {
  it('given a restore that brought a shredded key back, when key destroy-since-backup runs, then it is destroyed again and the rest is kept', async () => {
    const { data, aside, shredded, kept, made, rotatedKid, fresh } = await restoredAfterAShred();
    // The restore alone revives it: it MACs again in the restored folder.
    expect(await withDataFolderSe(data, OWNER, async (se) => (await se.mac(shredded, MESSAGE)).length)).toBe(32);

    const run = await credence(['key', 'destroy-since-backup', '--data', data, '--before-restore', aside]);
    expect(run.code, run.out).toBe(0);
    expect(run.out).toContain(`destroyed again ${shredded} (${OWNER} psk256`);
    // The restored keys.db still binds it: the operator is told which entity to end again.
    expect(run.out).toMatch(new RegExp(`binds to ${STREAM} \\(psk\\).*\\[key_registry_key_in_use\\]`));
    expect(run.out).not.toContain(kept);
    // Made since the restore: not in the folder moved aside either, and kept.
    expect(run.out).toContain(`kept ${fresh} (${OWNER} psk256`);
    expect(run.out).toMatch(/kept key_\S+ \(credence:access ed25519/);
    expect(run.out).not.toMatch(/destroyed again \S+ \(credence:access/);

    expect(await held(data, shredded)).toBe(false);
    expect(await held(data, kept)).toBe(true);
    // The PSK made since the restore still MACs, and the token signing key step 3 made still signs: the start that
    // follows finds the key access.db lists as current.
    expect(await withDataFolderSe(data, OWNER, async (se) => (await se.mac(fresh, MESSAGE)).length)).toBe(32);
    const issued = await issue(data);
    expect(issued.code, issued.out).toBe(0);
    expect(issued.kid).toBe(rotatedKid);
    // The folder moved aside is evidence, read and never written.
    expect(await held(aside, made)).toBe(true);
    expect(await held(aside, kept)).toBe(true);

    const again = await credence(['key', 'destroy-since-backup', '--data', data, '--before-restore', aside]);
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain('no key of');
    expect(await held(data, fresh)).toBe(true);
  });

  it('given a key made since the restore in the same millisecond as the last key change of the folder moved aside, when key destroy-since-backup runs, then it is refused naming both keys and their owner, and nothing destroyed', async () => {
    const root = scratch();
    const data = join(root, 'data');
    // A clock stuck at one millisecond: made, destroyed and made again since the restore at the same time.
    const at = new Date('2026-01-02T03:04:05.678Z');
    const [shredded] = await withSeAt(data, at, async (se) => [await se.generate('psk256'), await se.generate('psk256')]);
    cpSync(data, join(root, 'backup'), { recursive: true });
    await withSeAt(data, at, (se) => se.destroy(shredded!));
    const aside = join(root, 'data.before-restore');
    renameSync(data, aside);
    cpSync(join(root, 'backup'), data, { recursive: true });
    const fresh = await withSeAt(data, at, (se) => se.generate('psk256'));

    const run = await credence(['key', 'destroy-since-backup', '--data', data, '--before-restore', aside]);
    expect(run.code).toBe(1);
    expect(run.out).toContain('made_since_restore_known');
    expect(run.out).toContain(`${shredded} (owner ${OWNER}, psk256`);
    expect(run.out).toContain(`${fresh} (owner ${OWNER}, psk256`);
    expect(await held(data, shredded!)).toBe(true);
    expect(await held(data, fresh)).toBe(true);
  });

  it('given a clock that reads no later than the last key change of the folder moved aside, when the keys destroyed since are asked for, then it is refused naming them: a key that clock made could look made before', async () => {
    const { data, aside, shredded } = await restoredAfterAShred();
    const refused = refusal(() => keysDestroyedSince(keyFiles(data), keyFiles(aside), new Date(0)));
    expect(refused).toContain('made_since_restore_known');
    expect(refused).toContain(`${shredded} (owner ${OWNER}, psk256`);
    expect(await held(data, shredded)).toBe(true);
  });

  it('given the two folders swapped, when key destroy-since-backup runs, then it is refused and the key made since the backup is kept', async () => {
    const { data, aside, made } = await restoredAfterAShred();
    const run = await credence(['key', 'destroy-since-backup', '--data', aside, '--before-restore', data]);
    expect(run.code).toBe(1);
    expect(run.out).toContain('later_than_backup');
    expect(run.out).not.toContain('destroyed again');
    expect(await held(aside, made)).toBe(true);
  });

  it('given a backup taken under a version before the last key change was kept, when key destroy-since-backup runs after an upgrade, then the key shredded since is destroyed again and the step-3 signing key kept', async () => {
    const { data, aside, shredded, kept, rotatedKid } = await restoredAfterAnUpgrade({ upgraded: true });
    const run = await credence(['key', 'destroy-since-backup', '--data', data, '--before-restore', aside]);
    expect(run.code, run.out).toBe(0);
    expect(run.out).toContain(`destroyed again ${shredded} (${OWNER} psk256`);
    expect(run.out).toMatch(/kept key_\S+ \(credence:access ed25519/);
    expect(await held(data, shredded)).toBe(false);
    expect(await held(data, kept)).toBe(true);
    const issued = await issue(data);
    expect(issued.code, issued.out).toBe(0);
    expect(issued.kid).toBe(rotatedKid);
  });

  it('given a folder moved aside whose key database kept no time of its last key change, when key destroy-since-backup runs, then that file\'s modification time stands for it', async () => {
    const { data, aside, shredded, kept, rotatedKid } = await restoredAfterAnUpgrade({ upgraded: false });
    const run = await credence(['key', 'destroy-since-backup', '--data', data, '--before-restore', aside]);
    expect(run.code, run.out).toBe(0);
    expect(run.out).toContain(`destroyed again ${shredded} (${OWNER} psk256`);
    expect(run.out).toContain(`after the last key change of ${aside}`);
    expect(run.out).toMatch(/kept key_\S+ \(credence:access ed25519/);
    expect(await held(data, shredded)).toBe(false);
    expect(await held(data, kept)).toBe(true);
    expect((await issue(data)).kid).toBe(rotatedKid);
    // The time it stood for is the file's, which the move aside kept.
    expect(statSync(keyFiles(aside).database).mtimeMs).toBeGreaterThan(0);
  });

  it('given a folder moved aside that is another key database, when key destroy-since-backup runs, then it is refused and nothing destroyed', async () => {
    const { data, shredded, kept } = await restoredAfterAShred();
    const other = join(scratch(), 'other');
    await withDataFolderSe(other, OWNER, (se) => se.generate('psk256'));
    const run = await credence(['key', 'destroy-since-backup', '--data', data, '--before-restore', other]);
    expect(run.code).not.toBe(0);
    expect(run.out).toContain('same_key_database');
    expect(await held(data, shredded)).toBe(true);
    expect(await held(data, kept)).toBe(true);
  });

  it('given README step 3 skipped, the current token signing key withdrawn since the backup, when key destroy-since-backup runs, then it is refused naming it and nothing is destroyed; after step 3 it is destroyed', async () => {
    const root = scratch();
    const data = join(root, 'data');
    expect((await issue(data)).code).toBe(0);
    const before = (await issue(data)).kid!;
    cpSync(data, join(root, 'backup'), { recursive: true });
    await rotateWithdrawing(data);
    const aside = join(root, 'data.before-restore');
    renameSync(data, aside);
    cpSync(join(root, 'backup'), data, { recursive: true });

    const refused = await credence(['key', 'destroy-since-backup', '--data', data, '--before-restore', aside]);
    expect(refused.code, refused.out).toBe(1);
    expect(refused.out).toMatch(/names as current, which signs new tokens[\s\S]*Run step 3 first[\s\S]*Nothing was destroyed \[current_signing_key\]/);
    const stillSigns = await issue(data);
    expect(stillSigns.code, stillSigns.out).toBe(0);
    expect(stillSigns.kid).toBe(before);

    // Step 3 withdraws and destroys it; the key it makes is kept.
    const rotatedKid = await rotateWithdrawing(data);
    const run = await credence(['key', 'destroy-since-backup', '--data', data, '--before-restore', aside]);
    expect(run.code, run.out).toBe(0);
    expect(run.out).toMatch(/kept \S+ \(credence:access ed25519/);
    expect(run.out).not.toMatch(/destroyed again \S+ \(credence:access/);
    expect((await issue(data)).kid).toBe(rotatedKid);
  });

  it('given README step 2 run after step 3 on both folders, a retired key whose tokens all ended, when key destroy-since-backup runs, then the listing wrote nothing and the step-3 key is kept', async () => {
    const root = scratch();
    const data = join(root, 'data');
    const short = await credence(['token', 'create', '--data', data, '--role', 'auditor', '--subject', 'ops', '--ttl', '2s']);
    expect(short.code, short.out).toBe(0);
    cpSync(data, join(root, 'backup'), { recursive: true });
    // Rotated since the backup, not withdrawn: the old key stays, retired, until its last token ends.
    expect((await credence(['token', 'rotate-key', '--data', data])).code).toBe(0);
    const aside = join(root, 'data.before-restore');
    renameSync(data, aside);
    cpSync(join(root, 'backup'), data, { recursive: true });
    const rotatedKid = await rotateWithdrawing(data);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const asideBefore = folderSnapshot(aside);

    // Step 2: the listings of both folders, the token now ended (review 96: the listing pruned the retired key in the
    // folder moved aside, and its later last key change made the step-3 key look destroyed since the backup).
    expect((await credence(['token', 'list', '--all', '--data', aside])).code).toBe(0);
    expect((await credence(['token', 'list', '--data', data])).code).toBe(0);
    expect(folderSnapshot(aside)).toEqual(asideBefore);

    const run = await credence(['key', 'destroy-since-backup', '--data', data, '--before-restore', aside]);
    expect(run.code, run.out).toBe(0);
    expect(run.out).not.toMatch(/destroyed again \S+ \(credence:access/);
    const issued = await issue(data);
    expect(issued.code, issued.out).toBe(0);
    expect(issued.kid).toBe(rotatedKid);
  });

  it('given the OCSP signer renewed twice since the backup, when key destroy-since-backup runs, then the key the restored signer file names as current is kept and the service starts', async () => {
    const root = scratch();
    const data = join(root, 'data');
    expect((await credence(['ca', 'init', '--data', data])).code).toBe(0);
    await (await startTestService({ dir: data })).close();
    const restoredCurrent = ocspSignerHandles(data).find((signer) => signer.state === 'current')!.handle as KeyHandle;
    cpSync(data, join(root, 'backup'), { recursive: true });
    // Two renewals (a signer is due some 4.7 days on): the first retires the backup's key, the second destroys it.
    for (const days of [5, 10]) {
      await withDataFolderSe(data, OWNER, async (se) => {
        const [ca] = await loadIssuingCas(data, se);
        await OcspSigningKey.open({ dataDir: data, se, ca: ca!, random: systemRandom, now: () => Date.now() + days * 86_400_000 });
      });
    }
    expect(await held(data, restoredCurrent)).toBe(false);
    const aside = join(root, 'data.before-restore');
    renameSync(data, aside);
    cpSync(join(root, 'backup'), data, { recursive: true });

    const run = await credence(['key', 'destroy-since-backup', '--data', data, '--before-restore', aside]);
    expect(run.code, run.out).toBe(0);
    expect(run.out).toContain(`kept ${restoredCurrent} (${OWNER}`);
    expect(run.out).toMatch(/the OCSP signing key of CA default .* which signs its OCSP responses; the service retires it at the signer's next renewal/);
    expect(run.out).not.toContain(`destroyed again ${restoredCurrent}`);
    expect(await held(data, restoredCurrent)).toBe(true);
    await (await startTestService({ dir: data })).close();
  }, 60_000);

  it('given a pkcs11: Secure Environment, when key destroy-since-backup runs, then it is bad usage: a restore brings back none of its keys', async () => {
    const { data, aside, shredded } = await restoredAfterAShred();
    const run = await credence(['key', 'destroy-since-backup', '--data', data, '--before-restore', aside], {
      CREDENCE_SECURE_ENVIRONMENT: 'pkcs11:token=credence;slot-id=0',
    });
    expect(run.code, run.out).toBe(2);
    expect(run.out).toContain('a restore of the data folder does not bring back');
    expect(await held(data, shredded)).toBe(true);
  });
});
