import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../../adapters/driven/clock/index.ts';
import { toBase64url } from '../../domain/crypto/index.ts';
import { Device, type Infrastructure, type SecurityProcedures } from '../../adapters/protocols/procedures/index.ts';
import { openCredence, type Credence } from '../../adapters/runtime/index.ts';
import { EmbeddedSecureEnvironment } from '../../adapters/driven/secure-environment/index.ts';
import { seededRandom } from '../crypto-fixtures.ts';
import { at, operator, profile, T0 } from './fleet.ts';

/**
 * A deployment on a data folder that a test can stop and start again, as an operator restarts the process: the
 * infrastructure's Secure Environment in a file under a known KEK, the engine, read models and key registry in the
 * folder. Devices live in memory and outlast restarts (they are other machines).
 */
export const restartableWorld = async (seed: string) => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-restart-'));
  const clock = new FakeClock(T0);
  const random = seededRandom(`${seed}/random`);
  const kek = toBase64url(seededRandom(`${seed}/kek`)(32));
  const seFile = join(dir, 'infrastructure-se.sqlite');
  const openSe = () => EmbeddedSecureEnvironment.open({ database: seFile, kek: { source: 'inline', key: kek } }, { now: () => clock.now(), random });
  const start = async () => {
    const se = openSe();
    const credence = openCredence({ location: { dir }, clock, security: { se, random, actor: operator } });
    await credence.settle();
    const { infrastructure, procedures } = await credence.security();
    return { se, credence, infrastructure, procedures };
  };
  let running: { se: EmbeddedSecureEnvironment; credence: Credence; infrastructure: Infrastructure; procedures: SecurityProcedures } = await start();
  const devices: EmbeddedSecureEnvironment[] = [];
  const stop = async () => {
    await running.credence.close();
    running.se.close();
  };

  const world = {
    dir, clock, seFile,
    get se() { return running.se; },
    get credence() { return running.credence; },
    get infrastructure() { return running.infrastructure; },
    get procedures() { return running.procedures; },
    /** Another view of the Secure Environment's database: it sees the keys that are stored, never session keys. */
    storedKeys: openSe,
    /** Stops the process (everything closed), runs `meanwhile`, and starts again on the same folder. */
    async restart(meanwhile: () => void = () => {}) {
      await stop();
      meanwhile();
      running = await start();
    },
    device(nodeId: string) {
      const se = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: () => clock.now(), random: seededRandom(`${seed}/${nodeId}`) });
      devices.push(se);
      return new Device({ nodeId, se, now: () => clock.now(), random: seededRandom(`${seed}/${nodeId}/protocol`) });
    },
    /** Factory registration and enrolment under sub-1, ready for remote provisioning. */
    async enrolled(nodeId: string, bootstrap: 'psk256' | 'ed25519' | 'p256') {
      const d = world.device(nodeId);
      await running.procedures.preProvision({
        device: d, profile, bootstrapCredentialId: `${nodeId}-boot`, kind: bootstrap, validity: { notBefore: T0, notAfter: at(5 * 365) },
      });
      await running.credence.engine.execute({ type: 'enrolNode', data: { nodeId, subscriptionId: 'sub-1', cseId: `/${nodeId}-cse` }, metadata: { actor: operator } });
      return d;
    },
    /** `enrolled`, then one service credential provisioned remotely. */
    async provisioned(nodeId: string, bootstrap: 'psk256' | 'ed25519' | 'p256', service: 'psk256' | 'ed25519' | 'p256') {
      const d = await world.enrolled(nodeId, bootstrap);
      await running.procedures.provisionRemotely({ device: d, credentialId: `${nodeId}-svc`, kind: service });
      return d;
    },
    async close() {
      await stop();
      for (const se of devices) se.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await running.credence.engine.execute({
    type: 'createSubscription', data: { subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: T0, notAfter: at(2 * 365) }, metadata: { actor: operator },
  });
  return world;
};

export type RestartableWorld = Awaited<ReturnType<typeof restartableWorld>>;

/** A PSK run of `credentialId` authenticated and delivered on `w`'s Enrolment Function, its receipt not sent yet. */
export const delivered = async (w: RestartableWorld, device: Device, credentialId: string) => {
  const infra = w.infrastructure;
  const client = device.provisioningClient({ id: infra.enrolmentFunctionId, publicKey: { kind: infra.signing.kind, bytes: infra.signing.efPublicKey } });
  const session = await client.start({ credentialKind: 'psk256', credentialId });
  const auth = await session.acceptChallenge(await infra.enrolmentFunction.acceptHello(session.hello));
  const { receipt } = await session.acceptDelivery(await infra.enrolmentFunction.acceptAuth(auth));
  return { session, receipt };
};
