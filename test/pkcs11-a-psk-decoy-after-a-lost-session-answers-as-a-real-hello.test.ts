/**
 * Review 187 (1, HIGH): with the Registrar's keys in SoftHSM2 (`x-derivation=host`), once the token's sessions were
 * lost and reopened (C_CloseAllSessions on its slot: an HSM restart, an idle network HSM) the stand-in PSK of
 * PSK-mode decoys (adapters/protocols/shared/stand-in-psk.ts), a session object, was reported as
 * `validation`/`session_object_lost` and never forgotten: every later decoy hello was a 400 naming the key handle and
 * the token's label, where a hello for a usable credential got its challenge (SER-001: live credential ids told from
 * dead ones). A session object whose session is gone is gone: `not_found`, so the stand-in is made again, and the
 * decoy answers as before; a decoy finish in a run that spanned the loss is the failed proof a real run gets.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { proofInput, Transcript, withoutFields } from '../domain/crypto/transcript.ts';
import type { AssociationChallenge, AssociationHello } from '../domain/protocols/association-messages.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import type { Pkcs11 } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { mapRaisedError } from '../adapters/http/map-raised-error.ts';
import { handshakeWorld, REGISTREE_OWNER, type HandshakeWorld } from './handshake.fixtures.ts';
import { memorySecureEnvironment, seededRandom, toBase64url } from './crypto-fixtures.ts';
import type { InspectableSecureEnvironment } from './support/inspectable-secure-environment.ts';
import { shape, told } from './support/protocol-answers.ts';
import { softHsm, softHsmMissing, withSoftHsmModule, type TestToken } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));

/** Every session of `token` closed under the Secure Environment, as an HSM restart or an idle network HSM does. */
const loseSessions = (module: Pkcs11, token: TestToken) => {
  const slot = module.C_GetSlotList(true).find((s) => module.C_GetTokenInfo(s).label.trim() === token.label);
  if (slot === undefined) throw new Error(`no token ${token.label}`);
  module.C_CloseAllSessions(slot);
};

/** What the answer to `run` is, as the HTTP layer would send it: a challenge (200) or the mapped refusal. */
const answered = async (run: () => Promise<unknown>) =>
  run().then(
    (message) => ({ status: 200, shape: shape(message) }),
    (error: unknown) => ({ status: mapRaisedError(error).status, detail: mapRaisedError(error).detail }),
  );

/** A finish for `challenge` proved with a PSK the Registrar never saw (a stranger's). */
const strangersFinish = async (world: HandshakeWorld, hello: AssociationHello, challenge: AssociationChallenge) => {
  const psk = await world.registreeSe.generate(REGISTREE_OWNER, 'psk256');
  const transcript = new Transcript('association');
  transcript.absorb(hello.type, hello);
  transcript.absorb(challenge.type, withoutFields(challenge, 'proof'));
  const unsigned = { type: 'association.finish' as const, version: 2 as const, sessionId: challenge.sessionId, registrarNonce: challenge.registrarNonce };
  const input = proofInput('association', 'registree', 'finish', transcript.absorb(unsigned.type, unsigned));
  return { ...unsigned, proof: toBase64url(await world.registreeSe.mac(REGISTREE_OWNER, psk, input)), keyConfirmation: toBase64url(seededRandom('any')(32)) };
};

describe.skipIf(softHsmMissing !== undefined)('a PSK-mode decoy once the token session was lost and reopened (x-derivation=host)', () => {
  const hsm = softHsm();
  const token = hsm.token('si');
  afterAll(() => hsm.cleanup());

  const world = async (seed: string) => {
    const registrar = Pkcs11SecureEnvironment.open({ uri: token.uri('x-derivation=host') }, { random });
    const registree = memorySecureEnvironment(`${seed}/registree`, () => new Date('2030-01-01T00:00:00.000Z'));
    const se = { registrar: registrar as unknown as InspectableSecureEnvironment, registree: registree as InspectableSecureEnvironment };
    return { pkcs11: registrar, world: await handshakeWorld({ kind: 'psk256', seed, se }) };
  };
  const helloOf = async (w: HandshakeWorld, registreeId?: string) => {
    const { hello } = await w.registree.start({ lifetimeSeconds: 600 });
    return registreeId === undefined ? hello : { ...hello, registreeId };
  };

  it('a decoy hello after the loss is answered with a challenge, as a hello for a usable credential is: never a 400 naming the key or the token', async () => {
    const { pkcs11, world: w } = await world('decoy-after-loss');
    try {
      await withSoftHsmModule(async (module) => {
        // Given a first decoy hello (it makes the stand-in PSK, a session object) and a real one answered
        const before = await answered(async () => w.registrar.acceptHello(await helloOf(w, 'CSE-MN-8')));
        expect(before.status).toBe(200);
        // When the token's sessions are lost (reopened at the next operation)
        loseSessions(module, token);
        // Then decoy hellos and a real hello are all answered alike, with a challenge of the same shape
        const decoys = [await answered(async () => w.registrar.acceptHello(await helloOf(w, 'CSE-MN-9'))), await answered(async () => w.registrar.acceptHello(await helloOf(w, 'CSE-MN-6')))];
        const real = await answered(async () => w.registrar.acceptHello(await helloOf(w)));
        expect(real).toEqual(before);
        for (const decoy of decoys) {
          expect(JSON.stringify(decoy)).not.toContain('"si"');
          expect(JSON.stringify(decoy)).not.toMatch(/key_[A-Za-z0-9_-]{24}/);
          expect(decoy).toEqual(before);
        }
      });
    } finally {
      pkcs11.close();
    }
  });

  it("a stranger's finish of a decoy run that spanned the loss is the failed proof a real run's stranger gets, and the next decoy is a challenge", async () => {
    const { pkcs11, world: w } = await world('decoy-finish-after-loss');
    try {
      await withSoftHsmModule(async (module) => {
        const realHello = await helloOf(w);
        const failedProof = await told(async () => w.registrar.acceptFinish(await strangersFinish(w, realHello, await w.registrar.acceptHello(realHello))));
        // Given a decoy run waiting for its finish when the sessions are lost
        const decoyHello = await helloOf(w, 'CSE-MN-8');
        const challenge = await w.registrar.acceptHello(decoyHello);
        loseSessions(module, token);
        // When a stranger finishes it, Then it gets what a real run's stranger gets, word for word
        expect(await told(async () => w.registrar.acceptFinish(await strangersFinish(w, decoyHello, challenge)))).toEqual(failedProof);
        // and the next decoy hello is a challenge again
        expect((await answered(async () => w.registrar.acceptHello(await helloOf(w, 'CSE-MN-9')))).status).toBe(200);
      });
    } finally {
      pkcs11.close();
    }
  });
});
