import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRootCa, requestIntermediateCa } from '../adapters/driven/pki/create.ts';
import { caIds, readCaFile } from '../adapters/driven/pki/index.ts';
import { OcspSigningKey } from '../adapters/driven/pki/ocsp-signing-key.ts';
import { SqliteKeyRegistry } from '../adapters/driven/key-registry/index.ts';
import { KEY_HANDLE_FILE, LOG_KEY_OWNER } from '../adapters/driven/transparency/index.ts';
import { ACCESS_OWNER } from '../adapters/http/auth/open-access-control.ts';
import { openSigningKeys } from '../adapters/http/auth/signing-keys.ts';
import { FakeClock, openAccessRegistry, systemRandom, type AccessRegistry } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { isKeyNotFound } from '../domain/errors.ts';
import { KeyHandle } from '../domain/ports/index.ts';
import type { CaId } from '../domain/x509/issuing-ca.ts';
import { capture } from './support/cli.ts';
import { withDataFolderSe } from './support/key-held.ts';
import { testCa } from './support/pki-test-ca.ts';
import { refusingDestroy } from './support/refusing-destroy.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * A key just made whose use failed, and whose destroy the Secure Environment then refused, is named in the error as
 * "left in the Secure Environment (owner X), named by nothing" (domain/ports/destroy-new-key.ts): a CA key of `ca
 * init`, an OCSP signing key, an API token signing key. Only the log key had a command to destroy such a key.
 * `credence key destroy --owner X --handle key_…` is the command the error names; it refuses every key a record of
 * the folder still names, and destroys nothing then.
 */
const scratch = temporaryFolders('credence-key-destroy-');
const INFRASTRUCTURE = 'maf:infrastructure';
const DAY = 86_400_000;

/** Where a data folder goes: its embedded Secure Environment (the KEK in the folder) is made at the first `withSe`. */
const folder = () => join(scratch(), 'data');
const withSe = withDataFolderSe;

const credence = async (argv: string[]): Promise<{ code: number; out: string }> => {
  const { io, out, err } = capture();
  const code = await main(argv, { ...io, env: {} });
  return { code, out: [...out, ...err].join('\n') };
};

/** Whether the folder still holds `handle` for `owner`; when it does, the key still does its work (signs, or MACs). */
const works = (dir: string, owner: string, handle: string): Promise<boolean> =>
  withSe(dir, owner, async (se) => {
    try {
      const key = await se.describe(handle as KeyHandle);
      const message = new Uint8Array([1, 2, 3]);
      if (key.usage === 'sign') expect((await se.sign(key.handle, message)).length).toBeGreaterThan(0);
      else expect((await se.mac(key.handle, message)).length).toBe(32);
      return true;
    } catch (error) {
      if (isKeyNotFound(error)) return false;
      throw error;
    }
  });

/** The arguments of the `credence key destroy` command an error names, run on `dir`. */
const commandIn = (error: unknown, dir: string): string[] => {
  const named = /credence (key destroy --owner \S+ --handle \S+) --data <the data folder>/.exec((error as Error).message);
  expect(named, (error as Error).message).not.toBeNull();
  return [...named![1]!.split(' '), '--data', dir];
};

/** `registry` whose claim of a first signing key throws (a full disk, a busy database), the rest as it is. */
const failingClaim = (registry: AccessRegistry): AccessRegistry => ({
  ...registry,
  claimSigningKey: () => {
    throw new Error('access.db: claimSigningKey failed (simulated)');
  },
});

