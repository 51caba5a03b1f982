import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { toBase64url } from '../domain/crypto/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { nodePseudonym } from '../projections/pseudonyms/index.ts';
import { operator, T0 } from './support/fleet.ts';
import { restartableWorld, type RestartableWorld } from './support/restartable-world.ts';

// Security issue 11 item 3: the key registry lived in readmodels.db, which may be deleted and rebuilt at any time.

let world: RestartableWorld | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await world?.close();
  world = undefined;
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const deleteReadModels = (dir: string) => () => {
  for (const suffix of ['', '-wal', '-shm']) rmSync(join(dir, `readmodels.db${suffix}`), { force: true });
};

describe('the key registry is durable state, not a read model', () => {
  it('deleting and rebuilding every read model changes nothing: same signing keys, same pseudonyms, PSK association and shredding still work', async () => {
    world = await restartableWorld('rebuild-read-models');
    const w = world;
    const meter1 = await w.provisioned('meter-1', 'psk256', 'psk256');
    const meter2 = await w.provisioned('meter-2', 'ed25519', 'p256');
    await w.procedures.associate({ device: meter1, associationId: 'sa-1', credentialId: 'meter-1-svc', lifetimeSeconds: 86_400 });
    await w.procedures.associate({ device: meter2, associationId: 'sa-2', credentialId: 'meter-2-svc', lifetimeSeconds: 86_400 });
    await w.credence.settle();
    const signingKeys = () => [toBase64url(w.infrastructure.signing.efPublicKey), toBase64url(w.infrastructure.signing.registrarPublicKey)];
    const pseudonyms = () => ['meter-1', 'meter-2'].map((id) => nodePseudonym(w.credence.readModels, id));
    const before = { signingKeys: signingKeys(), pseudonyms: pseudonyms(), nextEpoch: await w.credence.pseudonyms!.deriver.node('meter-1', 9) };
    expect(before.pseudonyms.every((p) => p?.pseudonym?.startsWith('p-'))).toBe(true);
    const [psk] = w.infrastructure.o.registry.live('credential-meter-1-svc', 'psk');
    expect(psk).toBeDefined();

    await w.restart(deleteReadModels(w.dir));
    expect(existsSync(join(w.dir, 'readmodels.db'))).toBe(true);

    // Devices pinned these keys: the Enrolment Function and the Registrar still hold the same ones.
    expect(signingKeys()).toEqual(before.signingKeys);
    // The pseudonym PRF key is the same: rebuilt directory and future epochs agree with before.
    expect(pseudonyms()).toEqual(before.pseudonyms);
    expect(await w.credence.pseudonyms!.deriver.node('meter-1', 9)).toBe(before.nextEpoch);
    // The Registrar still finds the infrastructure's PSK copy, and meter-2 can still be provisioned under the pinned key.
    await w.procedures.associate({ device: meter1, associationId: 'sa-1b', credentialId: 'meter-1-svc', lifetimeSeconds: 3600 });
    expect(String((await w.credence.engine.entity('association', 'sa-1b')).snapshot.value)).toBe('associated');
    await w.procedures.provisionRemotely({ device: meter2, credentialId: 'meter-2-svc2', kind: 'ed25519' });

    // Revoking the PSK credential still shreds the infrastructure's copy.
    await w.infrastructure.run('revokeCredential', { credentialId: 'meter-1-svc', reason: 'keyCompromise' });
    await w.credence.settle();
    const use = await w.se.mac(w.infrastructure.owner, psk as never, new Uint8Array([1])).catch((e: unknown) => e);
    expect(isCredenceError(use, 'not_found'), `PSK copy ${psk} is shredded`).toBe(true);
    expect(w.infrastructure.o.registry.live('credential-meter-1-svc')).toEqual([]);
  });

  it('moves a key registry an earlier version kept in readmodels.db into keys.db on first open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-registry-migration-'));
    dirs.push(dir);
    const clock = new FakeClock(T0);
    const se = EmbeddedSecureEnvironment.open({ database: join(dir, 'se.sqlite'), kek: { source: 'inline', key: toBase64url(new Uint8Array(32).fill(7)) } }, {
      now: () => clock.now(),
      random: (n) => crypto.getRandomValues(new Uint8Array(n)),
    });
    try {
      const owner = 'maf:infrastructure';
      const [ef, registrar, prf] = [await se.generate(owner, 'ed25519'), await se.generate(owner, 'ed25519'), await se.generate(owner, 'psk256')];
      // The layout before: the bindings in a table of readmodels.db.
      const old = new Database(join(dir, 'readmodels.db'));
      old.exec('CREATE TABLE se_key_handles (stream TEXT NOT NULL, handle TEXT NOT NULL, purpose TEXT NOT NULL, destroyed_at TEXT, PRIMARY KEY (stream, handle)) WITHOUT ROWID');
      const insert = old.prepare('INSERT INTO se_key_handles (stream, handle, purpose) VALUES (?, ?, ?)');
      insert.run('infrastructure', ef, 'ef-signing');
      insert.run('infrastructure', registrar, 'registrar-signing');
      insert.run('infrastructure', prf, 'pseudonym-prf');
      old.close();
      const efPublicKey = toBase64url((await se.describe(owner, ef)).publicKey!);

      const open = async () => {
        const c = openCredence({ location: { dir }, clock, security: { se, random: (n) => crypto.getRandomValues(new Uint8Array(n)), actor: operator } });
        const { infrastructure } = await c.security();
        return { c, efPublicKey: toBase64url(infrastructure.signing.efPublicKey) };
      };
      const first = await open();
      expect(first.efPublicKey).toBe(efPublicKey);
      const tables = first.c.readModels.prepare("SELECT name FROM sqlite_master WHERE name = 'se_key_handles'").all();
      expect(tables).toEqual([]);
      await first.c.close();
      deleteReadModels(dir)();
      const second = await open();
      expect(second.efPublicKey).toBe(efPublicKey);
      expect(second.c.keyRegistry?.live('infrastructure', 'pseudonym-prf')).toEqual([prf]);
      await second.c.close();
    } finally {
      se.close();
    }
  });
});
