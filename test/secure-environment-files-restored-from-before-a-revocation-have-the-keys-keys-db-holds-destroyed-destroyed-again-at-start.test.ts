/**
 * Review 286 L1: the embedded Secure Environment's files (secure-environment.sqlite and its wrapping keys) put back
 * alone from a backup taken before a keyCompromise revocation, keys.db kept: the PSK copy and the session keys the
 * shredder destroyed since were held and usable again (an HKDF derivation from them succeeded), and the start said
 * nothing; keys.db holds them destroyed, so the shredder's pass (keys-shredded-again.ts) has nothing in use to go
 * over. The start now destroys again each key keys.db holds destroyed that the Secure Environment holds, and says
 * how many at warn, for its owner, with why: never a handle.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import { Device } from '../adapters/protocols/procedures/index.ts';
import { systemRandom } from '../adapters/runtime/index.ts';
import { isKeyNotFound } from '../domain/errors.ts';
import type { KeyHandle } from '../domain/ports/index.ts';
import { operator, profile } from './support/fleet.ts';
import { isHeld, shredded, withDataFolderSe } from './support/key-held.ts';
import { startTestService, type TestService } from './support/service.ts';

const DAY = 86_400_000;
const OWNER = 'maf:infrastructure';
const CREDENTIAL = 'credential-meter-2-svc';
const ASSOCIATION = 'association-meter-2-sa';
/** The embedded Secure Environment's two databases: what is put back, keys.db left as it is. */
const SE_FILES = ['secure-environment.sqlite', 'secure-environment.wrapping-keys'];

