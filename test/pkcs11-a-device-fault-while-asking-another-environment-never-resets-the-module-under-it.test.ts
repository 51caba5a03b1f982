/**
 * Review 413 F1 (regression of review 407): before a PKCS#11 module is re-initialised for one Secure Environment,
 * every other one serving on it is asked whether its token holds session objects in use (a handshake's ephemeral key
 * or ECDH secret), by a search (C_FindObjects). Since pkcs11js' plain-Error shape of a C_FindObjects failure is read
 * for its CKR code, any readable failure of that search was taken as "holds nothing": a passing device fault
 * (CKR_DEVICE_ERROR, CKR_FUNCTION_FAILED) let the module be finalised under a handshake in progress, destroying its
 * session objects. Now only a lost session (SESSION_LOST, or MAYBE_GONE from a session that no longer serves) holds
 * nothing; any other failure is taken as holding session objects, and the re-initialisation is refused
 * (`module_in_use`).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import type { Pkcs11, Pkcs11Handle } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { softHsm, softHsmMissing, withSoftHsmModule } from './support/softhsm.ts';
import { rejection } from './support/pin-free-rejection.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const text = (s: string) => new TextEncoder().encode(s);
const OWNER = 'maf:infrastructure';

/** What a handshake holds in the token between its messages: an ephemeral key and an ECDH secret (session objects). */
const handshakeInFlight = async (se: Pkcs11SecureEnvironment, agreeKey: KeyHandle) => {
  const ephemeral = await se.generate(OWNER, 'p256', { usage: 'agree', ephemeral: true });
  const ephemeralPublic = (await se.describe(OWNER, ephemeral)).publicKey as Uint8Array;
  const secret = await se.agree(OWNER, agreeKey, ephemeralPublic);
  return { ephemeral, secret };
};

/** The handshake goes on: ECDH with the ephemeral key and HKDF over the secret both give the same session key. */
const handshakeCompletes = async (se: Pkcs11SecureEnvironment, agreeKey: KeyHandle, flight: { ephemeral: KeyHandle; secret: KeyHandle }) => {
  const agreePublic = (await se.describe(OWNER, agreeKey)).publicKey as Uint8Array;
  const spec = { salt: text('s'), info: text('i'), kind: 'session256' as const };
  const mine = await se.deriveKey(OWNER, { ...spec, inputs: [flight.secret] });
  const theirSecret = await se.agree(OWNER, flight.ephemeral, agreePublic);
  const theirs = await se.deriveKey(OWNER, { ...spec, inputs: [theirSecret] });
  const sealed = await se.seal(OWNER, mine, text('handshake'), text('aad'));
  expect(await se.open(OWNER, theirs, sealed, text('aad'))).toEqual(text('handshake'));
  for (const handle of [mine, theirs, theirSecret, flight.ephemeral, flight.secret]) await se.destroy(OWNER, handle);
};

/** Opens a Secure Environment on `uri` and returns it with the handle of the session it opened. */
const openWithSession = (module: Pkcs11, uri: string) => {
  const opens = vi.spyOn(module, 'C_OpenSession');
  const se = Pkcs11SecureEnvironment.open({ uri }, { random });
  const session = opens.mock.results.at(-1)?.value as Pkcs11Handle;
  opens.mockRestore();
  return { se, session };
};

/**
 * While `during` runs, C_FindObjects on `session` only (the other Secure Environment's, searched by the question
 * "do you hold session objects?" and nothing else then) does not run and throws `returnValue` as pkcs11js throws it,
 * a plain Error "CKR_NAME:value" (or any other message, for an error with no CKR_* code at all).
 */
const searchFailsOn = async <T>(module: Pkcs11, session: Pkcs11Handle, returnValue: string, during: () => Promise<T>) => {
  const real = module.C_FindObjects.bind(module);
  let failed = 0;
  const spy = vi.spyOn(module, 'C_FindObjects').mockImplementation(((target: Pkcs11Handle, count?: number) => {
    if (Buffer.compare(target, session) === 0) {
      failed += 1;
      throw new Error(returnValue);
    }
    return real(target, count as number);
  }) as never);
  try {
    const result = await during();
    return { result, failed };
  } finally {
    spy.mockRestore();
  }
};

