/**
 * SER-023 (defect left by an earlier review): another process on the same token (the Credence CLI while the service
 * runs) destroys a key after this process looked it up and before it used it. The key is gone, and the port says
 * so with `not_found`; before, the call on the destroyed object was reported as a token failure (`token_error`,
 * CKR_OBJECT_HANDLE_INVALID or CKR_KEY_HANDLE_INVALID) and a vanishing object during a lookup likewise, neither of
 * which is true. Real tampering (a planted object) is still refused: test/pkcs11-token-behaviour.test.ts,
 * test/pkcs11-destroy-shreds-our-key-past-planted-objects.test.ts. The other process is real (pkcs11-tool); only its
 * timing is forced, by running it just before this process's own PKCS#11 call.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { isKeyNotFound } from '../domain/errors.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import type { Pkcs11 } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { softHsm, softHsmMissing, SOFTHSM_MODULE, withSoftHsmModule } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const text = (s: string) => new TextEncoder().encode(s);
const OWNER = 'maf:infrastructure';
const hex = (handle: string) => Buffer.from(handle, 'utf8').toString('hex');
/** 'not_found', or what else happened (its message: a failure shows what the old code answered). */
const outcome = async (run: () => Promise<unknown>) =>
  run().then(
    () => 'done',
    (e: unknown) => (isKeyNotFound(e) ? 'not_found' : String((e as Error).message)),
  );

type Call = 'C_SignInit' | 'C_GetAttributeValue' | 'C_DestroyObject';

describe.skipIf(softHsmMissing !== undefined)('PKCS#11: a key destroyed by another process meanwhile', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  afterEach(() => vi.restoreAllMocks());
  const token = hsm.token('elsewhere');
  const open = () => Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });
  /** The CLI's destroy, in its own process: the key's private or secret object. */
  const destroyElsewhere = (handle: KeyHandle, type: 'secrkey' | 'privkey') =>
    execFileSync('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', token.label, '--login', '--pin', token.pin, '--delete-object', '--type', type, '--id', hex(handle)], { stdio: 'ignore' });
  /** The other process destroys `handle` just before this process's next `call` (then made as it would have been). */
  const beforeNext = (module: Pkcs11, call: Call, handle: KeyHandle, type: 'secrkey' | 'privkey') => {
    const real = module[call].bind(module) as (...args: unknown[]) => unknown;
    vi.spyOn(module, call).mockImplementationOnce(((...args: unknown[]) => {
      destroyElsewhere(handle, type);
      return real(...args);
    }) as never);
  };

  it('between the lookup and the signing call, a psk256 or ed25519 key destroyed elsewhere is not_found here', async () => {
    await withSoftHsmModule(async (module) => {
      const se = open();
      try {
        const psk = await se.generate(OWNER, 'psk256');
        const ed = await se.generate(OWNER, 'ed25519');
        // Used once, so the object handles are remembered: the lookup then confirms them with one read.
        await se.mac(OWNER, psk, text('m'));
        await se.sign(OWNER, ed, text('m'));
        beforeNext(module, 'C_SignInit', psk, 'secrkey');
        expect.soft(await outcome(() => se.mac(OWNER, psk, text('m')))).toBe('not_found');
        beforeNext(module, 'C_SignInit', ed, 'privkey');
        expect.soft(await outcome(() => se.sign(OWNER, ed, text('m')))).toBe('not_found');
      } finally {
        se.close();
      }
    });
  });

  it('while a lookup reads the objects it found, a key destroyed elsewhere is not_found, not tampering', async () => {
    await withSoftHsmModule(async (module) => {
      const maker = open();
      const se = open();
      try {
        const psk = await maker.generate(OWNER, 'psk256');
        // `se` has never seen the key: its lookup searches the token, then reads each object found.
        beforeNext(module, 'C_GetAttributeValue', psk, 'secrkey');
        expect.soft(await outcome(() => se.mac(OWNER, psk, text('m')))).toBe('not_found');
      } finally {
        se.close();
        maker.close();
      }
    });
  });

  it('a destroy that another process beat to the object is not_found, which the shredder takes as done', async () => {
    await withSoftHsmModule(async (module) => {
      const se = open();
      try {
        const psk = await se.generate(OWNER, 'psk256');
        beforeNext(module, 'C_DestroyObject', psk, 'secrkey');
        expect.soft(await outcome(() => se.destroy(OWNER, psk))).toBe('not_found');
        expect(hsm.listObjects(token)).not.toContain(hex(psk));
      } finally {
        se.close();
      }
    });
  });
});
