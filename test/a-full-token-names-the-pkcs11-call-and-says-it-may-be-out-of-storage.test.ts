/**
 * Review 269 finding 3: a token out of storage (SoftHSM2 on a full tmpfs) answered a generate with
 * `a PKCS#11 call failed: CKR_FUNCTION_FAILED: the token reports a fault of its own`: pkcs11js sets no `method` on
 * the errors of the module's calls, so the message never named the function, and nothing hinted at the likely
 * cause. Now the function that failed is named whatever the error carries, and a fault on a call that makes a key
 * object (CKR_FUNCTION_FAILED, CKR_DEVICE_MEMORY, CKR_DEVICE_ERROR) says the token may be out of storage. The full
 * token is simulated: the module's call answers as SoftHSM2 does on a full disk, after the session still serves.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { pkcs11js, type Pkcs11 } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { softHsm, softHsmMissing, withSoftHsmModule } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const text = (s: string) => new TextEncoder().encode(s);
const OWNER = 'test:full';

/** `call` answers `code` from now on, as a token out of room (or faulty) does; the session itself still serves. */
const failing = (module: Pkcs11, call: 'C_GenerateKeyPair' | 'C_GenerateKey' | 'C_UnwrapKey' | 'C_Sign', code: string) =>
  vi.spyOn(module, call).mockImplementation(() => {
    throw new pkcs11js.Pkcs11Error(`${code}:0`);
  });

const unavailable = async (run: () => Promise<unknown>, pin: string) => {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isCredenceError(error, 'secure_environment_unavailable')).toBe(true);
  if (!isCredenceError(error) || error.problem.code !== 'secure_environment_unavailable') throw new Error('unreachable');
  expect(`${error.message} ${JSON.stringify(error.problem)} ${String(error.stack)}`).not.toContain(pin);
  return error.problem;
};

describe.skipIf(softHsmMissing !== undefined)('a PKCS#11 token that is full', () => {
  const hsm = softHsm();
  const token = hsm.token('full');
  afterAll(() => hsm.cleanup());
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const cases = [
    { kind: 'ed25519', call: 'C_GenerateKeyPair', code: 'CKR_FUNCTION_FAILED' },
    { kind: 'p256', call: 'C_GenerateKeyPair', code: 'CKR_DEVICE_MEMORY' },
    { kind: 'psk256', call: 'C_GenerateKey', code: 'CKR_DEVICE_ERROR' },
    { kind: 'x25519', call: 'C_UnwrapKey', code: 'CKR_FUNCTION_FAILED', query: 'x-derivation=host' },
  ] as const;
  for (const { kind, call, code, ...rest } of cases) {
    const query = 'query' in rest ? rest.query : undefined;
    it(`generating a ${kind} key answered ${code} names ${call} and says the token may be out of storage`, async () => {
      const se = Pkcs11SecureEnvironment.open({ uri: token.uri(query) }, { random });
      try {
        await withSoftHsmModule(async (module) => {
          failing(module, call, code);
          const problem = await unavailable(() => se.generate(OWNER, kind), token.pin);
          expect(problem).toMatchObject({ reason: 'device_error', returnValue: code });
          expect(problem.message).toContain(`${call} failed: ${code}`);
          expect(problem.message).not.toContain('a PKCS#11 call');
          expect(problem.message).toMatch(/out of storage/);
        });
      } finally {
        se.close();
      }
    });
  }

  it('a fault on a call that makes nothing names its function and says nothing of storage', async () => {
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });
    try {
      const key = await se.generate(OWNER, 'ed25519');
      await withSoftHsmModule(async (module) => {
        failing(module, 'C_Sign', 'CKR_FUNCTION_FAILED');
        const problem = await unavailable(() => se.sign(OWNER, key, text('m')), token.pin);
        expect(problem).toMatchObject({ reason: 'device_error', returnValue: 'CKR_FUNCTION_FAILED' });
        expect(problem.message).toContain('C_Sign failed: CKR_FUNCTION_FAILED');
        expect(problem.message).not.toMatch(/storage/);
      });
    } finally {
      se.close();
    }
  });
});