describe.skipIf(softHsmMissing !== undefined)('a device fault while asking another Secure Environment whether it holds session objects', () => {
  const hsm = softHsm();
  // SoftHSM2 lists the tokens it finds at C_Initialize: all made before the first open.
  const away = hsm.token('away');
  const steady = hsm.token('steady');
  afterAll(() => hsm.cleanup());
  afterEach(() => {
    vi.restoreAllMocks();
  });

  // MAYBE_GONE codes from a session that still serves, a code in no set, and an error with no CKR_* code.
  it.each(['CKR_DEVICE_ERROR:48', 'CKR_FUNCTION_FAILED:6', 'CKR_GENERAL_ERROR:5', 'CKR_HOST_MEMORY:2', 'the vendor library broke'])(
    'the search answering %s: the module is not re-initialised, and the handshake in progress on the other token completes',
    async (returnValue) => {
      await withSoftHsmModule(async (module) => {
        const a = Pkcs11SecureEnvironment.open({ uri: away.uri('x-derivation=host') }, { random });
        const { se: b, session: bSession } = openWithSession(module, steady.uri('x-derivation=host'));
        const removed = { restore: () => undefined } as { restore(): void };
        try {
          const aKey = await a.generate(OWNER, 'ed25519');
          const bAgree = await b.generate(OWNER, 'p256', { usage: 'agree' });
          const flight = await handshakeInFlight(b, bAgree);

          Object.assign(removed, hsm.deleteToken(away));
          const finalises = vi.spyOn(module, 'C_Finalize');
          const { result: issue, failed } = await searchFailsOn(module, bSession, returnValue, () =>
            rejection(() => a.sign(OWNER, aKey, text('m')), [away.pin, steady.pin]),
          );
          // B was asked, its search failed, and that was not taken for "nothing held".
          expect(failed).toBeGreaterThan(0);
          expect(finalises).not.toHaveBeenCalled();
          expect(issue).toMatchObject({ path: 'token', rule: 'token_unavailable' });
          expect(issue?.message).toContain('not re-initialised while the Secure Environment on token "steady" has session objects in use');
          await handshakeCompletes(b, bAgree, flight);
        } finally {
          removed.restore();
          a.close();
          b.close();
        }
      });
    },
  );

  it('the search answering a lost session (CKR_SESSION_HANDLE_INVALID) holds nothing: the module is re-initialised and the other Secure Environment reopens', async () => {
    await withSoftHsmModule(async (module) => {
      const a = Pkcs11SecureEnvironment.open({ uri: away.uri('x-derivation=host') }, { random });
      const { se: b, session: bSession } = openWithSession(module, steady.uri('x-derivation=host'));
      const removed = { restore: () => undefined } as { restore(): void };
      try {
        const aKey = await a.generate(OWNER, 'ed25519');
        const bKey = await b.generate(OWNER, 'ed25519');
        const bAgree = await b.generate(OWNER, 'p256', { usage: 'agree' });
        await handshakeInFlight(b, bAgree);

        Object.assign(removed, hsm.deleteToken(away));
        const finalises = vi.spyOn(module, 'C_Finalize');
        const { failed } = await searchFailsOn(module, bSession, 'CKR_SESSION_HANDLE_INVALID:179', () =>
          rejection(() => a.sign(OWNER, aKey, text('m')), [away.pin, steady.pin]),
        );
        expect(failed).toBeGreaterThan(0);
        expect(finalises).toHaveBeenCalledTimes(1);
        // B reopened with the module: it keeps working (its persistent keys are there; a new handshake runs).
        expect((await b.describe(OWNER, bKey)).publicKey).toBeInstanceOf(Uint8Array);
        await handshakeCompletes(b, bAgree, await handshakeInFlight(b, bAgree));
      } finally {
        removed.restore();
        a.close();
        b.close();
      }
    });
  });
});
