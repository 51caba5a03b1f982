import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { EmbeddedSecureEnvironment } from '../../adapters/driven/secure-environment/index.ts';
import type { KeyHandle } from '../../domain/ports/index.ts';
import { associatedMeters } from './associated-meter.ts';
import { operator } from './fleet.ts';
import { isHeld, shredded, withDataFolderSe } from './key-held.ts';
import { startTestService } from './service.ts';

/**
 * A service on `dir` with the PSK credentials of meter-1 and meter-2 and an association over each (associatedMeters;
 * keys.db binds their PSK copies and session keys); meter-1's credential revoked (keyCompromise) and their keys
 * shredded; the service stopped and each file of `dir` whose name starts with one of `files` copied into `backup` (a
 * new folder); then meter-2's credential revoked on a new start (the cascade revokes its association, the shredder
 * destroys their keys, keys.db holds them destroyed), and the service stopped. What the backup is put back over is the
 * caller's. Returns the keys meter-2's revocation destroyed.
 */
export const backedUpBeforeARevocation = async (
  { dir, backup, files }: { dir: string; backup: string; files: readonly string[] },
  devices: EmbeddedSecureEnvironment[],
): Promise<KeyHandle[]> => {
  const credential = 'credential-meter-2-svc';
  const association = 'association-meter-2-sa';
  let service = await startTestService({ dir });
  const { infrastructure } = await associatedMeters(service, devices, ['meter-1', 'meter-2']);
  const keys = [...infrastructure.o.registry.live(credential), ...infrastructure.o.registry.live(association)] as KeyHandle[];
  expect(infrastructure.o.registry.live(association).length).toBeGreaterThan(0);
  const revoke = (id: string) =>
    service.service.context.credence.engine.execute({ type: 'revokeCredential', data: { credentialId: id, reason: 'keyCompromise' }, metadata: { actor: operator } });
  await revoke('meter-1-svc');
  await shredded(service, ['credential-meter-1-svc', 'association-meter-1-sa']);
  await service.close();

  // The backup, taken of the stopped service.
  mkdirSync(backup);
  for (const name of readdirSync(dir).filter((n) => files.some((file) => n.startsWith(file)))) copyFileSync(join(dir, name), join(backup, name));

  service = await startTestService({ dir });
  await revoke('meter-2-svc');
  await shredded(service, [credential, association]);
  await service.close();
  for (const key of keys) expect(await withDataFolderSe(dir, 'maf:infrastructure', (s) => isHeld(s, key))).toBe(false);
  return keys;
};
