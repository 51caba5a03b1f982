import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command, type CommandType } from '../domain/commands/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { replayAll } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Review 197 F1 (seed 003 11.2.1: M2M service provisioning assumes an M2M service subscription). An operator's
 * credential and association were not cut to the end of their node's subscription, as remote provisioning and the
 * Registrar cut theirs: sub-1 ending at +1 day, cred-1 valid to +3 days, sa-1 to +2 days. With the service up the
 * lapse's cascade revoked them (cessationOfOperation, on the CRL); after a downtime one tick expired them first, and
 * cred-1 never reached a CRL. Now neither is provisioned or established past the subscription's end
 * (endsWithinSubscription), so a lapse and an expiry coincide and downtime changes nothing.
 */

const APP = 'Rbilling';
const op = (engine: Pick<Engine, 'execute'>, type: CommandType, data: Record<string, unknown>) => engine.execute(command(type, data, { actor: operator }));

/** meter-1 enrolled under sub-1, which ends at +1 day. */
const underShortSubscription = async (engine: Pick<Engine, 'execute'>) => {
  for (const c of [cmd.createSubscription('sub-1', at(1)), cmd.registerNode(), cmd.enrolNode()]) await engine.execute(c);
};

/**
 * meter-1's cred-1 valid to +`days` days, issued while meter-1 was registered only, then meter-1 enrolled under sub-1:
 * issued while enrolled, one past the end is refused at issue (review 205), and provisioning is what is proved here.
 */
const issuedThenUnderShortSubscription = async (engine: Pick<Engine, 'execute'>, days: number) => {
  for (const c of [cmd.createSubscription('sub-1', at(1)), cmd.registerNode(), cmd.issueCredential('cred-1', 'meter-1', at(days)), cmd.enrolNode()]) await engine.execute(c);
};

/** An App-ID's credential (not held to the node's subscription) valid to +3 days, and an AE association on it configured. */
const aeConfigured = async (engine: Pick<Engine, 'execute'>) => {
  await op(engine, 'registerApplication', { appId: APP, name: 'billing', provider: 'City Utilities' });
  await engine.execute(cmd.issueCredential('app-cred', APP, at(3), { purpose: 'application', owner: { kind: 'app', id: APP } }));
  await engine.execute(cmd.provisionCredential('app-cred'));
  await op(engine, 'enrolApplication', { appId: APP, credentialId: 'app-cred' });
  await op(engine, 'configureAssociation', {
    associationId: 'sa-ae', nodeId: 'meter-1', credentialId: 'app-cred', registree: { kind: 'ae', id: 'Cbill', appId: APP }, registrarCseId: '/in-cse',
  });
};

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

/** False when the engine refused the step (nothing put into service to end); the refusal is the other tests'. */
const accepted = async (step: Promise<unknown>): Promise<boolean> => {
  try {
    await step;
    return true;
  } catch (error) {
    if (isCredenceError(error) && error.problem.code === 'illegal_transition') return false;
    throw error;
  }
};

/** How cred-1 and sa-1 end when the scheduler ticks on `days`, given their validity: [state, reason] of each. */
const endings = async (credentialDays: number, associationDays: number, ticks: readonly number[]) => {
  const clock = new FakeClock(T0);
  const c = (credence = openCredence({ location: { memory: true }, clock }));
  await issuedThenUnderShortSubscription(c.engine, credentialDays);
  const provisioned = await accepted(c.engine.execute(cmd.provisionCredential('cred-1')));
  if (provisioned) {
    await c.engine.execute(cmd.configureAssociation('sa-1', 'cred-1'));
    await accepted(c.engine.execute(cmd.establishAssociation('sa-1', at(associationDays))));
  }
  await c.settle();
  for (const day of ticks) {
    clock.set(new Date(at(day)));
    await c.tick();
    await c.settle();
  }
  const ending = async (kind: 'credential' | 'association', id: string) => {
    const { snapshot } = await c.engine.entity(kind, id);
    return [String(snapshot.value), snapshot.context.revocationReason];
  };
  // Only what was put into service is compared: a credential issued and never provisioned (refused) is outside this
  // rule (provisioning), and its ending is reported as a residual of review 197, not proved here.
  const result = provisioned ? { provisioned, credential: await ending('credential', 'cred-1'), association: await ending('association', 'sa-1') } : { provisioned };
  await c.close();
  credence = undefined;
  return result;
};

describe('a credential or association past the end of its subscription', () => {
  it("refuses an operator's provisioning past the subscription's end, naming both instants and what to do, and writes nothing", async () => {
    const f = { store: openSqliteStore({ memory: true }), clock: new FakeClock(T0) };
    const engine = createEngine(f);
    await issuedThenUnderShortSubscription(engine, 3);
    const before = await footprint(f.store);
    const error = await rejection(engine.execute(cmd.provisionCredential('cred-1')));
    expect(await footprint(f.store)).toEqual(before);
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'initialized', attempted: 'CredentialProvisioned', rule: 'endsWithinSubscription' });
    expect(error.message).toContain(`notAfter ${at(3)}`);
    expect(error.message).toContain(`subscription sub-1 ends at ${at(1)}`);
    expect(error.message).toContain(`revoke cred-1 and issue a successor on a new key with notAfter at or before ${at(1)}`);
  });

  it('refuses an association established past its subscription\'s end, and writes nothing', async () => {
    const f = { store: openSqliteStore({ memory: true }), clock: new FakeClock(T0) };
    const engine = createEngine(f);
    await underShortSubscription(engine);
    await aeConfigured(engine);
    const before = await footprint(f.store);
    const error = await rejection(engine.execute(cmd.establishAssociation('sa-ae', at(2))));
    expect(await footprint(f.store)).toEqual(before);
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'initialized', attempted: 'AssociationEstablished', rule: 'endsWithinSubscription' });
    expect(error.message).toContain(`expires at ${at(2)}`);
    expect(error.message).toContain(`subscription sub-1 ends at ${at(1)}`);
  });

  it.each([
    ['the review\'s repro: cred-1 to +3 days, sa-1 to +2 days', 3, 2],
    ["cut to the subscription's end: cred-1 to +1 day, sa-1 to 23 h", 1, 23 / 24],
  ])('ends the same with the service up and after a downtime, whatever the engine accepts (%s)', async (_name, credentialDays, associationDays) => {
    const live = await endings(credentialDays, associationDays, [1, 2, 3]);
    const downtime = await endings(credentialDays, associationDays, [10]);
    expect(downtime).toEqual(live);
  }, 30_000);

  it('is flagged by replay in a history stored before the rule, as a finding by a rule newer than the event', async () => {
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await issuedThenUnderShortSubscription(engine, 3);
    // What v3 stored: provisioned (and established) past the subscription's end.
    await forge(store, 'credential-cred-1', 'CredentialProvisioned', { credentialId: 'cred-1', method: 'pre-provisioning' }, T0);
    await aeConfigured(engine);
    await forge(store, 'association-sa-ae', 'AssociationEstablished', { associationId: 'sa-ae', expiresAt: at(2) }, T0);
    const { findings } = await replayAll(store);
    expect(findings.map((f) => [f.streamId, f.type, f.rule, f.ruleSince])).toEqual([
      ['credential-cred-1', 'CredentialProvisioned', 'endsWithinSubscription', 'credence:machines:v4'],
      ['association-sa-ae', 'AssociationEstablished', 'endsWithinSubscription', 'credence:machines:v4'],
    ]);
    for (const f of findings) expect(f.reason).toContain('(rule since credence:machines:v4: an event stored by an earlier version may break it');
  });
});
