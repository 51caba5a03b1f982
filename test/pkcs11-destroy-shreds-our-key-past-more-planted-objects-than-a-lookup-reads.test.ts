/**
 * Review 162 F4 (SER-023, crypto-shredding): more than the 1,024 objects a lookup reads under one CKA_ID
 * (MAX_OBJECTS_UNDER_ID) planted under a key's handle by someone holding the PIN. Before, destroy read every object
 * under the CKA_ID first and refused (`token_integrity`) before destroying anything, so a revoked key stayed in the
 * token. Now destroy finds the owner's objects by CKA_ID and each of the owner's labels (the token passes over the
 * rest), destroys them, and reports the others it left, counted, as token_integrity. Seen from outside (pkcs11-tool).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { MAX_OBJECTS_UNDER_ID } from '../adapters/driven/secure-environment/pkcs11/objects-under-id.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const OWNER = 'maf:infrastructure';
const hex = (handle: string) => Buffer.from(handle, 'utf8').toString('hex');
const PLANTED = MAX_OBJECTS_UNDER_ID + 1;

const outcome = async (run: () => Promise<unknown>) => run().then(() => 'done' as const, (e: unknown) => e);
/** A token integrity fault is the service's, not the caller's input (review 166: it was a `validation` issue, a 400). */
const faultOf = (error: unknown) => {
  if (!isCredenceError(error, 'secure_environment_unavailable') || error.problem.code !== 'secure_environment_unavailable') {
    throw new Error(`expected secure_environment_unavailable, got ${String(error)}`);
  }
  return error.problem;
};

describe.skipIf(softHsmMissing !== undefined)('PKCS#11 destroy past more planted objects than a lookup reads', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('flood');
  const open = () => Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });
  /** The intruder, in a process of its own: `count` unlabelled token secret keys under one CKA_ID, in one login. */
  const plantMany = (handle: KeyHandle, count: number) => hsm.plantUnlabelledSecretKeys(token, { id: handle, value: Buffer.alloc(32, 7), count });
  /** The objects pkcs11-tool lists under `handle`'s CKA_ID, one listing block each. */
  const objectsUnder = (handle: KeyHandle) => hsm.listObjects(token).split(/\n(?=\S)/).filter((block) => block.includes(hex(handle)));

  it(`a psk256 key with ${PLANTED} unlabelled objects under its handle is destroyed, and they are left and counted`, async () => {
    const maker = open();
    let psk: KeyHandle;
    try {
      psk = await maker.generate(OWNER, 'psk256');
    } finally {
      maker.close();
    }
    plantMany(psk, PLANTED);
    // Ours is the one object the token made (CKA_LOCAL); pkcs11-tool lists the flag.
    expect(objectsUnder(psk).filter((block) => /\blocal\b/.test(block))).toHaveLength(1);

    const se = open();
    try {
      // A lookup reads no more than MAX_OBJECTS_UNDER_ID: refused as the token's fault, as every integrity fault is.
      const lookup = faultOf(await outcome(() => se.mac(OWNER, psk, new TextEncoder().encode('m'))));
      expect(lookup).toMatchObject({ reason: 'token_integrity' });
      expect(lookup.message).toContain(`more than ${MAX_OBJECTS_UNDER_ID} objects have its CKA_ID`);
      const fault = faultOf(await outcome(() => se.destroy(OWNER, psk)));
      expect(fault).toMatchObject({ reason: 'token_integrity' });
      expect(fault.message).toContain(`its 1 object(s) were destroyed, but ${PLANTED} object(s) not made by Credence`);
      const left = objectsUnder(psk);
      expect(left).toHaveLength(PLANTED);
      expect(left.filter((block) => /\blocal\b/.test(block))).toHaveLength(0);
      // Each destroy still reports what is left, rather than answering that the key is gone.
      expect(faultOf(await outcome(() => se.destroy(OWNER, psk)))).toMatchObject({ reason: 'token_integrity' });
    } finally {
      se.close();
    }
    // SoftHSM2 writes each planted object to a file of its own: seconds on an idle disk, more on a busy one.
  }, 300_000);
});
