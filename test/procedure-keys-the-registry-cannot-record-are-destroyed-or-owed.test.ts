import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { SqliteKeyRegistry } from '../adapters/driven/key-registry/index.ts';
import { Infrastructure, keyShredder, recordAssociation, recordProvisioning } from '../adapters/protocols/procedures/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { ownerView, type KeyHandle } from '../domain/ports/index.ts';
import { memorySecureEnvironment, seededRandom } from './crypto-fixtures.ts';
import { operator } from './support/fleet.ts';
import { keysMadeBy } from './support/keys-made.ts';
import { refusingDestroy } from './support/refusing-destroy.ts';

/*
 * Review 53 finding 5: a key made in the Secure Environment and then bound in the key registry was left there, named by
 * nothing, when the binding's write failed (a locked or full keys.db): the Infrastructure's signing keys, the pseudonym
 * PRF key, and the PSK copy and session keys of a run (kept before the `try` that discards them). Now the key is
 * destroyed, or, when the Secure Environment refuses that too (finding 4), owed in the registry for the shredder.
 */
const LOCKED = 'keys.db: database is locked (simulated)';
const OWNER = 'maf:infrastructure';
const registries: SqliteKeyRegistry[] = [];
let credence: Credence | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await credence?.close();
  credence = undefined;
  for (const r of registries.splice(0)) r.close();
});

const world = () => {
  const clock = new FakeClock('2026-12-01T00:00:00Z');
  const se = refusingDestroy(ownerView(memorySecureEnvironment('registry-cannot-record', () => clock.now()), OWNER));
  const registry = SqliteKeyRegistry.open({ memory: true });
  registries.push(registry);
  /** The shredder's retry once its back-off has passed, with the Secure Environment answering again. */
  const retried = async () => {
    se.refuse(false);
    clock.advance(2_000);
    return keyShredder(se.se, registry, () => clock.now()).retryOwed();
  };
  return { clock, se, registry, retried };
};

/** The registry's `register` throws the first `times` calls (SQLITE_BUSY), as the reviewer's wrapper did. */
const refuseRegister = (registry: SqliteKeyRegistry, times = 1) => {
  const register = registry.register.bind(registry);
  let left = times;
  registry.register = (...args) => {
    if (left-- > 0) throw new Error(LOCKED);
    register(...args);
  };
};

const owed = (w: ReturnType<typeof world>) => w.registry.owed().map((k) => [k.stream, k.handle, k.purpose]);

/** What recordProvisioning and recordAssociation use of the Infrastructure, over `w`, with its own keep steps. */
const infraOver = (w: ReturnType<typeof world>, keep: Record<string, (...args: never[]) => void>) =>
  ({ ...keep, o: { se: w.se.se, registry: w.registry, engine: { clock: w.clock } } }) as unknown as Infrastructure;

describe('a key the key registry cannot record is destroyed, or owed', () => {
  const open = (w: ReturnType<typeof world>) =>
    Infrastructure.open({ engine: { clock: w.clock } as never, se: w.se.se, registry: w.registry, random: seededRandom('x'), replayCache: undefined as never, actor: operator });

  it('Infrastructure.open: a signing key whose binding failed is destroyed', async () => {
    const w = world();
    refuseRegister(w.registry);
    await expect(open(w)).rejects.toThrow(LOCKED);
    expect(w.se.made).toHaveLength(1);
    expect(await w.se.held(w.se.made[0]!)).toBe(false);
    expect(owed(w)).toEqual([]);
  });

  it('Infrastructure.open: one the Secure Environment will not destroy either is owed, and the shredder destroys it', async () => {
    const w = world();
    refuseRegister(w.registry);
    w.se.refuse();
    await expect(open(w)).rejects.toThrow(LOCKED);
    const [key] = w.se.made;
    expect(await w.se.held(key!)).toBe(true);
    expect(owed(w)).toEqual([['infrastructure', key, 'ef-signing']]);
    // Owed, never handed out as the signing key by the next open.
    expect(w.registry.live('infrastructure', 'ef-signing')).toEqual([]);
    expect(await w.retried()).toBe(1);
    expect(await w.se.held(key!)).toBe(false);
    expect(owed(w)).toEqual([]);
  });

  it('Infrastructure.open: when the registry refuses to record the debt too, the error names the key', async () => {
    const w = world();
    refuseRegister(w.registry, 2);
    w.se.refuse();
    const error = await open(w).catch((e: unknown) => e);
    const [key] = w.se.made;
    expect((error as Error).message).toContain(LOCKED);
    expect((error as Error).message).toContain(`key ${key} (ef-signing) of infrastructure is left in the Secure Environment`);
  });

  it('recordProvisioning: a PSK copy whose pending binding failed is owed when its destroy is refused, and the shredder destroys it', async () => {
    const w = world();
    const psk = await w.se.se.generate('psk256');
    w.se.refuse();
    const infra = infraOver(w, {
      keepPsk: () => {
        throw new Error(LOCKED);
      },
    });
    await expect(recordProvisioning(infra, { outcome: { credentialKeyHandle: psk } as never, credentialId: 'meter-1-svc', purpose: 'service' })).rejects.toThrow(LOCKED);
    expect(owed(w)).toEqual([['credential-meter-1-svc', psk, 'psk']]);
    expect(await w.retried()).toBe(1);
    expect(await w.se.held(psk)).toBe(false);
  });

  it('recordAssociation: session keys whose pending binding failed half way are both destroyed', async () => {
    const w = world();
    const send = await w.se.se.generate('psk256');
    const receive = await w.se.se.generate('psk256');
    const infra = infraOver(w, {
      keepSessionKeys: () => {
        w.registry.register('association-a-1', send, 'session', { pending: true });
        throw new Error(LOCKED);
      },
    });
    await expect(recordAssociation(infra, 'a-1', { sessionKeys: { send, receive } } as never)).rejects.toThrow(LOCKED);
    expect(await w.se.held(send)).toBe(false);
    expect(await w.se.held(receive)).toBe(false);
    expect(w.registry.pending()).toEqual([]);
  });

  it('the pseudonym PRF key whose binding failed is destroyed', async () => {
    const clock = new FakeClock('2026-12-01T00:00:00Z');
    const raw = memorySecureEnvironment('pseudonym-key-unbound', () => clock.now());
    const made = keysMadeBy(raw, ['generate']);
    const register = SqliteKeyRegistry.prototype.register;
    vi.spyOn(SqliteKeyRegistry.prototype, 'register').mockImplementation(function (this: SqliteKeyRegistry, stream, handle, purpose, options) {
      if (purpose === 'pseudonym-prf') throw new Error(LOCKED);
      register.call(this, stream, handle, purpose, options);
    });
    credence = openCredence({ location: { memory: true }, clock, security: { se: raw, random: seededRandom('p'), actor: operator } });
    await expect(credence.pseudonyms!.deriver.node('meter-1', 1)).rejects.toThrow(LOCKED);
    expect(made).toHaveLength(1);
    await expect(raw.describe(OWNER, made[0] as KeyHandle)).rejects.toMatchObject({ problem: { code: 'not_found' } });
  });
});
