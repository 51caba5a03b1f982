/**
 * Review 187 (2, medium): with the Registrar's keys in SoftHSM2 (`x-derivation=host`), a handshake whose hello was
 * answered before the token's sessions were lost (C_CloseAllSessions on its slot) met its own ephemeral key gone at
 * the finish's ECDH; agree-or-refuse.ts answered every `validation` out of `agree` as the peer's fault, 422
 * `invalid_ephemeral_key`, with no cause in the log. The server's own ephemeral key gone is the run lost
 * (`unknown_session`, as for a run the Registrar no longer has), so the device starts a new one (docs/hsm.md); only
 * the peer's key refused stays `invalid_ephemeral_key`.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { CredentialKind } from '../domain/crypto/credential.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import type { Pkcs11 } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { associate, handshakeWorld } from './handshake.fixtures.ts';
import { memorySecureEnvironment } from './crypto-fixtures.ts';
import type { InspectableSecureEnvironment } from './support/inspectable-secure-environment.ts';
import { told } from './support/protocol-answers.ts';
import { softHsm, softHsmMissing, withSoftHsmModule, type TestToken } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));

const loseSessions = (module: Pkcs11, token: TestToken) => {
  const slot = module.C_GetSlotList(true).find((s) => module.C_GetTokenInfo(s).label.trim() === token.label);
  if (slot === undefined) throw new Error(`no token ${token.label}`);
  module.C_CloseAllSessions(slot);
};

describe.skipIf(softHsmMissing !== undefined)('an association run whose Registrar ephemeral key a lost token session took (x-derivation=host)', () => {
  const hsm = softHsm();
  const token = hsm.token('si');
  afterAll(() => hsm.cleanup());

  it.each(['ed25519', 'p256', 'psk256'] as const)('%s: the finish is told unknown_session, not invalid_ephemeral_key, and a new run associates', async (kind: CredentialKind) => {
    const registrar = Pkcs11SecureEnvironment.open({ uri: token.uri('x-derivation=host') }, { random });
    const registree = memorySecureEnvironment(`lost-ephemeral-${kind}/registree`, () => new Date('2030-01-01T00:00:00.000Z'));
    try {
      await withSoftHsmModule(async (module) => {
        const se = { registrar: registrar as unknown as InspectableSecureEnvironment, registree: registree as InspectableSecureEnvironment };
        const w = await handshakeWorld({ kind, seed: `lost-ephemeral-${kind}`, se });
        // Given a hello answered (the Registrar's ephemeral key made in the token session), then the sessions lost
        const handshake = await w.registree.start({ lifetimeSeconds: 600 });
        const { finish } = await handshake.acceptChallenge(await w.registrar.acceptHello(handshake.hello));
        loseSessions(module, token);
        // When the holder finishes, Then it is told the run is gone, which the device answers with a new run
        const answer = await told(() => w.registrar.acceptFinish(finish));
        expect(answer.problem).toMatchObject({ step: 'association.finish', reason: 'unknown_session' });
        expect(answer.message).not.toMatch(/key_[A-Za-z0-9_-]{24}|"si"/);
        // and the new run associates
        expect((await associate(w)).registrarOutcome).toBeDefined();
      });
    } finally {
      registrar.close();
      registree.close();
    }
  });
});
