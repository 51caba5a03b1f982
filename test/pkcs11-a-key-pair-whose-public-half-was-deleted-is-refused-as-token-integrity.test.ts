/**
 * Review 162 F2: someone holding the PIN deletes the public half of a Credence key pair behind its back
 * (`pkcs11-tool --delete-object --type pubkey`). Before, the lookup took the private key alone, and `describe` fell
 * through to the secret fingerprint, an HMAC on an EC key: `secure_environment_unavailable` / `token_error`
 * "C_SignInit failed: CKR_KEY_TYPE_INCONSISTENT", a retryable 503 naming no key (`token create`, `serve`). Now the
 * incomplete pair is `token_integrity` naming the handle, what is missing and what to do, whether the key was
 * remembered or is looked up afresh; and it can still be destroyed.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { isCredenceError, isKeyNotFound } from '../domain/errors.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { softHsm, softHsmMissing, SOFTHSM_MODULE } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const text = (s: string) => new TextEncoder().encode(s);
const OWNER = 'maf:infrastructure';
const hex = (handle: string) => Buffer.from(handle, 'utf8').toString('hex');

const outcome = async (run: () => Promise<unknown>) => run().then(() => 'done' as const, (e: unknown) => e);
/** A token integrity fault is the service's, not the caller's input (review 166: it was a `validation` issue, a 400). */
const faultOf = (error: unknown) => {
  if (!isCredenceError(error, 'secure_environment_unavailable') || error.problem.code !== 'secure_environment_unavailable') {
    throw new Error(`expected secure_environment_unavailable, got ${String(error)}`);
  }
  return error.problem;
};

describe.skipIf(softHsmMissing !== undefined)('PKCS#11: a key pair whose public half was deleted outside Credence', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('halfpair');
  const open = () => Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });
  const deletePublicHalf = (handle: KeyHandle) =>
    execFileSync('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', token.label, '--login', '--pin', token.pin, '--delete-object', '--type', 'pubkey', '--id', hex(handle)], {
      stdio: 'ignore',
    });
  const expectMissingPublicHalf = (error: unknown, handle: KeyHandle) => {
    const fault = faultOf(error);
    expect(fault).toMatchObject({ reason: 'token_integrity' });
    expect(fault.message).toContain(handle);
    expect(fault.message).toMatch(/public key object is missing/);
    expect(fault.message).toMatch(/restore/);
    expect(fault.message).not.toMatch(/CKR_KEY_TYPE_INCONSISTENT/);
  };

  it.each(['ed25519', 'p256'] as const)('the %s key, looked up afresh, is refused as token_integrity naming its handle, for describe and sign alike', async (kind) => {
    const maker = open();
    let handle: KeyHandle;
    try {
      handle = await maker.generate(OWNER, kind, { usage: 'sign' });
    } finally {
      maker.close();
    }
    deletePublicHalf(handle);
    const se = open();
    try {
      expectMissingPublicHalf(await outcome(() => se.describe(OWNER, handle)), handle);
      expectMissingPublicHalf(await outcome(() => se.sign(OWNER, handle, text('m'))), handle);
      // Destroy still shreds what is left (the private half): the key is then simply gone.
      await se.destroy(OWNER, handle);
      expect(isKeyNotFound(await outcome(() => se.describe(OWNER, handle)))).toBe(true);
    } finally {
      se.close();
    }
  });

  it('a key this process remembers is refused alike once its public half is deleted while it runs', async () => {
    const se = open();
    try {
      const handle = await se.generate(OWNER, 'ed25519');
      await se.describe(OWNER, handle);
      deletePublicHalf(handle);
      expectMissingPublicHalf(await outcome(() => se.describe(OWNER, handle)), handle);
    } finally {
      se.close();
    }
  });
});
