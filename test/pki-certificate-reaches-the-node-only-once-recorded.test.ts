import { afterEach, describe, expect, it } from 'vitest';
import { EnrolmentEndpoint } from '../adapters/protocols/procedures/index.ts';
import { command } from '../domain/commands/index.ts';
import { fromBase64url } from '../domain/crypto/index.ts';
import { certifiedPublicKey } from '../domain/x509/issuance/index.ts';
import { operator } from './support/fleet.ts';
import { pkiWorld } from './pki-issuance-fixtures.ts';

/*
 * The CA used to sign a node's certificate at the auth step and hand it over in the delivery, before anything was
 * recorded. A node that never sent its receipt (or whose receipt was refused: the node revoked in between) kept a
 * CA-signed certificate no event recorded: no CRL could list it and OCSP said `unknown`, however the node was revoked,
 * and a stolen bootstrap key minted as many as it liked. Now the CSR is checked at the auth step, the certificate
 * signed once the receipt is verified, and given to the node only with the answer that the credential is recorded.
 */

let world: Awaited<ReturnType<typeof pkiWorld>> | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const run = async (w: NonNullable<typeof world>, nodeId: string, credentialId: string) => {
  const device = await w.registered(nodeId);
  const endpoint = new EnrolmentEndpoint(w.infrastructure);
  const client = device.provisioningClient({ id: w.infrastructure.enrolmentFunctionId, publicKey: { kind: w.infrastructure.signing.kind, bytes: w.infrastructure.signing.efPublicKey } });
  const session = await client.start({ credentialKind: 'p256', credentialId });
  const auth = await session.acceptChallenge(await endpoint.acceptHello(session.hello));
  expect(auth.csr).toBeDefined();
  const delivery = await endpoint.acceptAuth(auth);
  return { device, endpoint, session, delivery };
};

describe('a node gets its operational certificate only once the credential is recorded', () => {
  it('the delivery carries no certificate; the answer to the receipt carries the one CredentialIssued records', async () => {
    const w = (world = await pkiWorld('p256'));
    const { endpoint, session, delivery } = await run(w, 'meter-1', 'meter-1-svc');
    expect(delivery.credential.kind !== 'psk256' && delivery.credential.certificate).toBeUndefined();
    expect((await w.credence.engine.entity('credential', 'meter-1-svc')).events).toHaveLength(0);

    const { receipt, result } = await session.acceptDelivery(delivery);
    const recorded = await endpoint.acceptReceipt(receipt);
    const issued = await w.issued('meter-1-svc');
    expect(recorded.certificate).toBeDefined();
    expect(recorded.certificate).toBe(issued.certificate!.der);
    expect(certifiedPublicKey(fromBase64url(recorded.certificate!))).toEqual({ kind: 'p256', bytes: fromBase64url(result.credential.kind !== 'psk256' ? result.credential.publicKey : '') });
  }, 60_000);

  it('the node takes the certificate only under the Enrolment Function\'s proof: stripped or replaced on the path, it is refused', async () => {
    const w = (world = await pkiWorld('p256'));
    const attempt = async (nodeId: string) => {
      const { endpoint, session, delivery } = await run(w, nodeId, `${nodeId}-svc`);
      const { receipt } = await session.acceptDelivery(delivery);
      return { session, recorded: await endpoint.acceptReceipt(receipt) };
    };
    const refusal = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);

    const stripped = await attempt('meter-3');
    expect(await refusal(stripped.session.acceptCertificate(undefined, stripped.recorded.certificateProof))).toMatchObject({
      problem: { step: 'provisioning.recorded', reason: 'bad_signature' },
    });
    const replaced = await attempt('meter-4');
    const other = await attempt('meter-5');
    expect(await refusal(replaced.session.acceptCertificate(other.recorded.certificate, replaced.recorded.certificateProof))).toMatchObject({
      problem: { step: 'provisioning.recorded', reason: 'bad_signature' },
    });
    const genuine = await other.session.acceptCertificate(other.recorded.certificate, other.recorded.certificateProof);
    expect(genuine.kind !== 'psk256' && genuine.certificate).toBe(other.recorded.certificate);
  }, 60_000);

  it('a receipt refused (the node revoked after its auth) hands out no certificate and records nothing', async () => {
    const w = (world = await pkiWorld('p256'));
    const { endpoint, session, delivery } = await run(w, 'meter-2', 'meter-2-svc');
    await w.credence.engine.execute(command('revokeNode', { nodeId: 'meter-2', reason: 'keyCompromise' }, { actor: operator }));
    const { receipt } = await session.acceptDelivery(delivery);
    const refused = await endpoint.acceptReceipt(receipt).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(Error);
    expect(JSON.stringify(refused)).not.toMatch(/MII|certificate":"/);
    expect((await w.credence.engine.entity('credential', 'meter-2-svc')).events).toHaveLength(0);
    // No message of the run carried a certificate: none is out that a CRL would have to list.
    expect(delivery.credential.kind !== 'psk256' && delivery.credential.certificate).toBeUndefined();
  }, 60_000);
});
