/**
 * Review 151, finding 1: on EventStoreDB a burst of decisions that read the same fact mostly failed with
 * `concurrency_conflict` (17-21 of 30 enrolments under one subscription, 22 of 30 provisionings), where the embedded
 * store committed them all: the only writes to the fact during the burst were the other decisions' own fact claims,
 * yet each claim refused the next. Claims do not change a fact (every reader passes over them), so a claim that finds
 * only claims since the revision its decision read claims again at the new head; anything else since still refuses
 * the decision, writing nothing of it (docs/eventstoredb.md, "Decisions and their facts").
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import { ExpectedRevision, type EventToAppend } from '../domain/ports/index.ts';
import { replayAll, replayEntity } from '../projections/replay/index.ts';
import { embeddedAndStandInStores } from './support/embedded-and-standin-stores.ts';
import { cmd, T0 } from './support/fleet.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

const BURST = 30;
const nodes = Array.from({ length: BURST }, (_, i) => `meter-${i}`);

const rejections = (settled: readonly PromiseSettledResult<unknown>[]): string[] =>
  settled.flatMap((s) => (s.status === 'rejected' ? [String((s.reason as Error).message)] : []));

describe.each(embeddedAndStandInStores())('%s: a burst of decisions that read one fact', (_name, open) => {
  it(`${BURST} concurrent enrolments under one subscription, then their ${BURST} provisionings, all commit and replay clean`, async () => {
    const store = await open();
    try {
      const engine = createEngine({ store, clock: new FakeClock(T0) });
      await engine.execute(cmd.createSubscription());
      for (const node of nodes) await engine.execute(cmd.registerNode(node));
      expect(rejections(await Promise.allSettled(nodes.map((node) => engine.execute(cmd.enrolNode(node)))))).toEqual([]);
      for (const node of nodes) await engine.execute(cmd.issueCredential(`cred-${node}`, node));
      const provisionings = nodes.map((node) => engine.executeAsInfrastructure(cmd.provisionCredential(`cred-${node}`)));
      expect(rejections(await Promise.allSettled(provisionings))).toEqual([]);
      expect((await replayAll(store)).findings).toEqual([]);
      expect((await replayEntity(store, 'subscription-sub-1')).verdict).toEqual({ ok: true });
    } finally {
      await store.close();
    }
  });
});

/** What lands on the fact between the decision's read of it and its claim. */
const record = (type: string, data: object, metadata: object = {}) => ({
  id: randomUUID(),
  type,
  contentType: 'application/json',
  data: Buffer.from(JSON.stringify(data)),
  customMetadata: Buffer.from(JSON.stringify(metadata)),
});
const otherClaim = () => record(FACT_CLAIM_TYPE, { claimant: 'node-other', commandId: randomUUID() });
const change = () => record('SubscriptionSuspended', { subscriptionId: 'sub-x' });

describe('the eventstoredb adapter on the gRPC stand-in: what lands on a fact between the read and the claim', () => {
  const { startStandIn, hold } = standInTeardown();

  /**
   * Appends `landing` to the fact stream as the decision binds its command id: after every read of the fact the
   * adapter makes before claiming, before the claim (append.ts).
   */
  const decideWhile = async (landing: () => ReturnType<typeof record>[]) => {
    const standIn = await startStandIn();
    const store = hold(openEventStoreDbStore(standIn.connectionString));
    const fact = `subscription-${randomUUID()}`;
    const decision = `node-${randomUUID()}`;
    const commandId = randomUUID();
    await store.appendToStream(fact, [{ id: randomUUID(), type: 'SubscriptionCreated', data: {}, metadata: {} }], { expectedRevision: ExpectedRevision.noStream });
    const log = standIn.log;
    const stop = log.onAppend(() => {
      if (log.all.at(-1)?.streamId !== `credence-command-${commandId}`) return;
      stop();
      log.append(fact, { kind: 'any' }, landing());
    });
    const event: EventToAppend = { id: randomUUID(), type: 'NodeEnrolled', data: {}, metadata: {} };
    const outcome = store
      .appendToStream(decision, [event], { expectedRevision: ExpectedRevision.noStream, commandId, facts: [{ streamId: fact, revision: 0n }] })
      .then((result) => ({ result }), (error: unknown) => ({ error }));
    return { outcome: await outcome, fact: (await store.readStream(fact)).map((r) => r.type), decision: await store.readStream(decision) };
  };

  it('only other decisions claims: the decision claims at the new head and commits', async () => {
    const { outcome, fact, decision } = await decideWhile(() => [otherClaim(), otherClaim()]);
    expect(outcome).toMatchObject({ result: { deduplicated: false } });
    expect(fact).toEqual(['SubscriptionCreated', FACT_CLAIM_TYPE, FACT_CLAIM_TYPE, FACT_CLAIM_TYPE]);
    expect(decision.map((r) => r.type)).toEqual(['NodeEnrolled']);
  });

  it.each([
    ['a command id and a fact', { commandId: randomUUID(), facts: [{ streamId: 'node-absent', revision: undefined }] }],
    ['a command id', { commandId: randomUUID() }],
    ['neither', {}],
  ])('only claims on the decision\'s own stream since its read (a fact of others), with %s: appended at its head', async (_label, options) => {
    const standIn = await startStandIn();
    const store = hold(openEventStoreDbStore(standIn.connectionString));
    const own = `subscription-${randomUUID()}`;
    const fresh = `subscription-${randomUUID()}`;
    const event = (): EventToAppend => ({ id: randomUUID(), type: 'SubscriptionTerminated', data: {}, metadata: {} });
    await store.appendToStream(own, [event()], { expectedRevision: ExpectedRevision.noStream });
    // A stream holding only claims is an entity that does not exist: a decision that read no stream goes on too.
    for (const streamId of [own, fresh]) standIn.log.append(streamId, { kind: 'any' }, [otherClaim(), otherClaim()]);
    const onOwn = await store.appendToStream(own, [event()], { ...options, expectedRevision: ExpectedRevision.exact(0n) });
    const onFresh = await store.appendToStream(fresh, [event()], { ...options, ...('commandId' in options ? { commandId: randomUUID() } : {}), expectedRevision: ExpectedRevision.noStream });
    expect([onOwn, onFresh]).toMatchObject([{ nextExpectedRevision: 3n, deduplicated: false }, { nextExpectedRevision: 2n, deduplicated: false }]);
  });

  it.each([
    ['a change of the fact', () => [change()]],
    ['a claim, then a change of the fact', () => [otherClaim(), change()]],
    ['a malformed claim (every reader refuses it)', () => [record(FACT_CLAIM_TYPE, { claimant: 'node-other' })]],
    ['a claim-typed event a command appended (it carries the command marker)', () => [
      record(FACT_CLAIM_TYPE, { claimant: 'node-other', commandId: 'c' }, { $credence: { commandId: 'c', attempt: 'a' } }),
    ]],
  ])('%s: refused with concurrency_conflict, nothing of the decision written', async (_label, landing) => {
    const { outcome, decision } = await decideWhile(landing);
    expect('error' in outcome && isCredenceError(outcome.error, 'concurrency_conflict')).toBe(true);
    expect(decision).toEqual([]);
  });
});