/** Left keys, as each destroyNewKey caller leaves one: its use fails, then the Secure Environment refuses the destroy. */
const LEFT: readonly { readonly name: string; readonly owner: string; leave(dir: string): Promise<{ key: KeyHandle; error: unknown }> }[] = [
  {
    name: 'a CA key of ca init',
    owner: INFRASTRUCTURE,
    leave: (dir) =>
      withSe(dir, INFRASTRUCTURE, async (raw) => {
        const se = refusingDestroy(raw);
        se.refuse();
        const deliver = () => {
          throw new Error('--csr-out: cannot write (simulated)');
        };
        const error = await requestIntermediateCa({ dataDir: dir, se: se.se, id: 'default' as CaId, kind: 'p256', now: new Date(), random: systemRandom, deliver }).catch((e: unknown) => e);
        return { key: se.made[0]!, error };
      }),
  },
  {
    name: 'an OCSP signing key',
    owner: INFRASTRUCTURE,
    leave: (dir) =>
      withSe(dir, INFRASTRUCTURE, async (raw) => {
        const se = refusingDestroy(raw);
        se.refuse();
        const ca = await testCa('default', 'p256');
        const refusing = { ...ca, signer: { ...ca.signer, sign: () => Promise.reject(new Error('the CA key did not sign (simulated)')) } };
        const error = await OcspSigningKey.open({ dataDir: dir, se: se.se, ca: refusing, random: systemRandom, now: Date.now }).catch((e: unknown) => e);
        return { key: se.made[0]!, error };
      }),
  },
  {
    name: 'an API token signing key access.db does not name',
    owner: ACCESS_OWNER,
    leave: (dir) =>
      withSe(dir, ACCESS_OWNER, async (raw) => {
        const se = refusingDestroy(raw);
        se.refuse();
        const registry = openAccessRegistry({ dir });
        try {
          const error = await openSigningKeys(se.se, failingClaim(registry), new FakeClock('2026-12-01T00:00:00Z')).catch((e: unknown) => e);
          return { key: se.made[0]!, error };
        } finally {
          registry.close();
        }
      }),
  },
];