const dirs: string[] = [];
const devices: EmbeddedSecureEnvironment[] = [];
afterEach(() => {
  for (const se of devices.splice(0)) se.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const seFilesOf = (dir: string): string[] => readdirSync(dir).filter((name) => SE_FILES.some((file) => name.startsWith(file)));

/** The warnings that say the Secure Environment's keys keys.db holds destroyed were destroyed again. */
const heldAgain = (service: TestService): { owner: string; keysDestroyedAgainInSecureEnvironment: number; msg: string }[] =>
  service
    .logs()
    .map((line) => JSON.parse(line) as { level: number; owner: string; keysDestroyedAgainInSecureEnvironment?: number; msg: string })
    .filter((entry) => entry.level === 40 && entry.keysDestroyedAgainInSecureEnvironment !== undefined) as {
    owner: string;
    keysDestroyedAgainInSecureEnvironment: number;
    msg: string;
  }[];

/** Whether an HKDF derivation from `key` fails as a destroyed key does (`not_found`). */
const deriveFailsNotFound = (dir: string, key: KeyHandle): Promise<boolean> =>
  withDataFolderSe(dir, OWNER, (se) =>
    se.deriveKey({ inputs: [key], salt: new Uint8Array(32), info: new Uint8Array([1]), kind: 'session256' }).then(
      () => false,
      (error: unknown) => {
        if (isKeyNotFound(error)) return true;
        throw error;
      },
    ),
  );

/**
 * A data folder with the PSK credentials of meter-1 and meter-2 and an association over each; meter-1's revoked, the
 * Secure Environment files backed up, meter-2's credential revoked (keyCompromise: the cascade revokes its
 * association, the shredder destroys their keys, keys.db holds them destroyed), then the backup's Secure Environment
 * files put back: the service stopped. Returns the folder and the keys meter-2's revocation destroyed.
 */
const secureEnvironmentRestoredFromBeforeARevocation = async (): Promise<{ dir: string; keys: KeyHandle[] }> => {
  const root = mkdtempSync(join(tmpdir(), 'credence-se-restored-alone-'));
  dirs.push(root);
  const dir = join(root, 'data');
  const backup = join(root, 'backup');
  let service = await startTestService({ dir });
  const now = Date.now();
  const { procedures, infrastructure } = await service.service.context.credence.security();
  const { engine } = service.service.context.credence;
  const validity = { notBefore: new Date(now - DAY).toISOString(), notAfter: new Date(now + 365 * DAY).toISOString() };
  await engine.execute({ type: 'createSubscription', data: { subscriptionId: 'sub-1', subscriber: 'City Utilities', ...validity }, metadata: { actor: operator } });
  for (const n of [1, 2]) {
    const se = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: () => new Date(), random: systemRandom });
    devices.push(se);
    const device = new Device({ nodeId: `meter-${n}`, se, now: () => new Date(), random: systemRandom });
    await procedures.preProvision({ device, profile, bootstrapCredentialId: `meter-${n}-boot`, kind: 'ed25519', validity });
    await engine.execute({ type: 'enrolNode', data: { nodeId: `meter-${n}`, subscriptionId: 'sub-1', cseId: `/meter-${n}-cse` }, metadata: { actor: operator } });
    await procedures.provisionRemotely({ device, credentialId: `meter-${n}-svc`, kind: 'psk256' });
    await procedures.associate({ device, associationId: `meter-${n}-sa`, credentialId: `meter-${n}-svc`, lifetimeSeconds: 86_400 });
  }
  const keys = [...infrastructure.o.registry.live(CREDENTIAL), ...infrastructure.o.registry.live(ASSOCIATION)] as KeyHandle[];
  expect(infrastructure.o.registry.live(ASSOCIATION).length).toBeGreaterThan(0);
  const revoke = (id: string) =>
    service.service.context.credence.engine.execute({ type: 'revokeCredential', data: { credentialId: id, reason: 'keyCompromise' }, metadata: { actor: operator } });
  await revoke('meter-1-svc');
  await shredded(service, ['credential-meter-1-svc', 'association-meter-1-sa']);
  await service.close();

  // The backup of the Secure Environment files, taken of the stopped service.
  mkdirSync(backup);
  for (const name of seFilesOf(dir)) copyFileSync(join(dir, name), join(backup, name));

  service = await startTestService({ dir });
  await revoke('meter-2-svc');
  await shredded(service, [CREDENTIAL, ASSOCIATION]);
  await service.close();
  for (const key of keys) expect(await withDataFolderSe(dir, OWNER, (s) => isHeld(s, key))).toBe(false);

  for (const name of seFilesOf(dir)) rmSync(join(dir, name));
  for (const name of seFilesOf(backup)) copyFileSync(join(backup, name), join(dir, name));
  return { dir, keys };
};

describe('Secure Environment files restored from before a revocation', () => {
  it('given only the embedded Secure Environment put back, keys.db kept, when the service starts, then the keys keys.db holds destroyed are destroyed again and it says how many and why', async () => {
    const { dir, keys } = await secureEnvironmentRestoredFromBeforeARevocation();
    // The restore alone brings them back, usable.
    for (const key of keys) expect(await withDataFolderSe(dir, OWNER, (se) => isHeld(se, key))).toBe(true);
    expect(await deriveFailsNotFound(dir, keys[0]!)).toBe(false);

    const service = await startTestService({ dir });
    try {
      const [warning, ...more] = heldAgain(service);
      expect(more).toEqual([]);
      expect(warning?.owner).toBe(OWNER);
      expect(warning?.keysDestroyedAgainInSecureEnvironment).toBe(keys.length);
      expect(warning?.msg).toMatch(/keys\.db holds .* destroyed/);
      // Counts only: no handle.
      for (const key of keys) expect(service.logs().join('\n')).not.toContain(key);
    } finally {
      await service.close();
    }
    for (const key of keys) {
      expect(await withDataFolderSe(dir, OWNER, (se) => isHeld(se, key))).toBe(false);
      expect(await deriveFailsNotFound(dir, key)).toBe(true);
    }

    // Nothing left to destroy again: the next start says nothing.
    const again = await startTestService({ dir });
    try {
      expect(heldAgain(again)).toEqual([]);
    } finally {
      await again.close();
    }
  }, 60_000);
});
