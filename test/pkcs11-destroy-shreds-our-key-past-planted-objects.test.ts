/**
 * SER-023, crypto-shredding (defect left by an earlier review): someone holding the PIN puts an object of their own
 * under the CKA_ID of a Credence key. A lookup refuses that handle (token_integrity), and so, before, did destroy:
 * the key of a revoked credential or an ended rotation stayed in the token. Now destroy shreds every object that is
 * ours (a Credence label for this owner and every attribute Credence sets), leaves the others where they are, and
 * reports them as token_integrity, again at each destroy until they are removed. Seen from outside (pkcs11-tool).
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
const credenceLabel = `credence/se/1 ${JSON.stringify({ owner: OWNER, kind: 'psk256', extractable: false, host: false })}`;

const outcome = async (run: () => Promise<unknown>) => run().then(() => 'done' as const, (e: unknown) => e);
/** A token integrity fault is the service's, not the caller's input (review 166: it was a `validation` issue, a 400). */
const faultOf = (error: unknown) => {
  if (!isCredenceError(error, 'secure_environment_unavailable') || error.problem.code !== 'secure_environment_unavailable') {
    throw new Error(`expected secure_environment_unavailable, got ${String(error)}`);
  }
  return error.problem;
};

describe.skipIf(softHsmMissing !== undefined)('PKCS#11 destroy past objects planted under a key handle', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('shred');
  /** The objects pkcs11-tool lists under `handle`'s CKA_ID, one listing block each. */
  const objectsUnder = (handle: KeyHandle) => hsm.listObjects(token).split(/\n(?=\S)/).filter((block) => block.includes(hex(handle)));
  const plant = (handle: KeyHandle, label: string) => hsm.plantSecretKey(token, { id: handle, label, value: new Uint8Array(32).fill(7) });
  /** A Secure Environment that remembers nothing, as after a restart or in the CLI: the token is all it knows. */
  const fresh = () => Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });

  it('destroys every object of ours under the handle, leaves the planted one, and reports it as token_integrity until it is removed', async () => {
    const se = fresh();
    try {
      const psk = await se.generate(OWNER, 'psk256');
      const ed = await se.generate(OWNER, 'ed25519');
      for (const handle of [psk, ed]) plant(handle, credenceLabel);
      expect(objectsUnder(psk)).toHaveLength(2);
      expect(objectsUnder(ed)).toHaveLength(3);

      const other = fresh();
      try {
        for (const handle of [psk, ed]) {
          const fault = faultOf(await outcome(() => other.destroy(OWNER, handle)));
          expect(fault).toMatchObject({ reason: 'token_integrity' });
          expect(fault.message).toMatch(/were destroyed, but 1 object\(s\) not made by Credence .* were left in the token/);
          // Ours (generated in the token: `local`) are gone; the planted secret, not local, is still there.
          const left = objectsUnder(handle);
          expect(left).toHaveLength(1);
          expect(left[0]).toMatch(/^Secret Key Object/);
          expect(left[0]).not.toMatch(/\blocal\b/);
        }
        // The planted object never passes for the key, and each destroy reports it again.
        expect(faultOf(await outcome(() => other.mac(OWNER, psk, text('m'))))).toMatchObject({ reason: 'token_integrity' });
        expect(faultOf(await outcome(() => other.destroy(OWNER, psk)))).toMatchObject({ reason: 'token_integrity' });
        expect(faultOf(await outcome(() => se.destroy(OWNER, ed)))).toMatchObject({ reason: 'token_integrity' });
        // The operator removes it: the handle is then simply gone.
        execFileSync('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', token.label, '--login', '--pin', token.pin, '--delete-object', '--type', 'secrkey', '--id', hex(psk)], { stdio: 'ignore' });
        expect(isKeyNotFound(await outcome(() => other.destroy(OWNER, psk)))).toBe(true);
      } finally {
        other.close();
      }
    } finally {
      se.close();
    }
  });

  it('objects without a Credence label, more than a search returns at once, neither hide the key from destroy nor are destroyed with it', async () => {
    const se = fresh();
    try {
      const psk = await se.generate(OWNER, 'psk256');
      for (let i = 0; i < 5; i++) plant(psk, `planted ${i}`);
      const other = fresh();
      try {
        // A lookup leaves them aside: they carry no Credence label, so cannot pass for the key.
        expect(await other.mac(OWNER, psk, text('m'))).toHaveLength(32);
        const fault = faultOf(await outcome(() => other.destroy(OWNER, psk)));
        expect(fault).toMatchObject({ reason: 'token_integrity' });
        expect(fault.message).toContain('its 1 object(s) were destroyed, but 5 object(s)');
        const left = objectsUnder(psk);
        expect(left).toHaveLength(5);
        for (const block of left) expect(block).toMatch(/label:\s+planted \d/);
        expect(faultOf(await outcome(() => other.destroy(OWNER, psk)))).toMatchObject({ reason: 'token_integrity' });
        expect(isKeyNotFound(await outcome(() => other.mac(OWNER, psk, text('m'))))).toBe(true);
      } finally {
        other.close();
      }
    } finally {
      se.close();
    }
  });

  it('a planted object labelled for another owner does not make the key another owner\'s: the owner still shreds it', async () => {
    const se = fresh();
    try {
      const psk = await se.generate(OWNER, 'psk256');
      plant(psk, credenceLabel.replace(OWNER, 'node:mallory'));
      const other = fresh();
      try {
        expect(faultOf(await outcome(() => other.destroy(OWNER, psk)))).toMatchObject({ reason: 'token_integrity' });
        expect(objectsUnder(psk)).toHaveLength(1);
        expect(objectsUnder(psk)[0]).toContain('node:mallory');
      } finally {
        other.close();
      }
    } finally {
      se.close();
    }
  });
});
