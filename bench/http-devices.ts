import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { associateOverHttp, httpDeviceTransport, provisionOverHttp } from '../adapters/client/device/index.ts';
import { Device } from '../adapters/protocols/procedures/index.ts';
import { openCredence, openDataFolderSecureEnvironment, startLive, systemClock, systemRandom } from '../adapters/runtime/index.ts';
import { command, type CommandType } from '../domain/commands/index.ts';
import type { KeyHandle } from '../domain/ports/index.ts';
import { openDevice } from '../bin/commands/device/simulator.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { factory } from '../bin/commands/device/factory.ts';
import type { ServerChild } from './http-child.ts';
import { now, rate } from './stats.ts';
import { BENCH_RUNS_PER_INITIATOR } from './association-rig.ts';

/**
 * Item 4 of the http suite: remote provisionings and association handshakes per second by one device over HTTP
 * (the device client, adapters/client/device, against /v1/enrolment/* and /v1/registrar/*) next to the same
 * procedures in process (SecurityProcedures.provisionRemotely / establish), on the same composition: data-folder
 * Secure Environments on disk at both ends, the engine recording each, the live runtime following. One at a
 * time: this is the cost of one run end to end, both ends included. Ed25519 bootstrap and service credentials.
 */
const BUDGET_MS = Number(process.env['BENCH_HTTP_DEVICE_MS'] ?? 3_000);
const MAX_RUNS = 1_000;
const WARM_UP = 3;
const LIFETIME_S = 3_600;
const DAY = 86_400_000;
const fromNow = (days: number) => new Date(Date.now() + days * DAY).toISOString();
const PROFILE = { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] };

/** Runs `once(i)` for warm-up then for the budget; answers the count and the time of the timed runs. */
const measure = async (once: (i: number) => Promise<void>, limit = MAX_RUNS): Promise<{ count: number; ms: number }> => {
  let i = 0;
  for (; i < WARM_UP; i++) await once(i);
  const start = now();
  let count = 0;
  for (; now() - start < BUDGET_MS && i < limit; i++, count++) await once(i);
  return { count, ms: now() - start };
};

interface Figures {
  readonly provisioning: { count: number; ms: number };
  readonly handshake: { count: number; ms: number };
}

const overHttp = async (server: ServerChild, dir: string): Promise<Figures> => {
  const operator = { url: server.url, token: server.token };
  const nodeId = 'dev-http';
  await operatorCommand(operator, 'createSubscription', { subscriptionId: 'dev-sub', subscriber: 'bench', notBefore: fromNow(-1), notAfter: fromNow(365) });
  await factory(operator, { dir, nodeId, kind: 'ed25519', profile: PROFILE, bootstrapCredentialId: `${nodeId}-boot`, validForSeconds: 5 * 365 * 86_400 });
  await operatorCommand(operator, 'enrolNode', { nodeId, subscriptionId: 'dev-sub', cseId: `/${nodeId}-cse` });
  const sim = openDevice(dir);
  try {
    const transport = httpDeviceTransport(server.url);
    const { enrolmentFunction, registrar } = sim.state.pinned;
    const credentials: string[] = [];
    const provisioning = await measure(async (i) => {
      const credentialId = `${nodeId}-svc-${i}`;
      await provisionOverHttp(transport, sim.device, { credentialId, kind: 'ed25519', enrolmentFunction });
      credentials.push(credentialId);
    });
    // One configured association per provisioned credential, configured before the clock starts.
    await server.execute(
      credentials.map((credentialId) => [
        ['configureAssociation', { associationId: `${credentialId}-sa`, nodeId, credentialId, registree: { kind: 'cse', id: sim.device.cseId }, registrarCseId: registrar.id }],
      ]),
    );
    const handshake = await measure(async (i) => {
      const credentialId = credentials[i]!;
      const outcome = await associateOverHttp(transport, sim.device, { associationId: `${credentialId}-sa`, credentialId, lifetimeSeconds: LIFETIME_S, registrar });
      for (const handle of [outcome.sessionKeys.send, outcome.sessionKeys.receive]) await sim.device.se.destroy(handle);
    }, credentials.length);
    return { provisioning, handshake };
  } finally {
    sim.close();
  }
};

