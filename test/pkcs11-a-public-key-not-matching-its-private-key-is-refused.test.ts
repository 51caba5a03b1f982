/**
 * Review 299 F1: someone holding the user PIN replaces the public object of a Credence key pair. C_GenerateKeyPair
 * makes a pair of their own whose public half carries the key's CKA_ID, Credence's label and every attribute the
 * lookup checks (CKA_LOCAL too: generated in the token), its private half under another CKA_ID, extractable and not
 * sensitive; then the key's real public object is deleted. Before, the lookup took the pair, `describe` answered the
 * intruder's public key, and access control verified tokens the intruder signed outside the HSM. Now a pair is
 * proven before it is used (a challenge signed, or a P-256 agreement made, by the private key in the token and
 * checked on the host against the public object's key): refused as `token_integrity` naming the handle and the
 * rule, for a key looked up afresh and for one a running process remembers. An untouched key still serves.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agreementPublicKey } from '../domain/crypto/agreement.ts';
import { verifySignature } from '../domain/crypto/signatures.ts';
import { isCredenceError, isKeyNotFound } from '../domain/errors.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { serviceConfig } from '../adapters/http/config.ts';
import { startService } from '../adapters/http/start.ts';
import { currentSigningKeyOf } from '../adapters/runtime/current-signing-key.ts';
import { softHsm, softHsmMissing, type TestToken } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const text = (s: string) => new TextEncoder().encode(s);
const OWNER = 'credence:access';

/**
 * The intruder, in a process of its own with pkcs11js (as review 299 did it): a new key pair whose public half copies
 * the Credence public object under `id` (its CKA_ID, CKA_LABEL, CKA_EC_PARAMS and flags), whose private half is
 * under another CKA_ID and extractable; then the original public object deleted. Prints the new public point (hex).
 */
const SWAP_BODY = `
  const id = Buffer.from(o.id, 'utf8');
  m.C_FindObjectsInit(session, [{ type: p.CKA_ID, value: id }, { type: p.CKA_CLASS, value: p.CKO_PUBLIC_KEY }]);
  const [original] = m.C_FindObjects(session, 2);
  m.C_FindObjectsFinal(session);
  const [label, params, verify] = m.C_GetAttributeValue(session, original, [{ type: p.CKA_LABEL }, { type: p.CKA_EC_PARAMS }, { type: p.CKA_VERIFY }]);
  const ed = params.value.length === 5;
  const signs = verify.value[0] === 1;
  const pair = m.C_GenerateKeyPair(session, { mechanism: ed ? 0x1055 : p.CKM_EC_KEY_PAIR_GEN }, [
    { type: p.CKA_ID, value: id },
    { type: p.CKA_LABEL, value: label.value },
    { type: p.CKA_TOKEN, value: true },
    { type: p.CKA_EC_PARAMS, value: params.value },
    { type: p.CKA_PRIVATE, value: true },
    { type: p.CKA_VERIFY, value: signs },
    { type: p.CKA_ENCRYPT, value: false },
    { type: p.CKA_WRAP, value: false },
    { type: p.CKA_VERIFY_RECOVER, value: false },
    { type: p.CKA_DERIVE, value: false },
    { type: p.CKA_COPYABLE, value: false },
    { type: p.CKA_MODIFIABLE, value: false },
  ], [
    { type: p.CKA_ID, value: Buffer.from('intruder', 'utf8') },
    { type: p.CKA_TOKEN, value: true },
    { type: p.CKA_PRIVATE, value: true },
    { type: p.CKA_SENSITIVE, value: false },
    { type: p.CKA_EXTRACTABLE, value: true },
    { type: p.CKA_SIGN, value: signs },
    { type: p.CKA_DERIVE, value: !signs },
  ]);
  m.C_DestroyObject(session, original);
  const [point] = m.C_GetAttributeValue(session, pair.publicKey, [{ type: p.CKA_EC_POINT }]);
  process.stdout.write(point.value.toString('hex'));
`;

/** The bare point in a CKA_EC_POINT value (a DER OCTET STRING on SoftHSM2). */
const bare = (hex: string): Uint8Array => {
  const value = Buffer.from(hex, 'hex');
  return new Uint8Array(value[0] === 0x04 && value[1] === value.length - 2 ? value.subarray(2) : value);
};

const swapPublicHalf = (hsm: ReturnType<typeof softHsm>, token: TestToken, handle: KeyHandle): Uint8Array =>
  bare(hsm.runAsIntruder(token, SWAP_BODY, { id: handle }));

