/*
 * Review 293: after a downtime one expiry tick recorded every due deadline in due order without letting the cascade
 * react to the endings it had just recorded, so an entity the cascade revokes with the service up (its node's
 * enrolment ended, its predecessor superseded) was recorded expired instead: another reason, and off the CRL. A tick
 * now lets the reactions to what it recorded be handled before a deadline due later (ExpiryScheduler.tick
 * `reactionsHandled`); the same fleet then ends the same way whether the service ticked through or was down.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, startLive, type Credence } from '../adapters/runtime/index.ts';
import { command, type CommandType } from '../domain/commands/index.ts';
import type { Engine } from '../adapters/engine/index.ts';
import { at, cmd, operator, rotateOne } from './support/fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-downtime-endings-');
const ENDINGS = [
  'SubscriptionExpired', 'SubscriptionTerminated', 'NodeEnrolmentExpired', 'NodeRevoked',
  'CredentialExpired', 'CredentialRevoked', 'AssociationExpired', 'AssociationRevoked',
] as const;
const op = (engine: Pick<Engine, 'execute'>, type: CommandType, data: Record<string, unknown>) => engine.execute(command(type, data, { actor: operator }));

type Fleet = (engine: Pick<Engine, 'execute'>) => Promise<void>;

/** (a) meter-1 moved from sub-A (ends at 100) to sub-B (ends at 10), its cred-1 valid to 20 and sa-1 to 15. */
const movedToAShorterSubscription: Fleet = async (engine) => {
  for (const c of [
    cmd.createSubscription('sub-A', at(100)), cmd.createSubscription('sub-B', at(10)), cmd.registerNode(), cmd.enrolNode('meter-1', 'sub-A'),
    cmd.issueCredential('cred-1', 'meter-1', at(20)), cmd.provisionCredential('cred-1'),
    cmd.configureAssociation('sa-1', 'cred-1'), cmd.establishAssociation('sa-1', at(15)),
    cmd.enrolNode('meter-1', 'sub-B'),
  ]) await engine.execute(c);
};

/** (b) sub-1 ends at 10; meter-1 registered with its bootstrap credential boot-1 (valid to 20), provisioned, enrolled. */
const bootstrapPastItsSubscription: Fleet = async (engine) => {
  await engine.execute(cmd.createSubscription('sub-1', at(10)));
  await op(engine, 'registerNode', { nodeId: 'meter-1', profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] }, bootstrapCredentialId: 'boot-1' });
  await engine.execute(cmd.issueCredential('boot-1', 'meter-1', at(20), { purpose: 'bootstrap' }));
  await engine.execute(cmd.provisionCredential('boot-1'));
  await engine.execute(cmd.enrolNode());
};

/** Each ending recorded: `type entity reason`, sorted. */
const endingsIn = async (credence: Credence): Promise<string[]> => {
  const found: string[] = [];
  for await (const e of credence.store.readAll({ filter: { eventTypes: [...ENDINGS] } })) {
    const reason = (e.data as { reason?: string }).reason;
    found.push(`${e.type} ${e.streamId}${reason === undefined ? '' : ` ${reason}`}`);
  }
  return found.sort();
};

let open: Credence[] = [];
afterEach(async () => {
  for (const c of open) await c.close();
  open = [];
});

/** The fleet's endings through the library's tick, the clock set to each of `days` in turn (a tick and settle each). */
const libraryEndings = async (fleet: Fleet, days: readonly number[]): Promise<string[]> => {
  const clock = new FakeClock(at(0));
  const c = openCredence({ location: { memory: true }, clock });
  open.push(c);
  await fleet(c.engine);
  await c.settle();
  for (const day of days) {
    clock.set(new Date(at(day)));
    await c.tick();
    await c.settle();
  }
  return endingsIn(c);
};

describe('a downtime ends each entity as the service up would have (review 293), through the library tick', () => {
  it.each([
    [
      'a node moved to a subscription that ends before its credential and association',
      movedToAShorterSubscription,
      11,
      ['AssociationRevoked association-sa-1 cessationOfOperation', 'CredentialRevoked credential-cred-1 cessationOfOperation'],
    ],
    ['a bootstrap credential valid past its subscription', bootstrapPastItsSubscription, 11, ['CredentialRevoked credential-boot-1 cessationOfOperation']],
    ['a rotation whose overlap ends before the association on the predecessor expires', rotateOne, 31, ['AssociationRevoked association-sa-1 superseded', 'CredentialRevoked credential-cred-1 superseded']],
  ] as const)('%s', async (_name, fleet, firstDeadlinePassed, revoked) => {
    const up = await libraryEndings(fleet, [firstDeadlinePassed, 400]);
    expect(up).toEqual(expect.arrayContaining([...revoked]));
    const down = await libraryEndings(fleet, [400]);
    expect(down).toEqual(up);
  });
});

describe('a downtime ends each entity as the service up would have (review 293), in the live runtime', () => {
  it('revokes the credential and association of a node moved to a subscription that ended meanwhile, as the service up did', async () => {
    const up = await libraryEndings(movedToAShorterSubscription, [11, 400]);
    // The service stopped before the first deadline and started again at day 400: its first expiry tick sees them all.
    const clock = new FakeClock(at(0));
    const c = openCredence({ location: { dir: folder() }, clock });
    open.push(c);
    await movedToAShorterSubscription(c.engine);
    await c.settle();
    clock.set(new Date(at(400)));
    const reported: string[] = [];
    const live = startLive(c, { tickMs: 10, onError: (component, error) => reported.push(`${component}: ${(error as Error).message}`) });
    try {
      await live.start();
      const deadline = Date.now() + 10_000;
      while ((await endingsIn(c)).length < up.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // Let anything still reacting settle before the endings are compared.
      const head = await c.store.headPosition();
      if (head !== undefined) await live.caughtUp(head, 5_000);
      expect(await endingsIn(c)).toEqual(up);
      expect(reported).toEqual([]);
    } finally {
      await live.stop();
    }
  });
});
