import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Infrastructure } from '../../adapters/protocols/procedures/index.ts';
import { openDevice, type SimulatedDevice } from '../../bin/commands/device/simulator.ts';
import { operatorCommand } from '../../bin/commands/device/steps.ts';
import { factory } from '../../bin/commands/device/factory.ts';
import type { ServerTarget } from '../../bin/commands/options.ts';
import { startTestService } from './service.ts';
import { openApi } from '../http-conformance.fixtures.ts';

/**
 * A live service and simulated devices against it, for the device-protocol tests over HTTP: each device has its
 * own Secure Environment folder (in this world's temp folder), made at the factory through the operator API.
 */
export const deviceServiceWorld = async () => {
  const service = await startTestService();
  const devicesDir = mkdtempSync(join(tmpdir(), 'credence-devices-'));
  const operator: ServerTarget = { url: service.url, token: service.tokens.operator };
  const opened: SimulatedDevice[] = [];
  const now = new Date();
  await operatorCommand(operator, 'createSubscription', {
    subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: now.toISOString(), notAfter: new Date(now.getTime() + 365 * 86_400_000).toISOString(),
  });
  const api = await openApi(service);
  const infrastructure = async (): Promise<Infrastructure> => (await service.service.context.credence.security()).infrastructure;
  return {
    service,
    operator,
    devicesDir,
    infrastructure,
    /** The device at the factory (bootstrap key in its own Secure Environment), then enrolled under sub-1. */
    async enrolledDevice(nodeId: string, bootstrap: 'ed25519' | 'p256'): Promise<SimulatedDevice> {
      const dir = join(devicesDir, nodeId);
      await factory(operator, {
        dir, nodeId, kind: bootstrap, bootstrapCredentialId: `${nodeId}-boot`, validForSeconds: 5 * 365 * 86_400,
        profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] },
      });
      await operatorCommand(operator, 'enrolNode', { nodeId, subscriptionId: 'sub-1', cseId: `/${nodeId}-cse` });
      const sim = openDevice(dir);
      opened.push(sim);
      return sim;
    },
    configure: (associationId: string, sim: SimulatedDevice, credentialId: string) =>
      operatorCommand(operator, 'configureAssociation', {
        associationId, nodeId: sim.device.nodeId, credentialId, registree: { kind: 'cse', id: sim.device.cseId }, registrarCseId: sim.state.pinned.registrar.id,
      }),
    head: async (): Promise<bigint> => (await service.service.context.credence.store.headPosition()) ?? 0n,
    /** The streams written to after `position` (the live runtime may write its own events meanwhile: filter them). */
    async streamsWrittenSince(position: bigint): Promise<string[]> {
      const streams: string[] = [];
      for await (const e of service.service.context.credence.store.readAll({ afterPosition: position })) streams.push(e.streamId);
      return streams;
    },
    /**
     * One POST to a device route, answering the status and the body whatever the status; every response is checked
     * against the service's OpenAPI document (the schema of its status and content type).
     */
    post: async (path: string, body: unknown): Promise<{ status: number; type: string; body: Record<string, unknown> }> => {
      const association = /^\/v1\/registrar\/associations\/([^/]+)\/(hello|finish)$/.exec(path);
      const reply = association
        ? await api.call('POST', `/v1/registrar/associations/{associationId}/${association[2]}`, { associationId: decodeURIComponent(association[1]!) }, { body })
        : await api.call('POST', path, {}, { body });
      return { status: reply.status, type: reply.type, body: reply.body as Record<string, unknown> };
    },
    get: async <T>(path: string): Promise<T> => (await api.call<T>('GET', path)).body,
    async close() {
      for (const sim of opened) sim.close();
      await service.close();
      rmSync(devicesDir, { recursive: true, force: true });
    },
  };
};

export type DeviceServiceWorld = Awaited<ReturnType<typeof deviceServiceWorld>>;
