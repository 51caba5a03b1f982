import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { createAccessControl, type AccessControl } from '../adapters/http/auth/access-control.ts';
import { ACCESS_OWNER, openAccessControl, type LocalAccessControl } from '../adapters/http/auth/open-access-control.ts';
import { FakeClock, openAccessRegistry, openServiceSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { ownerView, type KeyHandle, type OwnedSecureEnvironment } from '../domain/ports/index.ts';
import { capture, runCli } from './support/cli.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';
import { startTestService, type TestService } from './support/service.ts';

const kidOf = (token: string): string => decodeProtectedHeader(token).kid!;
const HOUR_S = 3_600;

/** The signing keys access.db names, and whether the folder's Secure Environment still holds each. */
const keysOf = async (dir: string) => {
  const registry = openAccessRegistry({ dir });
  try {
    const named = registry.signingKeys();
    return await Promise.all(named.map(async (k) => ({ ...k, held: await holds(dir, k.handle) })));
  } finally {
    registry.close();
  }
};

const openSe = (dir: string) => openServiceSecureEnvironment(dir, undefined, { now: () => new Date() });

/** Whether the Secure Environment of the folder holds a key. */
const holds = async (dir: string, handle: string): Promise<boolean> => {
  const se = openSe(dir);
  try {
    return await ownerView(se, ACCESS_OWNER).describe(handle as KeyHandle).then(() => true, () => false);
  } finally {
    se.close();
  }
};

describe('rotating the token signing key (credence token rotate-key)', () => {
  const opened: { close(): void }[] = [];
  const dirs: string[] = [];
  const folder = () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-key-rotation-'));
    dirs.push(dir);
    return dir;
  };
  /** One process's access control on the folder. */
  const open = async (dir: string, clock: FakeClock): Promise<LocalAccessControl> => {
    const local = await openAccessControl(dir, { clock });
    opened.push(local);
    return local;
  };
  afterEach(() => {
    for (const o of opened.splice(0)) o.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("signs new tokens with the new key in every process; the old key's tokens verify until they expire, then the key is destroyed", async () => {
    const dir = folder();
    const clock = new FakeClock('2026-12-01T00:00:00Z');
    const service = await open(dir, clock);
    const before = await service.access.issue({ subject: 'alice', role: 'operator', ttlSeconds: HOUR_S, issuedBy: 'test' });
    const [oldKey] = await keysOf(dir);

    const cli = await open(dir, clock);
    const rotated = await cli.access.rotateSigningKey('cli:ops', { withdrawPrevious: false });
    expect(rotated.kid).not.toBe(kidOf(before.token));
    expect(rotated).toEqual({ kid: rotated.kid, revoked: [], previous: [{ kid: kidOf(before.token), state: 'retired', liveTokens: 1, until: before.expiresAt }] });

    // The service, which read its keys before the rotation, signs with the new key from its next token on.
    const after = await service.access.issue({ subject: 'bob', role: 'auditor', ttlSeconds: 2 * HOUR_S, issuedBy: 'test' });
    expect(kidOf(after.token)).toBe(rotated.kid);
    for (const access of [service.access, cli.access]) {
      await expect(access.verify(before.token)).resolves.toMatchObject({ subject: 'alice' });
      await expect(access.verify(after.token)).resolves.toMatchObject({ subject: 'bob' });
    }
    const keys = await keysOf(dir);
    expect(keys.map((k) => ({ handle: k.handle, retired: k.retiredAt !== undefined, held: k.held }))).toEqual([
      { handle: oldKey!.handle, retired: true, held: true },
      { handle: expect.any(String), retired: false, held: true },
    ]);
    expect(keys[0]).toMatchObject({ retiredAt: clock.now(), retiredBy: 'cli:ops' });

    clock.advance(HOUR_S * 1000 + 10_000);
    await expect(service.access.verify(before.token)).rejects.toMatchObject({ problem: { reason: 'expired' } });
    // The next token command (or service start) after the last of its tokens ended destroys the old key.
    await open(dir, clock);
    expect(await keysOf(dir)).toEqual([expect.objectContaining({ handle: keys[1]!.handle, held: true })]);
    expect(await holds(dir, oldKey!.handle)).toBe(false);
    await expect(service.access.verify(after.token)).resolves.toMatchObject({ subject: 'bob' });
  });

  it('withdrawing the previous key revokes every token it signed at once, tells their listeners, and destroys it', async () => {
    const dir = folder();
    const clock = new FakeClock('2026-12-01T00:00:00Z');
    const { access } = await open(dir, clock);
    const issued = [
      await access.issue({ subject: 'alice', role: 'admin', ttlSeconds: HOUR_S, issuedBy: 'test' }),
      await access.issue({ subject: 'bob', role: 'integrator', ttlSeconds: HOUR_S, issuedBy: 'test' }),
    ];
    const [oldKey] = await keysOf(dir);
    const told: string[] = [];
    for (const t of issued) access.onRevoked(t.tokenId, () => told.push(t.tokenId));
    await access.verify(issued[0]!.token);

    const rotated = await access.rotateSigningKey('cli:ops', { withdrawPrevious: true });
    expect([...rotated.revoked].sort()).toEqual(issued.map((t) => t.tokenId).sort());
    expect(rotated.previous).toEqual([{ kid: kidOf(issued[0]!.token), state: 'destroyed', liveTokens: 0 }]);
    expect(told.sort()).toEqual(issued.map((t) => t.tokenId).sort());
    // One verified before (its signature known good) is refused as revoked; one never seen names a key that is gone.
    await expect(access.verify(issued[0]!.token)).rejects.toMatchObject({ problem: { code: 'unauthorised', reason: 'revoked' } });
    await expect(access.verify(issued[1]!.token)).rejects.toMatchObject({ problem: { code: 'unauthorised', reason: 'unknown signing key' } });
    expect(await holds(dir, oldKey!.handle)).toBe(false);
    expect((await keysOf(dir)).map((k) => k.handle)).not.toContain(oldKey!.handle);
    expect(access.list({ limit: 10 }).tokens.map((t) => ({ id: t.tokenId, state: t.state, by: t.revokedBy }))).toEqual(
      issued.map((t) => ({ id: t.tokenId, state: 'revoked', by: 'cli:ops' })),
    );
  });

  it("refuses a token whose kid names no key of ours, one signed by another of our keys than its kid names, and one whose record names another key", async () => {
    const dir = folder();
    const clock = new FakeClock('2026-12-01T00:00:00Z');
    const { access } = await open(dir, clock);
    const old = await access.issue({ subject: 'alice', role: 'admin', ttlSeconds: HOUR_S, issuedBy: 'test' });
    await access.rotateSigningKey('cli:ops', { withdrawPrevious: false });
    const current = await access.issue({ subject: 'bob', role: 'admin', ttlSeconds: HOUR_S, issuedBy: 'test' });
    const [, payload, signature] = current.token.split('.');
    const withKid = (kid: unknown) => `${Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'JWT', kid })).toString('base64url')}.${payload}.${signature}`;

    await expect(access.verify(withKid(`sha256:${'0'.repeat(64)}`))).rejects.toMatchObject({ problem: { reason: 'unknown signing key' } });
    await expect(access.verify(withKid(undefined))).rejects.toMatchObject({ problem: { reason: 'unknown signing key' } });
    await expect(access.verify(withKid(kidOf(old.token)))).rejects.toMatchObject({ problem: { reason: 'bad signature' } });
    await expect(access.verify(current.token)).resolves.toMatchObject({ subject: 'bob' });

    // access.db edited to say the old key signed it: the token no longer matches its record.
    const db = new Database(join(dir, 'access.db'));
    const oldHandle = (db.prepare('SELECT signed_with FROM tokens WHERE token_id = ?').get(old.tokenId) as { signed_with: string }).signed_with;
    db.prepare('UPDATE tokens SET signed_with = ? WHERE token_id = ?').run(oldHandle, current.tokenId);
    db.close();
    const fresh = await open(dir, clock);
    await expect(fresh.access.verify(current.token)).rejects.toMatchObject({ problem: { reason: 'does not match its record' } });
  });

  /**
   * An access control in this process (the service, say) over the folder's Secure Environment, with some of its calls
   * wrapped: `wrap` gets the plain view and returns the calls to replace.
   */
  const wrappedAccess = async (dir: string, clock: FakeClock, wrap: (view: OwnedSecureEnvironment) => Partial<OwnedSecureEnvironment>): Promise<AccessControl> => {
    const se = openSe(dir);
    const registry = openAccessRegistry({ dir });
    opened.push({ close: () => (registry.close(), se.close()) });
    const view = ownerView(se, ACCESS_OWNER);
    return createAccessControl({
      se: { ...view, ...wrap(view) },
      registry,
      clock,
      random: systemRandom,
      maxTtlSeconds: 86_400,
      maxActivePerSubject: 100,
      issuer: 'credence',
      audience: 'credence-api',
    });
  };

  it.each([
    ['after the signature: the record is refused', 'after'],
    ['before the signature: the old key is gone when it signs', 'before'],
  ] as const)('signs again with the key that took over when another process rotates during an issue (%s)', async (_, when) => {
    const dir = folder();
    const clock = new FakeClock('2026-12-01T00:00:00Z');
    const other = await open(dir, clock);
    const [oldKey] = await keysOf(dir);
    let rotations = 0;
    const rotateOnce = async () => {
      if (rotations++ === 0) await other.access.rotateSigningKey('cli:ops', { withdrawPrevious: false });
    };
    const access = await wrappedAccess(dir, clock, (view) => ({
      sign: async (handle, message) => {
        if (when === 'before') await rotateOnce();
        const signature = await view.sign(handle, message);
        if (when === 'after') await rotateOnce();
        return signature;
      },
    }));
    const issued = await access.issue({ subject: 'carol', role: 'operator', ttlSeconds: HOUR_S, issuedBy: 'test' });
    const [newKey] = await keysOf(dir);
    expect(newKey!.handle).not.toBe(oldKey!.handle);
    expect(await holds(dir, oldKey!.handle)).toBe(false);
    await expect(other.access.verify(issued.token)).resolves.toMatchObject({ subject: 'carol' });
    const db = new Database(join(dir, 'access.db'), { readonly: true });
    expect(db.prepare('SELECT signed_with FROM tokens WHERE token_id = ?').get(issued.tokenId)).toEqual({ signed_with: newKey!.handle });
    db.close();
  });

  it('reads the key that is current by then when the one it was about to read was rotated out and destroyed meanwhile', async () => {
    const dir = folder();
    const clock = new FakeClock('2026-12-01T00:00:00Z');
    const other = await open(dir, clock);
    let armed = false;
    const service = await wrappedAccess(dir, clock, (view) => ({
      describe: async (handle) => {
        // The service is about to read the key another process made current: a third rotation gets there first.
        if (armed) {
          armed = false;
          await other.access.rotateSigningKey('cli:ops', { withdrawPrevious: false });
        }
        return view.describe(handle);
      },
    }));
    await other.access.rotateSigningKey('cli:ops', { withdrawPrevious: false });
    armed = true;
    const issued = await service.issue({ subject: 'dana', role: 'operator', ttlSeconds: HOUR_S, issuedBy: 'test' });
    const keys = await keysOf(dir);
    expect(keys).toEqual([expect.objectContaining({ held: true })]);
    await expect(other.access.verify(issued.token)).resolves.toMatchObject({ subject: 'dana' });
  });

  it('withdrawing revokes a token issued with a withdrawn key\'s token while the rotation ran, in the same transaction', async () => {
    const dir = folder();
    const clock = new FakeClock('2026-12-01T00:00:00Z');
    const service = await open(dir, clock);
    const stolen = await service.access.issue({ subject: 'mallory', role: 'admin', ttlSeconds: HOUR_S, issuedBy: 'test' });
    const principal = await service.access.verify(stolen.token);
    let generated = false;
    let child: string | undefined;
    // The CLI's rotation, with the service issuing a token for the thief's admin token right after the new key is made.
    const cli = await wrappedAccess(dir, clock, (view) => ({
      generate: async (kind, options) => {
        const handle = await view.generate(kind, options);
        generated = true;
        return handle;
      },
      describe: async (handle) => {
        if (generated && child === undefined) {
          child = (await service.access.issue({ subject: 'mallory2', role: 'admin', ttlSeconds: 600, issuedBy: 'mallory', issuer: principal })).token;
        }
        return view.describe(handle);
      },
    }));
    const rotated = await cli.rotateSigningKey('cli:ops', { withdrawPrevious: true });
    expect(child).toBeDefined();
    expect(rotated.revoked).toHaveLength(2);
    for (const access of [service.access, cli]) {
      for (const token of [stolen.token, child!]) await expect(access.verify(token)).rejects.toMatchObject({ problem: { code: 'unauthorised' } });
    }
  });

  it('a Secure Environment that fails while a key is looked up is the service\'s fault, not an unauthorised token', async () => {
    const dir = folder();
    const clock = new FakeClock('2026-12-01T00:00:00Z');
    const other = await open(dir, clock);
    let failing = false;
    const service = await wrappedAccess(dir, clock, (view) => ({
      describe: async (handle) => {
        if (failing) throw new Error('CKR_DEVICE_ERROR');
        return view.describe(handle);
      },
    }));
    await other.access.rotateSigningKey('cli:ops', { withdrawPrevious: false });
    const issued = await other.access.issue({ subject: 'erin', role: 'operator', ttlSeconds: HOUR_S, issuedBy: 'test' });
    failing = true;
    await expect(service.verify(issued.token)).rejects.toThrow('CKR_DEVICE_ERROR');
    failing = false;
    await expect(service.verify(issued.token)).resolves.toMatchObject({ subject: 'erin' });
  });

  it('an access.db of schema 2 keeps its one key as the current key and its tokens signed with it', async () => {
    const dir = folder();
    const clock = new FakeClock('2026-12-01T00:00:00Z');
    const first = await openAccessControl(dir, { clock });
    const issued = await first.access.issue({ subject: 'alice', role: 'admin', ttlSeconds: HOUR_S, issuedBy: 'test' });
    first.close();
    const [key] = await keysOf(dir);
    // The file as schema 2 kept it: the key in settings, no record of which key signed a token.
    const db = new Database(join(dir, 'access.db'));
    db.exec(`DROP INDEX tokens_signed_with; ALTER TABLE tokens DROP COLUMN signed_with; DROP TABLE signing_keys; PRAGMA user_version = 2;`);
    db.prepare(`INSERT INTO settings (name, value) VALUES ('signing-key', ?)`).run(key!.handle);
    db.close();

    const { access } = await open(dir, clock);
    await expect(access.verify(issued.token)).resolves.toMatchObject({ subject: 'alice' });
    expect(await keysOf(dir)).toEqual([{ handle: key!.handle, held: true }]);
    const rotated = await access.rotateSigningKey('cli:ops', { withdrawPrevious: false });
    expect(rotated.previous).toEqual([{ kid: kidOf(issued.token), state: 'retired', liveTokens: 1, until: issued.expiresAt }]);
    const settings = new Database(join(dir, 'access.db'), { readonly: true });
    expect(settings.prepare(`SELECT count(*) AS n FROM settings WHERE name = 'signing-key'`).get()).toEqual({ n: 0 });
    settings.close();
  });
});

describe('credence token rotate-key on the folder of a running service', () => {
  let svc: TestService | undefined;
  afterEach(async () => {
    await svc?.close();
    svc = undefined;
  });
  const status = async (token: string) => (await fetch(`${svc!.url}/v1/tokens`, { headers: { authorization: `Bearer ${token}` } })).status;

  it('the service keeps accepting the tokens of the retired key and issues new ones with the new key; --withdraw-previous ends the old ones', async () => {
    svc = await startTestService();
    const before = svc.tokens.admin;
    const rotated = await runCli(['token', 'rotate-key', '--data', svc.dir]);
    expect(rotated.code, rotated.err).toBe(0);
    const kid = rotated.out;
    expect(kid).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(kid).not.toBe(kidOf(before));
    expect(rotated.err).toContain(`new tokens are signed with key ${kid} from now on`);
    expect(rotated.err).toMatch(new RegExp(`key ${kidOf(before)} retired: it verifies the 4 live token\\(s\\) it signed until the last expires \\(\\S+Z\\), then is destroyed`));
    expect(await status(before)).toBe(200);

    const response = await fetch(`${svc.url}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${before}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject: 'dana', role: 'admin', ttl: '1h' }),
    });
    expect(response.status).toBe(201);
    const { token } = (await response.json()) as { token: string };
    expect(kidOf(token)).toBe(kid);
    expect(await status(token)).toBe(200);

    const withdrawn = await runCli(['token', 'rotate-key', '--data', svc.dir, '--withdraw-previous', '--json']);
    expect(withdrawn.code, withdrawn.err).toBe(0);
    const outcome = JSON.parse(withdrawn.out);
    expect(outcome.previous).toEqual(
      expect.arrayContaining([
        { kid: kidOf(before), state: 'destroyed', liveTokens: 0 },
        { kid, state: 'destroyed', liveTokens: 0 },
      ]),
    );
    expect(outcome.revoked).toHaveLength(5);
    expect(await status(before)).toBe(401);
    expect(await status(token)).toBe(401);
    expect(JSON.stringify(outcome)).not.toContain(token);
  });

  it('is refused through a server: the key is made where the data folder is', async () => {
    const refused = await runCli(['token', 'rotate-key', '--server', 'http://127.0.0.1:9']);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/unknown option '--server'/);
  });
});

describe.skipIf(softHsmMissing !== undefined)('credence token rotate-key with the signing key in a PKCS#11 token', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('rotation');
  const env = { CREDENCE_SECURE_ENVIRONMENT: token.uri() };
  const cli = async (args: string[]) => {
    const c = capture();
    const code = await main(args, { ...c.io, env });
    return { code, out: c.out.join('\n'), err: c.err.join('\n') };
  };
  /** The objects of the access owner in the token, as another process lists them. */
  const accessObjects = () => hsm.listObjects(token).split('credence:access').length - 1;
  const verifyIn = async (data: string, jwt: string) => {
    const local = await openAccessControl(data, { secureEnvironment: token.uri() });
    try {
      return await local.access.verify(jwt);
    } finally {
      local.close();
    }
  };

  it('makes the new key in the token, keeps the old one while its tokens live, and destroys it in the token when withdrawn', async () => {
    const data = join(hsm.dir, 'data');
    const created = await cli(['token', 'create', '--role', 'auditor', '--subject', 'alice', '--ttl', '1h', '--data', data]);
    expect(created.code, created.err).toBe(0);
    const perKey = accessObjects();
    expect(perKey).toBeGreaterThan(0);

    const rotated = await cli(['token', 'rotate-key', '--data', data, '--json']);
    expect(rotated.code, rotated.err).toBe(0);
    expect(JSON.parse(rotated.out).previous).toEqual([expect.objectContaining({ state: 'retired', liveTokens: 1 })]);
    expect(accessObjects()).toBe(2 * perKey);
    await expect(verifyIn(data, created.out)).resolves.toMatchObject({ subject: 'alice' });

    const withdrawn = await cli(['token', 'rotate-key', '--data', data, '--withdraw-previous', '--json']);
    expect(withdrawn.code, withdrawn.err).toBe(0);
    expect(JSON.parse(withdrawn.out).previous.map((k: { state: string }) => k.state)).toEqual(['destroyed', 'destroyed']);
    expect(accessObjects()).toBe(perKey);
    await expect(verifyIn(data, created.out)).rejects.toMatchObject({ problem: { code: 'unauthorised' } });
    for (const output of [created.err, rotated.out, rotated.err, withdrawn.out, withdrawn.err]) expect(output).not.toContain(token.pin);
  });
});
