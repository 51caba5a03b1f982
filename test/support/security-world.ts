import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../../adapters/driven/clock/index.ts';
import { toBase64url } from '../../domain/crypto/index.ts';
import { Device } from '../../adapters/protocols/procedures/index.ts';
import { openCredence } from '../../adapters/runtime/index.ts';
import { InspectableSecureEnvironment as EmbeddedSecureEnvironment } from './inspectable-secure-environment.ts';
import { seededRandom } from '../crypto-fixtures.ts';
import type { TrustAnchors } from '../../domain/x509/index.ts';
import { at, operator, profile, T0 } from './fleet.ts';

/**
 * A whole deployment for the security procedure tests: the engine on a file store in a temp folder, the
 * infrastructure's Secure Environment (sealed under a known KEK, so a test can scan for it), and devices that
 * each hold their own Secure Environment.
 */
export const securityWorld = async (seed = 'security-world', options: { trustAnchors?: TrustAnchors } = {}) => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-security-'));
  const clock = new FakeClock(T0);
  const random = seededRandom(`${seed}/random`);
  const kek = seededRandom(`${seed}/kek`)(32);
  const infraSe = EmbeddedSecureEnvironment.open(
    { database: join(dir, 'infrastructure-se.sqlite'), kek: { source: 'inline', key: toBase64url(kek) } },
    { now: () => clock.now(), random },
  );
  const logs: string[] = [];
  const credence = openCredence({
    location: { dir },
    clock,
    security: { se: infraSe, random, actor: operator, ...(options.trustAnchors !== undefined ? { trustAnchors: options.trustAnchors } : {}) },
    cascadeLog: (entry) => logs.push(JSON.stringify(entry)),
  });
  const { infrastructure, procedures } = await credence.security();
  const devices: { device: Device; se: EmbeddedSecureEnvironment; kek: Uint8Array }[] = [];
  const device = (nodeId: string) => {
    const deviceKek = seededRandom(`${seed}/${nodeId}/kek`)(32);
    const se = EmbeddedSecureEnvironment.open(
      { database: join(dir, `${nodeId}-se.sqlite`), kek: { source: 'inline', key: toBase64url(deviceKek) } },
      { now: () => clock.now(), random: seededRandom(`${seed}/${nodeId}`) },
    );
    const d = new Device({ nodeId, se, now: () => clock.now(), random: seededRandom(`${seed}/${nodeId}/protocol`) });
    devices.push({ device: d, se, kek: deviceKek });
    return d;
  };
  /** Factory registration, enrolment under sub-1 and remote provisioning of one service credential. */
  const provisioned = async (nodeId: string, bootstrap: 'psk256' | 'ed25519' | 'p256', service: 'psk256' | 'ed25519' | 'p256') => {
    const d = device(nodeId);
    await procedures.preProvision({
      device: d, profile, bootstrapCredentialId: `${nodeId}-boot`, kind: bootstrap, validity: { notBefore: T0, notAfter: at(5 * 365) },
    });
    await credence.engine.execute({
      type: 'enrolNode', data: { nodeId, subscriptionId: 'sub-1', cseId: `/${nodeId}-cse` }, metadata: { actor: operator },
    });
    await procedures.provisionRemotely({ device: d, credentialId: `${nodeId}-svc`, kind: service });
    return d;
  };
  await credence.engine.execute({
    type: 'createSubscription',
    data: { subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: T0, notAfter: at(2 * 365) },
    metadata: { actor: operator },
  });
  return {
    dir, clock, credence, infrastructure, procedures, infraSe, kek, devices, device, provisioned, logs,
    /** A device's whole Secure Environment (the device itself only holds its own owner's view). */
    seOf: (d: Device): EmbeddedSecureEnvironment => {
      const found = devices.find((x) => x.device === d);
      if (found === undefined) throw new Error(`device ${d.nodeId} is not of this world`);
      return found.se;
    },
    async close() {
      await credence.close();
      infraSe.close();
      for (const d of devices) d.se.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
