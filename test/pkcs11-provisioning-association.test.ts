/**
 * Issue 16 (SER-023): the whole remote provisioning and association scenario through the engine with the
 * infrastructure's keys (Enrolment Function and Registrar signing keys, PSK copies, session keys) in SoftHSM2,
 * devices on their embedded Secure Environments; the infrastructure's keys are token objects that survive a
 * restart of the service and of the module.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/embedded.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { Device } from '../adapters/protocols/procedures/index.ts';
import { openCredence, openHsmLogKey } from '../adapters/runtime/index.ts';
import { seededRandom } from './crypto-fixtures.ts';
import { at, operator, profile, T0 } from './support/fleet.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const text = (s: string) => new TextEncoder().encode(s);
const hex = (handle: string) => Buffer.from(handle, 'utf8').toString('hex');

describe.skipIf(softHsmMissing !== undefined)('provisioning and association with the infrastructure keys in SoftHSM2', () => {
  const hsm = softHsm();
  const dirs: string[] = [];
  afterAll(() => {
    hsm.cleanup();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });
  const token = hsm.token('infrastructure');

  // As docs/hsm.md has a program do it: the transparency log key in the token too, not a key file in the folder.
  const service = async (dir: string, clock: FakeClock) => {
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri('x-derivation=host') }, { random });
    const logKey = await openHsmLogKey(dir, se);
    const credence = openCredence({ location: { dir }, clock, security: { se, random, actor: operator }, ...(logKey.place === 'hsm' ? { transparencySigner: logKey.signer } : {}) });
    return { se, credence, close: async () => { await credence.close(); se.close(); } };
  };

  it.each([
    ['psk256', 'psk256'],
    ['ed25519', 'ed25519'],
    ['p256', 'p256'],
    ['ed25519', 'psk256'],
  ] as const)('bootstrap %s, service credential %s: provisioned, associated, session keys paired; after a restart the same keys associate again', async (bootstrap, kind) => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-pkcs11-scenario-'));
    dirs.push(dir);
    const clock = new FakeClock(T0);
    let running = await service(dir, clock);
    const deviceSe = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: () => clock.now(), random: seededRandom(`device-${bootstrap}-${kind}`) });
    const device = new Device({ nodeId: 'meter-1', se: deviceSe, now: () => clock.now(), random: seededRandom(`device-protocol-${bootstrap}-${kind}`) });
    try {
      const { infrastructure, procedures } = await running.credence.security();
      const { engine } = running.credence;
      await engine.execute({ type: 'createSubscription', data: { subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: T0, notAfter: at(2 * 365) }, metadata: { actor: operator } });
      await procedures.preProvision({ device, profile, bootstrapCredentialId: 'meter-1-boot', kind: bootstrap, validity: { notBefore: T0, notAfter: at(5 * 365) } });
      await engine.execute({ type: 'enrolNode', data: { nodeId: 'meter-1', subscriptionId: 'sub-1', cseId: '/meter-1-cse' }, metadata: { actor: operator } });
      await procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind });
      expect(String((await engine.entity('credential', 'meter-1-svc')).snapshot.value)).toBe('enrolled');

      const { registree, registrar } = await procedures.associate({ device, associationId: 'sa-1', credentialId: 'meter-1-svc', lifetimeSeconds: 30 * 86_400 });
      expect(String((await engine.entity('association', 'sa-1')).snapshot.value)).toBe('associated');
      expect(registree.transcriptHash).toBe(registrar.transcriptHash);
      const owner = infrastructure.owner;
      const down = await running.se.seal(owner, registrar.sessionKeys.send, text('command 7'), new Uint8Array(0));
      expect(new TextDecoder().decode(await device.se.open(registree.sessionKeys.receive, down, new Uint8Array(0)))).toBe('command 7');
      const up = await device.se.seal(registree.sessionKeys.send, text('meter reading 42'), new Uint8Array(0));
      expect(new TextDecoder().decode(await running.se.open(owner, registrar.sessionKeys.receive, up, new Uint8Array(0)))).toBe('meter reading 42');

      // The signing keys and the association's stored session keys are objects in the token, seen by pkcs11-tool.
      const listing = hsm.listObjects(token);
      for (const handle of [infrastructure.signing.ef, infrastructure.signing.registrar, registrar.sessionKeys.send]) expect(listing).toContain(hex(handle));
      const signing = { ...infrastructure.signing };

      // Restart: service and module closed, reopened on the same data folder and token.
      await running.close();
      running = await service(dir, clock);
      const again = await running.credence.security();
      expect(again.infrastructure.signing).toMatchObject({ ef: signing.ef, registrar: signing.registrar, efPublicKey: signing.efPublicKey });
      await again.procedures.associate({ device, associationId: 'sa-2', credentialId: 'meter-1-svc', lifetimeSeconds: 30 * 86_400 });
      expect(String((await running.credence.engine.entity('association', 'sa-2')).snapshot.value)).toBe('associated');
    } finally {
      await running.close();
      deviceSe.close();
    }
  });
});
