import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientCommandId } from '../domain/event-ids.ts';
import { readPendingInit } from '../bin/commands/device/pending-init.ts';
import { readState } from '../bin/commands/device/state.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { factory } from '../bin/commands/device/factory.ts';
import { clientOf } from '../bin/commands/options.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';
import { meterProfile as profile, pendingInit } from './support/pending-device-init.ts';

/*
 * Asked with review 207: an init whose registration reached the server, and which stopped before its bootstrap
 * credential was recorded (its answer lost, the next command unanswered), is finished by running it again. The rerun
 * finds its pending init, sends the same registration under the same command id (its first outcome comes back), and
 * goes on; it is not refused as another init's node.
 */
describe('a rerun of device init whose registration this same init recorded', () => {
  let world: DeviceServiceWorld;
  beforeAll(async () => {
    world = await deviceServiceWorld();
  }, 120_000);
  afterAll(() => world?.close());

  it('goes on: the node is registered once, the bootstrap credential recorded with the pending key, the state written', async () => {
    const nodeId = 'rr-own';
    const bootstrapCredentialId = 'rr-own-boot';
    const dir = join(world.devicesDir, nodeId);
    const registration = { nodeId, profile, bootstrapCredentialId };
    // The first run: its key made and its pending init written, as factory.ts does before it sends anything.
    const fingerprint = (await pendingInit(dir, nodeId, bootstrapCredentialId)).descriptor.fingerprint;
    // Its registration recorded under the command id the init derives from it; nothing after it.
    await operatorCommand(world.operator, 'registerNode', registration, clientCommandId('device-init/register', JSON.stringify(registration)));

    const state = await factory(world.operator, { dir, nodeId, kind: 'ed25519', profile, bootstrapCredentialId, validForSeconds: 86_400 });
    expect(state.bootstrap.descriptor.fingerprint).toBe(fingerprint);
    expect(readState(dir).nodeId).toBe(nodeId);
    expect(readPendingInit(dir)).toBeUndefined();
    const credential = await clientOf(world.operator).entity('credential', bootstrapCredentialId);
    expect((credential.context as { fingerprint?: unknown }).fingerprint).toBe(fingerprint);
  });
});
