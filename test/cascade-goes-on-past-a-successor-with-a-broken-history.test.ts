import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command, type CommandType } from '../domain/commands/index.ts';
import type { DecodedEvent } from '../domain/stored.ts';
import { BrokenHistoryError } from '../machines/index.ts';
import { deadLetters, reactionsTo } from '../projections/cascade/index.ts';
import { reactionContextOf } from './support/reaction-context.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';
import { tamper } from './support/tampered-log.ts';

/*
 * Found in review: the cascade looks up an App-ID's rotation successor to decide whether its enrolment moves onto it.
 * When that successor's history was broken, the lookup threw and every reaction to the predecessor's end became one
 * dead letter: its association configured and never established stayed configured on an ended credential, and the
 * App-ID stayed enrolled with it. Now only what depends on the broken stream is a dead letter (naming it); a
 * successor that cannot be read is not one to move onto, so the enrolment ends.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const APP = 'Rbilling';
const appCredential = (credentialId: string, extra: Record<string, unknown> = {}) =>
  cmd.issueCredential(credentialId, APP, at(30), { purpose: 'application', owner: { kind: 'app', id: APP }, ...extra });

/**
 * Rbilling enrolled with app-cred (to day 30), sa-ae configured on it and never established, a rotation to app-cred-2
 * whose overlap ends on day 20, and then app-cred-2's stream broken (provisioned twice). With `first`, it is recorded
 * (no projection running) before the stream is broken, and the projections run on the log from a fresh start after:
 * a revocation as superseded reads the successor (`handedOver`, HLR-212, review 31), which a broken history refuses.
 */
const brokenSuccessor = async (first?: (c: Credence) => Promise<unknown>) => {
  const clock = new FakeClock(T0);
  const c = (credence = openCredence({ location: { memory: true }, clock }));
  const op = (type: CommandType, data: Record<string, unknown>) => c.engine.execute(command(type, data, { actor: operator }));
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await c.engine.execute(x);
  await op('registerApplication', { appId: APP, name: 'billing', provider: 'City Utilities' });
  await c.engine.execute(appCredential('app-cred'));
  await c.engine.execute(cmd.provisionCredential('app-cred'));
  await op('enrolApplication', { appId: APP, credentialId: 'app-cred' });
  await op('configureAssociation', {
    associationId: 'sa-ae', nodeId: 'meter-1', credentialId: 'app-cred', registree: { kind: 'ae', id: 'Cbill', appId: APP }, registrarCseId: '/in-cse',
  });
  await c.engine.execute(appCredential('app-cred-2', { predecessorId: 'app-cred' }));
  await c.engine.execute(cmd.provisionCredential('app-cred-2'));
  await op('startCredentialRotation', { credentialId: 'app-cred', successorId: 'app-cred-2', overlapEndsAt: at(20) });
  await c.settle();
  if (first === undefined) {
    await tamper(c, 'credential-app-cred-2', 'CredentialProvisioned', { credentialId: 'app-cred-2', method: 'pre-provisioning' });
    return { c, clock };
  }
  await c.runner.stop();
  await first(c);
  await tamper(c, 'credential-app-cred-2', 'CredentialProvisioned', { credentialId: 'app-cred-2', method: 'pre-provisioning' });
  const later = (credence = openCredence({ location: { memory: true }, clock, store: c.store }));
  await later.settle();
  return { c: later, clock };
};
const supersede = (c: Credence) => c.engine.execute(cmd.revokeCredential('app-cred', 'superseded'));

const state = async (c: Credence, kind: 'credential' | 'association' | 'application', id: string) => (await c.engine.entity(kind, id)).snapshot;

/** `reason`: the association's, which is the credential's revocation reason, or cessation when it expired. */
const expectTheRestWentOn = async (c: Credence, eventType: string, reason: string) => {
  const association = await state(c, 'association', 'sa-ae');
  expect([association.value, association.context.revocationReason]).toEqual(['revoked', reason]);
  // Not moved onto a credential whose history nobody can vouch for: ended, as for a successor not held.
  const app = await state(c, 'application', APP);
  expect([app.value, app.context.credentialId]).toEqual(['initialized', undefined]);
  expect(deadLetters(c.readModels).map((d) => [d.eventType, d.command, d.target])).toEqual([[eventType, '(lookup)', 'credential-app-cred-2']]);
  expect(deadLetters(c.readModels)[0]!.reason).toContain('credential-app-cred-2 has a broken history');
};

