import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KEY_HANDLE_FILE, LOG_KEY_OWNER, PUBLIC_KEY_FILE, secureEnvironmentSigner, TRANSPARENCY_DB_FILE } from '../adapters/driven/transparency/index.ts';
import { openDataFolderSecureEnvironment } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { isKeyNotFound } from '../domain/errors.ts';
import { KeyHandle, ownerView } from '../domain/ports/index.ts';
import { capture } from './support/cli.ts';
import { cmd } from './support/fleet.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { withKekFile } from './support/kek-file-env.ts';

/*
 * Review 56 finding 4: after a restore (README "Restoring the event store from a backup", step 4) the folder's
 * transparency.handle is moved aside with the old log and a new key is generated at the next start, but the old key
 * stayed in the embedded Secure Environment with no command to destroy it: anyone with the folder and its KEK could
 * still sign checkpoints for the log auditors pinned. `credence log-key destroy` destroys it, and only it.
 */
const scratch = temporaryFolders('credence-log-key-destroy-');


/** Registers a node through the service and closes it, which signs a checkpoint over everything logged. */
const serveOneNode = async (dir: string, kek: string, nodeId: string): Promise<void> =>
  withKekFile(kek, async () => {
    const svc = await startTestService({ dir });
    const { events } = await svc.service.context.credence.engine.execute(cmd.registerNode(nodeId));
    if (!(await svc.service.context.live.caughtUp(events.at(-1)!.position, 30_000))) throw new Error('the live runtime did not catch up');
    await svc.close();
  });

