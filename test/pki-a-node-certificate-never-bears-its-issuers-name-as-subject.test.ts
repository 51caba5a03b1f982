import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { Device } from '../adapters/protocols/procedures/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { issueNodeCertificate, SERIAL_LENGTH } from '../domain/x509/issuance/index.ts';
import { memorySecureEnvironment, seededRandom } from './crypto-fixtures.ts';
import { rootCaWorld } from './pki-issuance-fixtures.ts';
import { at, operator, profile, T0 } from './support/fleet.ts';

/*
 * Found in review 287 (3): a CA made with `--subject CN=gateway-1` issued node gateway-1 a certificate whose subject
 * was its issuer's name: RFC 5280 4.1.2.6 and 6.1 read a certificate whose subject and issuer match as self-issued, so
 * a relying party may take the node's certificate for a CA's own. Issuance is refused now (`subject_is_issuer`),
 * comparing names as RFC 5280 7.1 does (case and inner spaces aside), and nothing is recorded.
 */
const validity = { notBefore: new Date(T0), notAfter: new Date(at(365)) };

describe("a node certificate whose subject would be its CA's name", () => {
  const closing: (() => unknown)[] = [];
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });

  it.each([
    ['CN=gateway-1', 'gateway-1'],
    ['CN=Gateway-1', 'gateway-1'],
    ['CN=gateway  1', 'gateway 1'],
  ])('a CA named %s refuses node %s, subject_is_issuer, and certifies gateway-2', async (subject, nodeId) => {
    const world = await rootCaWorld('p256', () => new Date(T0), { subject });
    closing.push(() => world.close());
    const issue = (id: string) =>
      issueNodeCertificate({
        ca: world.ca,
        baseUrl: 'https://credence.example',
        naming: { nodeId: id },
        key: { kind: world.ca.signer.kind, bytes: world.ca.signer.publicKey },
        validity,
        serialRandom: world.random(SERIAL_LENGTH),
      });
    expect(await issue(nodeId)).toEqual({ ok: false, reason: 'subject_is_issuer' });
    expect((await issue('gateway-2')).ok).toBe(true);
  });

  it('refuses remote provisioning of that node at the receipt, before anything is recorded', async () => {
    const clock = new FakeClock(T0);
    const world = await rootCaWorld('p256', () => clock.now(), { subject: 'CN=gateway-1' });
    const credence = openCredence({
      location: { dir: world.dir },
      clock,
      security: { se: world.se, random: world.random, actor: operator, pki: { cas: [world.ca], baseUrl: 'https://credence.example' } },
    });
    closing.push(() => rmSync(world.dir, { recursive: true, force: true }), () => world.se.close(), () => credence.close());
    const { procedures } = await credence.security();
    await credence.engine.execute({
      type: 'createSubscription',
      data: { subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: T0, notAfter: at(2 * 365) },
      metadata: { actor: operator },
    });
    const se = memorySecureEnvironment('gateway-1', () => clock.now());
    closing.push(() => se.close());
    const device = new Device({ nodeId: 'gateway-1', se, now: () => clock.now(), random: seededRandom('gateway-1/protocol') });
    await procedures.preProvision({ device, profile, bootstrapCredentialId: 'gateway-1-boot', kind: 'ed25519', validity: { notBefore: T0, notAfter: at(5 * 365) } });
    await credence.engine.execute({ type: 'enrolNode', data: { nodeId: 'gateway-1', subscriptionId: 'sub-1', cseId: '/gateway-1-cse' }, metadata: { actor: operator } });

    const refused = procedures.provisionRemotely({ device, credentialId: 'gateway-1-svc', kind: 'p256' });
    await expect(refused).rejects.toMatchObject({ problem: { code: 'protocol', step: 'provisioning.receipt', reason: 'certificate_not_issued' } });
    await expect(refused).rejects.toThrow(/subject_is_issuer/);
    expect((await credence.engine.entity('credential', 'gateway-1-svc')).events).toHaveLength(0);
  }, 60_000);
});