const inProcess = async (dir: string): Promise<Figures> => {
  const dataDir = join(dir, 'data');
  const se = openDataFolderSecureEnvironment(dataDir, { now: () => systemClock.now() });
  const credence = openCredence({ location: { dir: dataDir }, clock: systemClock, security: { se, random: systemRandom, actor: { id: 'maf:infrastructure', role: 'operator' }, runsPerInitiator: BENCH_RUNS_PER_INITIATOR } });
  const live = startLive(credence);
  const deviceSe = openDataFolderSecureEnvironment(join(dir, 'device'), { now: () => new Date() });
  try {
    await live.start();
    const { procedures } = await credence.security();
    const run = (type: CommandType, data: Record<string, unknown>) => credence.engine.execute(command(type, data, { actor: { id: 'bench-operator', role: 'operator' } }));
    const nodeId = 'dev-local';
    await run('createSubscription', { subscriptionId: 'dev-sub', subscriber: 'bench', notBefore: fromNow(-1), notAfter: fromNow(365) });
    const device = new Device({ nodeId, se: deviceSe, now: () => new Date(), random: systemRandom });
    await procedures.preProvision({ device, profile: PROFILE, bootstrapCredentialId: `${nodeId}-boot`, kind: 'ed25519', validity: { notBefore: fromNow(-1), notAfter: fromNow(5 * 365) } });
    await run('enrolNode', { nodeId, subscriptionId: 'dev-sub', cseId: `/${nodeId}-cse` });
    const credentials: string[] = [];
    const provisioning = await measure(async (i) => {
      const credentialId = `${nodeId}-svc-${i}`;
      await procedures.provisionRemotely({ device, credentialId, kind: 'ed25519' });
      credentials.push(credentialId);
    });
    const { infrastructure } = await credence.security();
    for (const credentialId of credentials) {
      await run('configureAssociation', { associationId: `${credentialId}-sa`, nodeId, credentialId, registree: { kind: 'cse', id: device.cseId }, registrarCseId: infrastructure.registrarCseId });
    }
    const handshake = await measure(async (i) => {
      const credentialId = credentials[i]!;
      const { registree } = await procedures.establish({ device, associationId: `${credentialId}-sa`, credentialId, lifetimeSeconds: LIFETIME_S, registreeId: device.cseId! });
      for (const handle of [registree.sessionKeys.send, registree.sessionKeys.receive]) await device.se.destroy(handle as KeyHandle);
    }, credentials.length);
    return { provisioning, handshake };
  } finally {
    await live.stop();
    await credence.close();
    se.close();
    deviceSe.close();
  }
};

export const benchHttpDevices = async (report: (line: string) => void, server: ServerChild): Promise<void> => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-bench-devices-'));
  try {
    const local = await inProcess(join(dir, 'local'));
    const http = await overHttp(server, join(dir, 'http'));
    const perSecond = (f: { count: number; ms: number }) => (f.count / f.ms) * 1000;
    report(
      `remote provisioning (5 messages, recorded), ed25519, one device: in process ${rate(local.provisioning.count, local.provisioning.ms)}, ` +
        `over HTTP ${rate(http.provisioning.count, http.provisioning.ms)} (ratio ${(perSecond(http.provisioning) / perSecond(local.provisioning)).toFixed(2)})`,
    );
    report(
      `association handshake (3 messages, recorded), ed25519, one device: in process ${rate(local.handshake.count, local.handshake.ms)}, ` +
        `over HTTP ${rate(http.handshake.count, http.handshake.ms)} (ratio ${(perSecond(http.handshake) / perSecond(local.handshake)).toFixed(2)})`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};