describe('credence key destroy, on a folder with the embedded Secure Environment', () => {
  for (const left of LEFT) {
    it(`destroys ${left.name} left in the Secure Environment, by the command its error names; a second run says it is not there (exit 0)`, async () => {
      const dir = folder();
      const { key, error } = await left.leave(dir);
      expect(await works(dir, left.owner, key)).toBe(true);
      const argv = commandIn(error, dir);
      expect(argv).toEqual(['key', 'destroy', '--owner', left.owner, '--handle', key, '--data', dir]);
      const destroyed = await credence(argv);
      expect(destroyed.code, destroyed.out).toBe(0);
      expect(destroyed.out).toContain(`destroyed key ${key} (${left.owner})`);
      expect(await works(dir, left.owner, key)).toBe(false);
      const again = await credence(argv);
      expect(again.code, again.out).toBe(0);
      expect(again.out).toContain(`no key ${key} of ${left.owner} in the Secure Environment of ${dir}: already destroyed, or never there`);
    }, 60_000);
  }

  it('destroys a log key no transparency.handle names', async () => {
    const dir = folder();
    const key = await withSe(dir, LOG_KEY_OWNER, (se) => se.generate('ed25519'));
    const destroyed = await credence(['key', 'destroy', '--owner', LOG_KEY_OWNER, '--handle', key, '--data', dir]);
    expect(destroyed.code, destroyed.out).toBe(0);
    expect(await works(dir, LOG_KEY_OWNER, key)).toBe(false);
  }, 60_000);

  /** A folder whose records name keys of every owner: each refused, each still working after. */
  const usedFolder = async () => {
    const dir = folder();
    const used: { owner: string; key: string; rule: string }[] = [];
    await withSe(dir, INFRASTRUCTURE, async (se) => {
      await createRootCa({ dataDir: dir, se, id: 'default' as CaId, kind: 'p256', now: new Date(), random: systemRandom });
      used.push({ owner: INFRASTRUCTURE, key: readCaFile(dir, caIds(dir)[0]!)!.keyHandle, rule: 'ca_key_in_use' });
      let now = Date.now();
      const ocsp = await OcspSigningKey.open({ dataDir: dir, se, ca: await testCa('default', 'p256', now), random: systemRandom, now: () => now });
      const first = JSON.parse(readOcsp(dir)) as { keyHandle: string };
      now += 5 * DAY;
      await ocsp.renew();
      const renewed = JSON.parse(readOcsp(dir)) as { keyHandle: string; retired: string[] };
      expect(renewed.retired).toEqual([first.keyHandle]);
      used.push({ owner: INFRASTRUCTURE, key: renewed.keyHandle, rule: 'ocsp_signing_key_in_use' });
      used.push({ owner: INFRASTRUCTURE, key: first.keyHandle, rule: 'ocsp_signing_key_in_use' });
      const prf = await se.generate('psk256');
      const registry = SqliteKeyRegistry.open({ dir });
      try {
        registry.register('infrastructure', prf, 'pseudonym-prf');
      } finally {
        registry.close();
      }
      used.push({ owner: INFRASTRUCTURE, key: prf, rule: 'key_registry_key_in_use' });
    });
    // A token signed with the first key keeps it retired (not destroyed) after the rotation.
    const issued = await credence(['token', 'create', '--data', dir, '--role', 'admin', '--subject', 'ops', '--ttl', '1h']);
    expect(issued.code, issued.out).toBe(0);
    const rotated = await credence(['token', 'rotate-key', '--data', dir]);
    expect(rotated.code, rotated.out).toBe(0);
    const access = openAccessRegistry({ dir });
    try {
      const keys = access.signingKeys();
      expect(keys.map((k) => k.retiredAt === undefined)).toEqual([false, true]);
      for (const k of keys) used.push({ owner: ACCESS_OWNER, key: k.handle, rule: 'access_signing_key_in_use' });
    } finally {
      access.close();
    }
    const logKey = await withSe(dir, LOG_KEY_OWNER, (se) => se.generate('ed25519'));
    writeFileSync(join(dir, KEY_HANDLE_FILE), `${logKey}\n`);
    used.push({ owner: LOG_KEY_OWNER, key: logKey, rule: 'log_key_in_use' });
    return { dir, used };
  };

  it('refuses every key a record of the folder names (CA file, OCSP signer file current and retired, key registry, access.db current and retired, transparency.handle), destroying nothing', async () => {
    const { dir, used } = await usedFolder();
    for (const { owner, key, rule } of used) {
      const refused = await credence(['key', 'destroy', '--owner', owner, '--handle', key, '--data', dir]);
      expect(refused.code, refused.out).toBe(1);
      expect(refused.out).toContain('refused (validation)');
      expect(refused.out).toContain(`--handle: ${key} is `);
      expect(refused.out).toContain(`[${rule}]`);
    }
    for (const { owner, key } of used) expect(await works(dir, owner, key), `${owner} ${key}`).toBe(true);
  }, 120_000);

  it('refuses an owner it does not know, naming those it knows (exit 2), destroying nothing', async () => {
    const dir = folder();
    const key = await withSe(dir, 'maf:device', (se) => se.generate('ed25519'));
    const refused = await credence(['key', 'destroy', '--owner', 'maf:device', '--handle', key, '--data', dir]);
    expect(refused.code, refused.out).toBe(2);
    expect(refused.out).toContain('--owner');
    for (const owner of [INFRASTRUCTURE, ACCESS_OWNER, LOG_KEY_OWNER]) expect(refused.out).toContain(owner);
    expect(await works(dir, 'maf:device', key)).toBe(true);
  }, 60_000);

  it("cannot reach another owner's key by naming a known owner: refused, the key kept", async () => {
    const dir = folder();
    const key = await withSe(dir, 'maf:device', (se) => se.generate('ed25519'));
    const refused = await credence(['key', 'destroy', '--owner', INFRASTRUCTURE, '--handle', key, '--data', dir]);
    expect(refused.code, refused.out).toBe(1);
    expect(refused.out).toContain('refused (unauthorised)');
    expect(await works(dir, 'maf:device', key)).toBe(true);
  }, 60_000);

  it('is refused while the service holds the folder, destroying nothing', async () => {
    const dir = folder();
    const { key, error } = await LEFT[0]!.leave(dir);
    const svc = await startTestService({ dir });
    try {
      const refused = await credence(commandIn(error, dir));
      expect(refused.code, refused.out).toBe(1);
      expect(refused.out).toContain('stop that service first');
    } finally {
      await svc.close();
    }
    expect(await works(dir, INFRASTRUCTURE, key)).toBe(true);
  }, 120_000);
});

const readOcsp = (dir: string): string => readFileSync(join(dir, 'pki', 'default.ocsp.json'), 'utf8');
