/**
 * Review 239: on EventStoreDB a move (a node onto another subscription, machines v7 `currentSubscriptionServes`; an
 * App-ID onto another credential, `currentCredentialHandsOver`) claims what it moves off, and that can end (terminated,
 * revoked) between the claim and the move's own append, which then lands after the end. The claim is the decision's
 * commit point (docs/eventstoredb.md, "Decisions and their facts"), so the history must come out as the serial order
 * "move, then end" does on the embedded store: the end then finds nothing left on what was moved off. These tests hold
 * both serial orders on both stores, and the raced history on the stand-in (the end landed while the reply to the
 * move's claim was held) to the outcome of "move first", cascade and replay included.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { deadLetters } from '../projections/cascade/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { embeddedAndStandInStores } from './support/embedded-and-standin-stores.ts';
import { at, cmd, operator, rejection, T0 } from './support/fleet.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

/** A command as the fixtures build it; the engine parses it. */
type Command = ReturnType<typeof command>;

interface Scenario {
  /** What stands before the move, through a running Credence (its cascade keeps the bookkeeping). */
  readonly given: readonly Command[];
  readonly move: () => Command;
  readonly end: () => Command;
  /** The fact stream the move claims and the end lands on, and the move's own stream (the claim's claimant). */
  readonly movedOff: string;
  readonly mover: string;
  /** The moved entity's change itself, found in the log by type and this data field. */
  readonly moveLanded: { readonly type: string; readonly field: string; readonly value: string };
  readonly outcome: (c: Credence) => Promise<unknown>;
  /** The outcome of each serial order, what the raced history must equal. */
  readonly moveFirst: unknown;
  readonly endFirst: unknown;
}

const state = async (c: Credence, kind: 'credential' | 'association' | 'node' | 'subscription' | 'application', id: string) => {
  const { value, context } = (await c.engine.entity(kind, id)).snapshot;
  return context.revocationReason === undefined ? String(value) : `${String(value)} (${String(context.revocationReason)})`;
};
/** What the two orders can differ in: the entities, the cascade's dead letters, and replay's findings. */
const settled = async (c: Credence, entities: readonly [Parameters<typeof state>[1], string][], more: object = {}) => ({
  ...Object.fromEntries(await Promise.all(entities.map(async ([kind, id]) => [`${kind} ${id}`, await state(c, kind, id)] as const))),
  ...more,
  deadLetters: deadLetters(c.readModels).map((d) => `${d.command} ${d.stream}: ${d.reason}`),
  findings: (await replayAll(c.store)).findings.map((f) => `${f.streamId} ${f.type}: ${f.reason}`),
});

const nodeMove: Scenario = {
  given: [
    cmd.createSubscription('sub-1', at(30)), cmd.createSubscription('sub-2', at(365)), cmd.registerNode(), cmd.enrolNode(),
    cmd.issueCredential('cred-1', 'meter-1', at(30)), cmd.provisionCredential('cred-1'), cmd.configureAssociation(), cmd.establishAssociation('sa-1', at(20)),
  ],
  move: () => cmd.enrolNode('meter-1', 'sub-2'),
  end: () => command('terminateSubscription', { subscriptionId: 'sub-1', reason: 'contract ended' }, { actor: operator }),
  movedOff: 'subscription-sub-1',
  mover: 'node-meter-1',
  moveLanded: { type: 'NodeEnrolled', field: 'subscriptionId', value: 'sub-2' },
  outcome: async (c) =>
    settled(c, [['subscription', 'sub-1'], ['node', 'meter-1'], ['credential', 'cred-1'], ['association', 'sa-1']], {
      'under': (await c.engine.entity('node', 'meter-1')).snapshot.context.subscriptionId,
    }),
  moveFirst: {
    'subscription sub-1': 'revoked', 'node meter-1': 'associated', 'credential cred-1': 'associated', 'association sa-1': 'associated',
    under: 'sub-2', deadLetters: [], findings: [],
  },
  endFirst: {
    'subscription sub-1': 'revoked', 'node meter-1': 'expired', 'credential cred-1': 'revoked (cessationOfOperation)',
    'association sa-1': 'revoked (cessationOfOperation)', under: 'sub-1', deadLetters: [], findings: [],
  },
};

const APP = 'Rbilling';
const appCredential = (credentialId: string) =>
  cmd.issueCredential(credentialId, APP, at(300), { purpose: 'application', owner: { kind: 'app', id: APP } });
const instance = (ae: string): Command[] => [
  cmd.issueCredential(`${ae}-cred`, 'meter-1', at(200), { owner: { kind: 'ae', id: ae, appId: APP } }),
  cmd.provisionCredential(`${ae}-cred`),
  command('configureAssociation', {
    associationId: `sa-${ae}`, nodeId: 'meter-1', credentialId: `${ae}-cred`, registree: { kind: 'ae', id: ae, appId: APP }, registrarCseId: '/in-cse',
  }, { actor: operator }),
  cmd.establishAssociation(`sa-${ae}`),
];