describe("a successor with a broken history takes only what depends on it into the dead letters", () => {
  it('the predecessor expiring revokes its unestablished association and ends the App-ID\'s enrolment', async () => {
    const { c, clock } = await brokenSuccessor();
    clock.set(at(31));
    // The scheduler reports the deadlines it cannot handle for the broken stream, having handled the others.
    for (let round = 0; round < 2; round++) {
      await expect(c.tick()).rejects.toThrow(/could not be handled.*credential-app-cred-2 has a broken history/);
      await c.settle();
    }
    expect((await state(c, 'credential', 'app-cred')).value).toBe('expired');
    await expectTheRestWentOn(c, 'CredentialExpired', 'cessationOfOperation');
  });

  it('the predecessor revoked as superseded does the same', async () => {
    const { c } = await brokenSuccessor(supersede);
    await expectTheRestWentOn(c, 'CredentialRevoked', 'superseded');
  });

  it('a rebuild of the cascade finds it all done and leaves the same dead letter', async () => {
    const { c } = await brokenSuccessor(supersede);
    const before = await c.store.headPosition();
    await c.runner.rebuild('cascade');
    await c.settle();
    expect(await c.store.headPosition()).toBe(before);
    await expectTheRestWentOn(c, 'CredentialRevoked', 'superseded');
  });
});

describe('reactions are worked out dependent by dependent', () => {
  const ended = (type: 'CredentialExpired' | 'CredentialRevoked') =>
    ({ record: { streamId: 'credential-c1' }, event: { type, data: { credentialId: 'c1', reason: 'superseded' } } }) as unknown as DecodedEvent;
  const broken = (streamId: string) => new BrokenHistoryError(streamId, 7n, 'provisioned twice');
  const context = reactionContextOf;

  it('an App-ID whose successor cannot be read ends its enrolment; another App-ID still moves onto its own', async () => {
    const ctx = context({
      applicationsEnrolledWith: () => ['A', 'B'],
      successorInUse: async (_credentialId, appId) => {
        if (appId === 'A') throw broken('credential-a2');
        return 'b2';
      },
    });
    for (const type of ['CredentialExpired', 'CredentialRevoked'] as const) {
      const outcomes = await reactionsTo(ended(type), ctx);
      expect(outcomes.flatMap((o) => ('unresolved' in o ? [o.unresolved.streamId] : []))).toEqual(['credential-a2']);
      expect(outcomes.flatMap((o) => ('type' in o ? [[o.type, o.data['appId'], o.data['credentialId']]] : []))).toEqual([
        ['endApplicationEnrolment', 'A', 'c1'],
        ['enrolApplication', 'B', 'b2'],
      ]);
    }
  });

  it("an association that cannot be read is its own dead letter; the credential's other unestablished ones are revoked", async () => {
    const ctx = context({
      dependents: (_parent, relation) => (relation === 'association-of-credential' ? ['association-a1', 'association-a2', 'association-a3'] : []),
      association: async (id) => {
        if (id === 'a1') throw broken('association-a1');
        return { established: id === 'a3' };
      },
    });
    const outcomes = await reactionsTo(ended('CredentialExpired'), ctx);
    expect(outcomes.flatMap((o) => ('unresolved' in o ? [o.unresolved.streamId] : []))).toEqual(['association-a1']);
    expect(outcomes.flatMap((o) => ('type' in o ? [[o.type, o.data['associationId']]] : []))).toEqual([['revokeAssociation', 'a2']]);
  });

  it('any other failure of a lookup is no dependent of its own, and is thrown', async () => {
    const ctx = context({ applicationsEnrolledWith: () => ['A'], successorInUse: async () => Promise.reject(new Error('store unreachable')) });
    await expect(reactionsTo(ended('CredentialExpired'), ctx)).rejects.toThrow('store unreachable');
  });
});
