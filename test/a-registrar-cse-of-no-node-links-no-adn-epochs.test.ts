import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { PseudonymDeriver, type PublicEvent } from '../projections/pseudonyms/index.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { testKey } from './support/pseudonym-fleet.ts';
import { publicHistory } from './support/two-stakeholder-fleet.ts';

/*
 * Review 379 (SER-025): a registrar CSE-ID was named under the frame's node only once some node held it. A gateway not
 * enrolled yet (or no node Credence manages) kept one name in every ADN's frames, so adn-1's AssociationConfigured
 * before and after its rotation carried two node names beside one registrar name: its epochs linked. Once the gateway
 * enrolled, the name switched. A registrar named by a node's frame is now that node's name whatever its owner; only
 * the infrastructure's own Registrar CSE (`/in-cse`) keeps its one stable name.
 */

let c: Credence | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

const run = async (step: Parameters<Credence['engine']['execute']>[0]): Promise<void> => {
  await c!.engine.execute(step);
  await c!.settle();
};

const configure = (associationId: string, credentialId: string, registrarCseId: string) =>
  command(
    'configureAssociation',
    { associationId, nodeId: 'adn-1', credentialId, registree: { kind: 'cse', id: '/cse-adn-1' }, registrarCseId },
    { actor: operator },
  );

/** The node and registrar names of each AssociationConfigured frame, in log order. */
const configuredFrames = (frames: readonly PublicEvent[]) =>
  frames
    .filter((e) => e.type === 'AssociationConfigured')
    .map((e) => e.data as { nodeId: string; registrarCseId: string });

describe('a registrar CSE-ID of no node named by an ADN', () => {
  it("changes with the ADN's epochs (a gateway not enrolled yet), keeps that name once the gateway enrols, and /in-cse keeps its one", async () => {
    c = openCredence({ location: { memory: true }, clock: new FakeClock(T0), pseudonyms: { key: testKey } });
    for (const step of [cmd.createSubscription('sub-1'), cmd.registerNode('adn-1'), cmd.enrolNode('adn-1', 'sub-1')]) await run(step);
    for (const id of ['cred-a', 'cred-b', 'cred-c', 'cred-d']) {
      await run(cmd.issueCredential(id, 'adn-1'));
      await run(cmd.provisionCredential(id));
    }
    await run(configure('sa-a', 'cred-a', '/cse-gw-9'));
    await run(configure('sa-in-1', 'cred-c', '/in-cse'));
    expect((await c.pseudonyms!.rotateNow('adn-1', operator, randomUUID())).outcome).toBe('rotated');
    await run(configure('sa-b', 'cred-b', '/cse-gw-9'));
    await run(configure('sa-in-2', 'cred-d', '/in-cse'));
    // The gateway enrols now: its CSE has an owner from here on.
    for (const step of [cmd.registerNode('gw-9'), cmd.enrolNode('gw-9', 'sub-1')]) await run(step);

    const frames = configuredFrames(await publicHistory(c));
    expect(frames).toHaveLength(4);
    const [a, inBefore, b, inAfter] = frames as [(typeof frames)[0], (typeof frames)[0], (typeof frames)[0], (typeof frames)[0]];
    expect(a.nodeId).not.toBe(b.nodeId);
    // Two epochs of adn-1, two names of the gateway's CSE: nothing links them.
    expect(a.registrarCseId).not.toBe(b.registrarCseId);
    const deriver = new PseudonymDeriver(testKey);
    expect(a.registrarCseId).toBe(await deriver.identifier('cse', '/cse-gw-9', 0, 'adn-1'));
    expect(b.registrarCseId).toBe(await deriver.identifier('cse', '/cse-gw-9', 1, 'adn-1'));
    // The infrastructure's own Registrar CSE: one stable name, as the docs say.
    const inCse = await deriver.identifier('cse', '/in-cse', 0);
    expect([inBefore.registrarCseId, inAfter.registrarCseId]).toEqual([inCse, inCse]);

    // The same frames folded again once the gateway is enrolled (a replay, a resumed stream) carry the same names.
    const again = configuredFrames(await publicHistory(c));
    expect(again).toEqual(frames);
  }, 60_000);
});
