import { randomUUID } from 'node:crypto';
import { afterEach, expect } from 'vitest';
import { request } from '../../adapters/client/http.ts';
import { startStandIn, type StandIn } from '../esdb-standin/index.ts';
import { startTestService, type TestService } from './service.ts';

/** A service on an EventStoreDB cluster (the stand-in) that another application writes to as well. */
export interface SharedCluster {
  readonly svc: TestService;
  readonly standIn: StandIn;
}

/** Starts such a cluster and service for each test that asks (`start`), and stops both after it. */
export const useSharedCluster = (): { start(): Promise<SharedCluster> } => {
  let standIn: StandIn | undefined;
  let svc: TestService | undefined;
  afterEach(async () => {
    await svc?.close();
    await standIn?.stop();
    svc = undefined;
    standIn = undefined;
  });
  return {
    async start() {
      standIn = await startStandIn();
      svc = await startTestService({ config: { store: standIn.connectionString } });
      return { svc, standIn };
    },
  };
};

/** Registers `nodeId` through the operator API (201). */
export const registerNode = async (svc: TestService, nodeId: string): Promise<void> => {
  const body = {
    type: 'registerNode',
    data: { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] }, bootstrapCredentialId: `${nodeId}-boot` },
  };
  expect((await request(svc.url, { path: '/v1/commands', token: svc.tokens.operator, body })).status).toBe(201);
};

/** What another application writes to the shared cluster: a record of its own stream. */
export const foreignRecord = (standIn: StandIn, streamId: string): void => {
  const appended = standIn.log.append(streamId, { kind: 'any' }, [
    { id: randomUUID(), type: 'OrderPlaced', contentType: 'application/json', data: Buffer.from('{"order":1}'), customMetadata: new Uint8Array() },
  ]);
  if (appended.kind !== 'success') throw new Error('the foreign record was not appended');
};