const credence = async (argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> => {
  const { io, out, err } = capture();
  const code = await main(argv, { ...io, env });
  return { code, out: [...out, ...err].join('\n') };
};

const handleIn = (file: string): KeyHandle => KeyHandle.parse(readFileSync(file, 'utf8').trim());

/** Whether the folder's Secure Environment still holds `handle` for the log key's owner; signs with it when it does. */
const holds = async (dir: string, kek: string, handle: KeyHandle): Promise<boolean> => {
  const se = openDataFolderSecureEnvironment(dir, { now: () => new Date(), kekFile: kek });
  try {
    const signer = await secureEnvironmentSigner({ se: ownerView(se, LOG_KEY_OWNER), handle, keyName: 'example.org/log' });
    expect((await signer.sign(new Uint8Array([1, 2, 3]))).length).toBe(64);
    return true;
  } catch (error) {
    if (isKeyNotFound(error)) return false;
    throw error;
  } finally {
    se.close();
  }
};

/**
 * A folder restored as README step 4 says: served once (its first key), its log and handle moved aside into `old/`,
 * served again (a new log under a new key).
 */
const restoredFolder = async () => {
  const dir = join(scratch(), 'data');
  const kek = join(scratch(), 'secrets', 'credence.kek');
  await serveOneNode(dir, kek, 'meter-1');
  const old = join(scratch(), 'data.before-restore');
  mkdirSync(old);
  for (const file of [TRANSPARENCY_DB_FILE, KEY_HANDLE_FILE, PUBLIC_KEY_FILE]) renameSync(join(dir, file), join(old, file));
  await serveOneNode(dir, kek, 'meter-2');
  const retired = handleIn(join(old, KEY_HANDLE_FILE));
  const current = handleIn(join(dir, KEY_HANDLE_FILE));
  expect(current).not.toBe(retired);
  expect(await holds(dir, kek, retired)).toBe(true);
  return { dir, kek, old, retired, current, env: { CREDENCE_KEK_FILE: kek } };
};

describe('credence log-key destroy, on a folder served with the embedded Secure Environment', () => {
  it('destroys the retired log key the moved-aside handle names; the new key still signs; a second run says it is not there (exit 0)', async () => {
    const { dir, kek, old, retired, current, env } = await restoredFolder();
    const destroyed = await credence(['log-key', 'destroy', '--data', dir, '--handle-file', join(old, KEY_HANDLE_FILE)], env);
    expect(destroyed.code, destroyed.out).toBe(0);
    expect(destroyed.out).toContain(`destroyed log key ${retired}`);
    expect(await holds(dir, kek, retired)).toBe(false);
    expect(await holds(dir, kek, current)).toBe(true);
    // The service starts on the new key and its log still verifies against the new transparency.pub.
    await serveOneNode(dir, kek, 'meter-3');
    expect((await credence(['verify', '--data', dir, '--key', join(dir, PUBLIC_KEY_FILE)])).code).toBe(0);
    const again = await credence(['log-key', 'destroy', '--data', dir, '--handle-file', join(old, KEY_HANDLE_FILE)], env);
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain(`no log key ${retired} of ${LOG_KEY_OWNER} in the Secure Environment of ${dir}: already destroyed, or never there`);
  }, 180_000);

  it('refuses the key the folder signs with (its own transparency.handle), destroying nothing', async () => {
    const { dir, kek, retired, current, env } = await restoredFolder();
    const refused = await credence(['log-key', 'destroy', '--data', dir, '--handle-file', join(dir, KEY_HANDLE_FILE)], env);
    expect(refused.code, refused.out).toBe(1);
    expect(refused.out).toContain('refused (validation)');
    expect(refused.out).toContain('--handle-file');
    expect(await holds(dir, kek, current)).toBe(true);
    expect(await holds(dir, kek, retired)).toBe(true);
    // A copy of that handle elsewhere is the same key: refused too.
    const copy = join(scratch(), 'copy.handle');
    writeFileSync(copy, `${current}\n`);
    expect((await credence(['log-key', 'destroy', '--data', dir, '--handle-file', copy], env)).code).toBe(1);
    await serveOneNode(dir, kek, 'meter-3');
    expect((await credence(['verify', '--data', dir, '--key', join(dir, PUBLIC_KEY_FILE)])).code).toBe(0);
  }, 180_000);

  it('is bad usage (exit 2) naming --handle-file for a file that holds no handle, or none at all; nothing destroyed', async () => {
    const { dir, kek, retired, env } = await restoredFolder();
    const damaged = join(scratch(), 'damaged.handle');
    writeFileSync(damaged, 'key_short\n');
    const huge = join(scratch(), 'huge.handle');
    writeFileSync(huge, `${retired}\n${'x'.repeat(100_000)}`);
    for (const file of [damaged, huge, join(scratch(), 'absent.handle'), scratch()]) {
      const result = await credence(['log-key', 'destroy', '--data', dir, '--handle-file', file], env);
      expect(result.code, result.out).toBe(2);
      expect(result.out).toContain('--handle-file');
    }
    expect(await holds(dir, kek, retired)).toBe(true);
  }, 180_000);

  it("cannot name another owner's key: refused, the key kept", async () => {
    const { dir, kek, env } = await restoredFolder();
    const se = openDataFolderSecureEnvironment(dir, { now: () => new Date(), kekFile: kek });
    const infrastructure = ownerView(se, 'maf:infrastructure');
    const other = join(scratch(), 'other.handle');
    try {
      writeFileSync(other, `${await infrastructure.generate('ed25519')}\n`);
    } finally {
      se.close();
    }
    const refused = await credence(['log-key', 'destroy', '--data', dir, '--handle-file', other], env);
    expect(refused.code, refused.out).toBe(1);
    expect(refused.out).toContain('refused (unauthorised)');
    const after = openDataFolderSecureEnvironment(dir, { now: () => new Date(), kekFile: kek });
    try {
      expect((await ownerView(after, 'maf:infrastructure').describe(handleIn(other))).kind).toBe('ed25519');
    } finally {
      after.close();
    }
  }, 180_000);

  it('is refused while the service holds the folder, destroying nothing', async () => {
    const { dir, kek, old, retired, env } = await restoredFolder();
    await withKekFile(kek, async () => {
      const svc = await startTestService({ dir });
      try {
        const refused = await credence(['log-key', 'destroy', '--data', dir, '--handle-file', join(old, KEY_HANDLE_FILE)], env);
        expect(refused.code, refused.out).toBe(1);
        expect(refused.out).toContain('stop that service first');
      } finally {
        await svc.close();
      }
    });
    expect(await holds(dir, kek, retired)).toBe(true);
  }, 180_000);
});
