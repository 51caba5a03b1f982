import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Credence } from '../adapters/runtime/index.ts';
import type { CrlPublisher } from '../adapters/runtime/pki-crl-publisher.ts';
import type { OcspResponder } from '../adapters/runtime/pki-ocsp-responder.ts';
import { command } from '../domain/commands/index.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import type { ProjectionRunner } from '../projections/runtime/index.ts';
import { cmd, operator } from './support/fleet.ts';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { serialsOf } from './support/pki-instance.ts';
import type { TestLeaf } from './support/pki-test-ca.ts';
import { pkiWorldWithAHeldCascade, type PkiWorldWithAHeldCascade } from './support/pki-world-with-a-held-cascade.ts';
import { tamper } from './support/tampered-log.ts';

/*
 * Review 308: while a certificate was owed its revocation (its node revoked, the cascade's revocation of it not
 * recorded yet), the CRL publisher issued no CRL for its CA. A revocation the cascade dead-letters (a broken stream)
 * is owed until the certificate's notAfter: every CRL of that CA stayed frozen, and a keyCompromise revocation of an
 * unrelated certificate by hand never reached one. The owed certificate alone is held (OCSP `tryLater`); the CRLs go on
 * from the revocations recorded.
 */
const SECOND = 1000;

describe('a node revoked, the cascade dead-lettering its certificate’s revocation', () => {
  let world: PkiWorldWithAHeldCascade;
  let clock: PkiWorldWithAHeldCascade['clock'];
  let credence: Credence;
  let ca: IssuingCa;
  let broken: TestLeaf;
  let unrelated: TestLeaf;
  let pkiOnly: ProjectionRunner;
  let responder: OcspResponder;
  let publisher: CrlPublisher;
  beforeAll(async () => {
    // Given cred-1 of meter-1, provisioned, its stream then broken (provisioned twice); and cred-9 of meter-2.
    world = await pkiWorldWithAHeldCascade({
      onceCred1Issued: async (c) => {
        await c.engine.execute(cmd.provisionCredential('cred-1'));
      },
      beforeProjecting: async (c) => {
        await c.settle();
        await tamper(c, 'credential-cred-1', 'CredentialProvisioned', { credentialId: 'cred-1', method: 'pre-provisioning' });
      },
    });
    ({ clock, credence, ca, leaf: broken, other: unrelated, pkiOnly, responder, publisher } = world);
  }, 60_000);
  afterAll(async () => {
    await world?.close();
  });

  it('answers tryLater for that certificate alone, and lists a later keyCompromise of another in the next complete and delta CRL', async () => {
    const status = async (l: TestLeaf) => {
      const a = await responder.respond(await ocspRequest(l, ca));
      return a.outcome === 'successful' ? ocspStatus(a.der) : a.outcome;
    };
    const fullBefore = await publisher.full();
    const deltaBefore = await publisher.delta();

    // When meter-1 is revoked and the cascade runs: cred-1's revocation is dead-lettered (its history is broken).
    await credence.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await credence.settle();
    await pkiOnly.catchUp();
    expect(await credence.engine.view('credential', 'cred-1').catch((e: unknown) => e)).toBeInstanceOf(Error);
    expect([await status(broken), await status(unrelated)]).toEqual(['tryLater', 'good']);

    // When cred-9 is revoked for keyCompromise by hand.
    clock.now += SECOND;
    await credence.engine.execute(cmd.revokeCredential('cred-9', 'keyCompromise'));
    await pkiOnly.catchUp();

    // Then the next complete and delta CRLs list it (cred-1 still owed: tryLater, in neither).
    clock.now += SECOND;
    const full = await publisher.full();
    const delta = await publisher.delta();
    expect(full.crlNumber).toBeGreaterThan(fullBefore.crlNumber);
    expect(delta.crlNumber).toBeGreaterThan(deltaBefore.crlNumber);
    expect(serialsOf(full.der)).toEqual([unrelated.serialNumber]);
    expect(serialsOf(delta.der)).toEqual([unrelated.serialNumber]);
    expect([await status(broken), await status(unrelated)]).toEqual(['tryLater', 'revoked']);
  }, 60_000);
});