const appIdMove: Scenario = {
  given: [
    cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(),
    command('registerApplication', { appId: APP, name: 'billing', provider: 'City Utilities' }, { actor: operator }),
    appCredential('app-cred-1'), cmd.provisionCredential('app-cred-1'), command('enrolApplication', { appId: APP, credentialId: 'app-cred-1' }, { actor: operator }),
    ...instance('Cbill1'), appCredential('app-cred-2'), cmd.provisionCredential('app-cred-2'),
  ],
  move: () => command('enrolApplication', { appId: APP, credentialId: 'app-cred-2', replaces: 'app-cred-1' }, { actor: operator }),
  end: () => cmd.revokeCredential('app-cred-1', 'keyCompromise'),
  movedOff: 'credential-app-cred-1',
  mover: `application-${APP}`,
  moveLanded: { type: 'ApplicationEnrolled', field: 'credentialId', value: 'app-cred-2' },
  outcome: async (c) =>
    settled(c, [['credential', 'app-cred-1'], ['application', APP], ['association', 'sa-Cbill1']], {
      'enrolled with': (await c.engine.entity('application', APP)).snapshot.context.credentialId ?? null,
    }),
  moveFirst: {
    'credential app-cred-1': 'revoked (keyCompromise)', 'application Rbilling': 'associated', 'association sa-Cbill1': 'associated',
    'enrolled with': 'app-cred-2', deadLetters: [], findings: [],
  },
  endFirst: {
    'credential app-cred-1': 'revoked (keyCompromise)', 'application Rbilling': 'initialized', 'association sa-Cbill1': 'revoked (keyCompromise)',
    'enrolled with': null, deadLetters: [], findings: [],
  },
};

const SCENARIOS: [string, Scenario][] = [
  ['a node moved onto another subscription, its old one terminated', nodeMove],
  ['an App-ID moved onto another credential, its old one revoked for a key compromise', appIdMove],
];

/** A Credence on `store` that has recorded `given` and settled, its cascade then stopped: the orders are the engine's. */
const openGiven = async (store: EventStore, s: Scenario): Promise<Credence> => {
  const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0), store });
  for (const x of s.given) await c.engine.execute(x);
  await c.settle();
  await c.runner.stop();
  return c;
};
/** The cascade over the whole log as stored, then the outcome. */
const afterwards = async (store: EventStore, s: Scenario): Promise<unknown> => {
  const later = openCredence({ location: { memory: true }, clock: new FakeClock(T0), store });
  try {
    await later.settle();
    return await s.outcome(later);
  } finally {
    await later.close();
  }
};

describe.each(SCENARIOS)('%s', (_name, s) => {
  describe.each(embeddedAndStandInStores())('serially, on %s', (_store, open) => {
    it('the move first stands, and the end then finds nothing of the mover on what it ended', async () => {
      const store = await open();
      const c = await openGiven(store, s);
      await c.engine.execute(s.move());
      await c.engine.execute(s.end());
      expect(await afterwards(store, s)).toEqual(s.moveFirst);
    });

    it('the end first refuses the move, and the cascade ends what depended on what was moved off', async () => {
      const store = await open();
      const c = await openGiven(store, s);
      await c.engine.execute(s.end());
      expect((await rejection(c.engine.execute(s.move()))).problem).toMatchObject({ code: 'illegal_transition' });
      expect(await afterwards(store, s)).toEqual(s.endFirst);
    });
  });

  describe('on the eventstoredb adapter, the end landing between the move\'s claim and its append', () => {
    const { startStandIn, hold } = standInTeardown();

    it('comes out as the move first did on the embedded store, cascade and replay included', async () => {
      // The reply to the move's claim on what it moves off is held until another engine has ended that.
      let holdNextReply = false;
      const standIn = await startStandIn({
        appendReplyDelayMs: () => {
          if (!holdNextReply) return 0;
          holdNextReply = false;
          return 3000;
        },
      });
      const store = openEventStoreDbStore(standIn.connectionString);
      const otherStore = hold(openEventStoreDbStore(standIn.connectionString));
      const other = createEngine({ store: otherStore, clock: new FakeClock(T0) });
      const c = await openGiven(store, s);
      await otherStore.readStream(s.movedOff);
      const log = standIn.log;
      let ending: Promise<unknown> | undefined;
      const unlisten = log.onAppend(() => {
        const last = log.all.at(-1);
        if (last?.streamId !== s.movedOff || last.type !== FACT_CLAIM_TYPE) return;
        if ((JSON.parse(Buffer.from(last.data).toString()) as { claimant?: string }).claimant !== s.mover) return;
        unlisten();
        holdNextReply = true;
        ending = other.execute(s.end());
      });
      await c.engine.execute(s.move());
      await ending;
      // The log holds claim, end, move in that order: the interleaving the claim allows.
      const claim = log.all.findIndex((e) => e.streamId === s.movedOff && e.type === FACT_CLAIM_TYPE && Buffer.from(e.data).toString().includes(s.mover));
      const end = log.all.findIndex((e, i) => i > claim && e.streamId === s.movedOff && e.type !== FACT_CLAIM_TYPE);
      const move = log.all.findIndex((e) => e.type === s.moveLanded.type && (JSON.parse(Buffer.from(e.data).toString()) as Record<string, unknown>)[s.moveLanded.field] === s.moveLanded.value);
      expect(claim).toBeGreaterThan(-1);
      expect([claim < end, end < move]).toEqual([true, true]);
      expect(await afterwards(store, s)).toEqual(s.moveFirst);
    });
  });
});