type Outcome = { readonly value?: unknown; readonly error?: unknown };
const outcome = async (run: () => Promise<unknown>): Promise<Outcome> => run().then((value) => ({ value }), (error: unknown) => ({ error }));

const expectRefusedPair = (result: Outcome, handle: KeyHandle) => {
  expect(result.value).toBeUndefined();
  const { error } = result;
  if (!isCredenceError(error, 'secure_environment_unavailable') || error.problem.code !== 'secure_environment_unavailable') {
    throw new Error(`expected secure_environment_unavailable, got ${String(error)}`);
  }
  expect(error.problem).toMatchObject({ reason: 'token_integrity' });
  expect(error.problem.message).toContain(handle);
  expect(error.problem.message).toMatch(/public key object does not belong to its private key/);
};

describe.skipIf(softHsmMissing !== undefined)('PKCS#11: a public key object that does not match its private key', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('swapped');
  const open = () => Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });

  const generated = async (kind: 'ed25519' | 'p256', usage: 'sign' | 'agree') => {
    const maker = open();
    try {
      return await maker.generate(OWNER, kind, { usage });
    } finally {
      maker.close();
    }
  };

  it.each([
    ['ed25519', 'sign'],
    ['p256', 'sign'],
  ] as const)('a %s signing key whose public object was replaced is refused for describe and sign; destroy still shreds it', async (kind, usage) => {
    const handle = await generated(kind, usage);
    const forged = swapPublicHalf(hsm, token, handle);
    const se = open();
    try {
      // Before review 299 describe answered `forged`, the intruder's key, whose private half left the token.
      const described = await outcome(() => se.describe(OWNER, handle));
      expect((described.value as { publicKey?: Uint8Array } | undefined)?.publicKey).not.toEqual(forged);
      expectRefusedPair(described, handle);
      expectRefusedPair(await outcome(() => se.sign(OWNER, handle, text('m'))), handle);
      await se.destroy(OWNER, handle);
      expect(isKeyNotFound((await outcome(() => se.describe(OWNER, handle))).error)).toBe(true);
    } finally {
      se.close();
    }
  });

  it('a P-256 agreement key whose public object was replaced is refused for describe and agree', async () => {
    const handle = await generated('p256', 'agree');
    swapPublicHalf(hsm, token, handle);
    const se = open();
    try {
      const peer = agreementPublicKey('p256', new Uint8Array(32).fill(7));
      expectRefusedPair(await outcome(() => se.describe(OWNER, handle)), handle);
      expectRefusedPair(await outcome(() => se.agree(OWNER, handle, peer)), handle);
    } finally {
      se.close();
    }
  });

  it('a key this process remembers is refused once its public object is replaced while it runs', async () => {
    const se = open();
    try {
      const handle = await se.generate(OWNER, 'ed25519');
      await se.describe(OWNER, handle);
      swapPublicHalf(hsm, token, handle);
      expectRefusedPair(await outcome(() => se.describe(OWNER, handle)), handle);
    } finally {
      se.close();
    }
  });

  it("a service whose API token signing key's public object was replaced does not start; with it untouched it does", async () => {
    const data = join(hsm.dir, 'served');
    const start = () => startService(serviceConfig({ host: '127.0.0.1', port: 0, logLevel: 'silent', durability: 'normal', data, secureEnvironment: token.uri() }));
    await (await start()).close();
    await (await start()).close();
    const handle = currentSigningKeyOf(data) as KeyHandle;
    expect(handle).toMatch(/^key_/);
    swapPublicHalf(hsm, token, handle);
    // Before review 299 the service started, verifying tokens under the intruder's key.
    expectRefusedPair(await outcome(start), handle);
  });

  it('untouched keys of every pair kind, looked up afresh, still describe, sign and agree', async () => {
    const signing = await Promise.all([generated('ed25519', 'sign'), generated('p256', 'sign')]);
    const agreeing = await generated('p256', 'agree');
    const se = open();
    try {
      for (const [i, handle] of signing.entries()) {
        const { publicKey } = await se.describe(OWNER, handle);
        const signature = await se.sign(OWNER, handle, text('m'));
        expect(verifySignature(i === 0 ? 'ed25519' : 'p256', publicKey!, text('m'), signature)).toBe(true);
      }
      expect((await se.describe(OWNER, agreeing)).publicKey).toHaveLength(65);
      await se.agree(OWNER, agreeing, agreementPublicKey('p256', new Uint8Array(32).fill(9)));
    } finally {
      se.close();
    }
  });
});
