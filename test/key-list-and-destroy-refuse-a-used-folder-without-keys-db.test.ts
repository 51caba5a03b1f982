import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { boundHandles } from '../adapters/driven/key-registry/bound-handles.ts';
import { KEY_REGISTRY_DB_FILE } from '../adapters/driven/key-registry/index.ts';
import type { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import { createRootCa } from '../adapters/driven/pki/create.ts';
import { systemRandom } from '../adapters/runtime/index.ts';
import type { KeyHandle } from '../domain/ports/index.ts';
import type { CaId } from '../domain/x509/issuing-ca.ts';
import { associatedMeters } from './support/associated-meter.ts';
import { runCli } from './support/cli.ts';
import { isHeld, withDataFolderSe } from './support/key-held.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 378 (SER-010, SER-011): keys.db deleted from a folder the service ran on (its events.db and readmodels.db
 * there) left the keys it bound (the pseudonym PRF key, the Enrolment Function's and Registrar's signing keys, a live
 * credential's PSK, a live association's session keys) named by nothing: `key list --unnamed` listed them and `key
 * destroy` destroyed them, exit 0. A keys.db missing from a folder whose store was used is refused as an empty one is,
 * naming keys.db and its restore; a folder never started (an interrupted ca init) has none yet and lists its keys.
 */
const scratch = temporaryFolders('credence-key-list-no-keys-db-');
const INFRASTRUCTURE = 'maf:infrastructure';

const devices: EmbeddedSecureEnvironment[] = [];
afterEach(async () => {
  for (const se of devices.splice(0)) await se.close();
});

/** A folder the service ran on, with a credential and an association over it, its keys.db then deleted. */
const servedFolderWithoutKeysDb = async (): Promise<{ dir: string; bound: string[] }> => {
  const dir = join(scratch(), 'data');
  const service = await startTestService({ dir });
  try {
    await associatedMeters(service, devices, ['meter-1']);
  } finally {
    await service.close();
  }
  const bound = [...boundHandles(dir).keys()];
  expect(bound.length).toBeGreaterThan(0);
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(join(dir, `${KEY_REGISTRY_DB_FILE}${suffix}`), { force: true });
  expect(existsSync(join(dir, 'events.db'))).toBe(true);
  return { dir, bound };
};

describe('credence key list and key destroy on a folder the service ran on, its keys.db gone', () => {
  it('key list refuses (exit 1) naming keys.db and its restore, listing no key unnamed', async () => {
    const { dir } = await servedFolderWithoutKeysDb();

    const listed = await runCli(['key', 'list', '--data', dir, '--unnamed']);

    expect(listed.code, listed.out).toBe(1);
    expect(listed.err).toContain(`the database ${join(dir, KEY_REGISTRY_DB_FILE)} is damaged`);
    expect(listed.err).toContain('restore it from a backup of the data folder');
    expect(listed.out).not.toContain('unnamed');
  }, 120_000);

  it('key destroy refuses (exit 1) a key keys.db bound, and the key stays held', async () => {
    const { dir, bound } = await servedFolderWithoutKeysDb();
    const handle = bound[0]!;

    const destroyed = await runCli(['key', 'destroy', '--data', dir, '--owner', INFRASTRUCTURE, '--handle', handle]);

    expect(destroyed.code, destroyed.out).toBe(1);
    expect(destroyed.err).toContain(`the database ${join(dir, KEY_REGISTRY_DB_FILE)} is damaged`);
    expect(await withDataFolderSe(dir, INFRASTRUCTURE, (se) => isHeld(se, handle as KeyHandle))).toBe(true);
  }, 120_000);

  it('a folder never started (a CA made, a key left) has no keys.db yet, and still lists and destroys its unnamed key', async () => {
    const dir = join(scratch(), 'data');
    const left = await withDataFolderSe(dir, INFRASTRUCTURE, async (se) => {
      await createRootCa({ dataDir: dir, se, id: 'default' as CaId, kind: 'p256', now: new Date(), random: systemRandom });
      return se.generate('ed25519');
    });
    expect(existsSync(join(dir, KEY_REGISTRY_DB_FILE))).toBe(false);

    const listed = await runCli(['key', 'list', '--data', dir, '--unnamed']);
    expect(listed.code, listed.err).toBe(0);
    expect(listed.out).toMatch(new RegExp(`^${left} ${INFRASTRUCTURE} .* unnamed$`, 'm'));

    const destroyed = await runCli(['key', 'destroy', '--data', dir, '--owner', INFRASTRUCTURE, '--handle', left]);
    expect(destroyed.code, destroyed.err).toBe(0);
    expect(await withDataFolderSe(dir, INFRASTRUCTURE, (se) => isHeld(se, left))).toBe(false);
  }, 120_000);
});
