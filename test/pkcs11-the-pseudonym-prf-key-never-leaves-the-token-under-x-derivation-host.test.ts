/**
 * Review 230 (SER-025, SER-023): under `x-derivation=host` every `generate('psk256')` was made CKA_EXTRACTABLE true,
 * the pseudonym PRF key included, which is only ever used for HMAC inside the token: anyone with the user PIN could
 * wrap it out under an AES key of their own (CKM_AES_KEY_WRAP_PAD) and resolve every pseudonym to its node offline.
 * Now a caller says a key never leaves the token (`hostUse: false`) and the pseudonym key is made so; a PSK copy is
 * still extractable where host derivation needs it. A pseudonym key an earlier version made extractable is made
 * non-extractable at its first use after a start where the token lets it (CKA_EXTRACTABLE true -> false), and a
 * warning says copies may exist; where the token refuses (an object made unmodifiable, as SoftHSM2 does), the warning
 * says that too.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { FakeClock, openCredence, openHsmLogKey, Pkcs11SecureEnvironment, systemRandom } from 'credence';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/embedded.ts';
import { pkcs11js, type Pkcs11, type Pkcs11Handle } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { isCredenceError } from '../domain/errors.ts';
import type { GeneratedKeyKind, KeyHandle, KeyOptions, SecureEnvironment } from '../domain/ports/secure-environment.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { softHsm, softHsmMissing, withSoftHsmModule, type TestToken } from './support/softhsm.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-prf-key-inside-');
const clock = new FakeClock(T0);
const random = (length: number) => new Uint8Array(randomBytes(length));
const text = (s: string) => new TextEncoder().encode(s);

describe.skipIf(softHsmMissing !== undefined)('PKCS#11 under x-derivation=host: the pseudonym PRF key never leaves the token', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  afterEach(() => vi.restoreAllMocks());
  const token = hsm.token('prf-inside');
  const modifiable = hsm.token('prf-modifiable');
  const HOST = 'x-derivation=host';

  /** A session of this process's own on the token, logged in by the SE under test (the login is the application's). */
  const inToken = async <T>(t: TestToken, run: (module: Pkcs11, session: Pkcs11Handle) => T): Promise<T> => {
    let result: T | undefined;
    await withSoftHsmModule(async (module) => {
      const slot = module.C_GetSlotList(true).find((s) => module.C_GetTokenInfo(s).label.trim() === t.label)!;
      const session = module.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      try {
        result = run(module, session);
      } finally {
        module.C_CloseSession(session);
      }
    });
    return result as T;
  };
  const secretUnder = (module: Pkcs11, session: Pkcs11Handle, handle: string): Pkcs11Handle => {
    module.C_FindObjectsInit(session, [
      { type: pkcs11js.CKA_ID, value: Buffer.from(handle, 'utf8') },
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    ]);
    try {
      const [object, more] = module.C_FindObjects(session, 2);
      if (object === undefined || more !== undefined) throw new Error(`not one secret key under ${handle}`);
      return object;
    } finally {
      module.C_FindObjectsFinal(session);
    }
  };
  /** CKA_EXTRACTABLE as the token reads it back. */
  const extractable = (t: TestToken, handle: string) =>
    inToken(t, (module, session) => (module.C_GetAttributeValue(session, secretUnder(module, session, handle), [{ type: pkcs11js.CKA_EXTRACTABLE }])[0]!.value as Buffer)[0] === 1);
  /** What someone holding the PIN would do: wrap the key out under an AES key of their own; true when the token gives it. */
  const wrapsOut = (t: TestToken, handle: string) =>
    inToken(t, (module, session) => {
      const theirs = module.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_WRAP, value: true },
        { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
      ]);
      try {
        module.C_WrapKey(session, { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD }, theirs, secretUnder(module, session, handle), Buffer.alloc(256));
        return true;
      } catch (error) {
        expect(String((error as Error).message)).toMatch(/CKR_KEY_UNEXTRACTABLE/);
        return false;
      } finally {
        module.C_DestroyObject(session, theirs);
      }
    });

  it('a key generated with hostUse false is not extractable and cannot be wrapped out, and still MACs; a PSK copy and a default psk256 still serve host derivation', async () => {
    const owner = 'test:inside';
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri(HOST) }, { random });
    try {
      const inside = await se.generate(owner, 'psk256', { hostUse: false });
      expect(await extractable(token, inside)).toBe(false);
      expect(await wrapsOut(token, inside)).toBe(false);
      expect(await se.mac(owner, inside, text('m'))).toHaveLength(32);
      expect(await se.describe(owner, inside)).toMatchObject({ kind: 'psk256', extractable: false });
      // It is no HKDF input under host derivation: its bytes would have to leave the token.
      await expect(se.deriveKey(owner, { inputs: [inside], salt: text('s'), info: text('i'), kind: 'session256' })).rejects.toThrow(/stays in the token/);

      // Host derivation still has what it needs: a default psk256 feeds HKDF, a PSK copy is wrapped for delivery.
      const psk = await se.generate(owner, 'psk256');
      const session = await se.deriveKey(owner, { inputs: [psk], salt: text('s'), info: text('i'), kind: 'session256' });
      const copy = await se.generate(owner, 'psk256', { extractable: true });
      expect(await extractable(token, copy)).toBe(true);
      expect((await se.wrap(owner, copy, session, text('aad'))).length).toBeGreaterThan(32);
    } finally {
      se.close();
    }
  });

  it('hostUse is refused alike by the embedded and the PKCS#11 Secure Environments where it cannot hold', async () => {
    const pkcs11 = Pkcs11SecureEnvironment.open({ uri: token.uri(HOST) }, { random });
    const embedded = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: () => clock.now(), random });
    try {
      for (const se of [pkcs11, embedded] as SecureEnvironment[]) {
        const both = await se.generate('test:refused', 'psk256', { hostUse: false, extractable: true }).catch((error: unknown) => error);
        expect(isCredenceError(both, 'validation')).toBe(true);
        expect(JSON.stringify((both as { problem: unknown }).problem)).toMatch(/host_use_not_extractable/);
        await expect(se.generate('test:refused', 'ed25519', { hostUse: false })).rejects.toThrow(/options\.hostUse: only a psk256 key/);
        await expect(se.generate('test:refused', 'psk256', { hostUse: 'no' as never })).rejects.toThrow(/options\.hostUse must be a boolean/);
        const kept = await se.generate('test:refused', 'psk256', { hostUse: false });
        expect(await se.describe('test:refused', kept)).toMatchObject({ kind: 'psk256', extractable: false });
      }
    } finally {
      pkcs11.close();
      embedded.close();
    }
  });

  /** A data folder opened on `se` as a library user does (docs/hsm.md, "In a program"). */
  const openFolder = async (dir: string, se: Pkcs11SecureEnvironment, logSe: Pkcs11SecureEnvironment = se) => {
    const logKey = await openHsmLogKey(dir, logSe);
    if (logKey.place !== 'hsm') throw new Error('expected the log key in the token');
    return openCredence({ location: { dir }, clock, security: { se, random: systemRandom, actor: operator }, transparencySigner: logKey.signer });
  };
  const pseudonymKeyOf = (credence: Awaited<ReturnType<typeof openFolder>>) => credence.keyRegistry!.live('infrastructure', 'pseudonym-prf')[0] as KeyHandle;

  it("a folder's new pseudonym key is not extractable", async () => {
    const dir = join(scratch(), 'data');
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri(HOST) }, { random: systemRandom });
    try {
      const credence = await openFolder(dir, se);
      try {
        await credence.engine.execute(cmd.registerNode('meter-1'));
        await credence.pseudonyms!.deriver.node('meter-1', 1);
        const handle = pseudonymKeyOf(credence);
        expect(await extractable(token, handle)).toBe(false);
        expect(await wrapsOut(token, handle)).toBe(false);
      } finally {
        await credence.close();
      }
    } finally {
      se.close();
    }
  }, 60_000);

  /**
   * The Secure Environment as the earlier version used it: `generate` with no say over where a psk256 goes (so under
   * host derivation it was extractable), and no `keepInside`.
   */
  const asEarlierVersion = (se: Pkcs11SecureEnvironment): Pkcs11SecureEnvironment =>
    new Proxy(se, {
      get(target, property) {
        if (property === 'keepInside' || property === 'forOwner') return undefined;
        if (property === 'generate') {
          return (owner: string, kind: GeneratedKeyKind, options: KeyOptions & { hostUse?: boolean } = {}) => {
            const { hostUse: _ignored, ...earlier } = options;
            return target.generate(owner, kind, earlier);
          };
        }
        const value = Reflect.get(target, property) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });

  const warningsSaid = () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    return () =>
      warnings.mock.calls.filter(([, options]) => (options as { code?: string } | undefined)?.code === 'CREDENCE_PSEUDONYM_KEY_EXTRACTABLE').map(([message]) => String(message));
  };

  /** The folder opened as it is now, its first use to come (`firstUse`: the same pseudonym as before). */
  const openNow = async (dir: string, t: TestToken, pseudonym: string) => {
    const se = Pkcs11SecureEnvironment.open({ uri: t.uri(HOST) }, { random: systemRandom });
    const said = warningsSaid();
    const credence = await openFolder(dir, se);
    return {
      dir,
      said,
      firstUse: async () => {
        expect(await credence.pseudonyms!.deriver.node('meter-1', 1)).toBe(pseudonym);
      },
      close: async () => {
        await credence.close();
        se.close();
        vi.mocked(process.emitWarning).mockRestore();
      },
    };
  };
  const pseudonyms = new Map<string, { token: TestToken; pseudonym: string }>();
  const reopened = (dir: string) => {
    const known = pseudonyms.get(dir)!;
    return openNow(dir, known.token, known.pseudonym);
  };

  /** A folder whose pseudonym key the earlier version made, then opened again as it is now. */
  const earlierFolder = async (t: TestToken) => {
    const dir = join(scratch(), 'data');
    const se = Pkcs11SecureEnvironment.open({ uri: t.uri(HOST) }, { random: systemRandom });
    let handle: KeyHandle;
    let pseudonym: string;
    try {
      const before = await openFolder(dir, asEarlierVersion(se), se);
      try {
        await before.engine.execute(cmd.registerNode('meter-1'));
        pseudonym = await before.pseudonyms!.deriver.node('meter-1', 1);
        handle = pseudonymKeyOf(before);
      } finally {
        await before.close();
      }
    } finally {
      se.close();
    }
    pseudonyms.set(dir, { token: t, pseudonym });
    const now = await openNow(dir, t, pseudonym);
    // Read while a Secure Environment is logged in: the key is private.
    expect(await extractable(t, handle)).toBe(true);
    return { handle, ...now };
  };

  /**
   * A token that lets CKA_EXTRACTABLE go from true to false on a Credence key although Credence makes every key
   * CKA_MODIFIABLE false, which PKCS#11 makes read-only (SoftHSM2 refuses, as the standard has it; review 235): the shared module's
   * C_SetAttributeValue of CKA_EXTRACTABLE false is taken, and every later read of it answers false, as that token would.
   */
  const asPermissiveToken = (module: Pkcs11): { readonly set: number } => {
    // By CKA_ID: a token gives an object another handle once every session on it has closed.
    const kept = new Set<string>();
    const get = module.C_GetAttributeValue.bind(module);
    const idOf = (session: Pkcs11Handle, object: Pkcs11Handle) => (get(session, object, [{ type: pkcs11js.CKA_ID }])[0]!.value as Buffer).toString('utf8');
    const count = { set: 0 };
    vi.spyOn(module, 'C_SetAttributeValue').mockImplementation((session, object, template) => {
      if (template.length !== 1 || template[0]!.type !== pkcs11js.CKA_EXTRACTABLE || template[0]!.value !== false) throw new Error('only CKA_EXTRACTABLE false is expected');
      kept.add(idOf(session, object));
      count.set += 1;
    });
    vi.spyOn(module, 'C_GetAttributeValue').mockImplementation((session, object, template) => {
      const values = get(session, object, template);
      if (!template.some((attribute) => attribute.type === pkcs11js.CKA_EXTRACTABLE) || !kept.has(idOf(session, object))) return values;
      return values.map((attribute) => (attribute.type === pkcs11js.CKA_EXTRACTABLE ? { ...attribute, value: Buffer.from([0]) } : attribute));
    });
    return count;
  };

  it('a pseudonym key an earlier version made extractable is made non-extractable at its first use after a start where the token lets it, saying copies may exist', async () => {
    await withSoftHsmModule(async (module) => {
      const permissive = asPermissiveToken(module);
      const folder = await earlierFolder(modifiable);
      try {
        await folder.firstUse();
        expect(permissive.set).toBe(1);
        expect(await extractable(modifiable, folder.handle)).toBe(false);
        const [warning, ...more] = folder.said();
        expect(more).toEqual([]);
        expect(warning).toContain(`pseudonym PRF key ${folder.handle}`);
        expect(warning).toMatch(/is no longer extractable/);
        expect(warning).toMatch(/copies may exist/);
        // Said once: the next derivations find it inside.
        await folder.firstUse();
        expect(folder.said()).toHaveLength(1);
      } finally {
        await folder.close();
      }
      // The next start finds it kept inside, takes it for Credence's own (not planted: its label says host-held), and says nothing.
      const again = await reopened(folder.dir);
      try {
        await again.firstUse();
        expect(again.said()).toEqual([]);
        expect(permissive.set).toBe(1);
      } finally {
        await again.close();
      }
    });
  }, 60_000);

  it('a pseudonym key an earlier version made extractable, on a token that refuses to change it, is said at warn with what to do', async () => {
    const folder = await earlierFolder(token);
    try {
      await folder.firstUse();
      // SoftHSM2 refuses any change to an object made with CKA_MODIFIABLE false, as Credence makes every key.
      expect(await extractable(token, folder.handle)).toBe(true);
      const [warning, ...more] = folder.said();
      expect(more).toEqual([]);
      expect(warning).toContain(`pseudonym PRF key ${folder.handle}`);
      expect(warning).toMatch(/refused to make it non-extractable/);
      expect(warning).toMatch(/copies may exist/);
      expect(warning).toMatch(/user PIN/);
      expect(warning).toMatch(/docs\/hsm\.md/);
    } finally {
      await folder.close();
    }
  }, 60_000);
});
