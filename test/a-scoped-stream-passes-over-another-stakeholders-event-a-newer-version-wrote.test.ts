import { randomUUID } from 'node:crypto';
import { firstValueFrom, toArray, type Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { hmacSha256 } from '../domain/crypto/index.ts';
import { ExpectedRevision, type EventStore, type StoreSubscription } from '../domain/ports/event-store.ts';
import { decodeStored } from '../domain/stored.ts';
import { parseStreamId } from '../domain/streams.ts';
import {
  IDENTITY_EVENT_TYPES,
  PseudonymDeriver,
  PublicIdentities,
  publicLifecycle,
  scopeFilter,
  type PublicEvent,
  type PublicScope,
} from '../projections/pseudonyms/index.ts';
import { NewerEventError, publicEvents$ } from '../projections/streams/index.ts';
import { at, cmd, fixture, operator } from './support/fleet.ts';
import { twoStakeholderFleet } from './support/two-stakeholder-fleet.ts';

/*
 * Review 123: a scoped pseudonymised stream passed over undecoded only the subscription streams outside its scope
 * (review 120); a node, credential, association or application event of another stakeholder was still decoded, so
 * one a newer version wrote ended the scoped integrator's stream at it, naming its position, on every reconnect until
 * the server was upgraded. Now the scope is told before decoding wherever its rule can tell from the stream's entity
 * and the identity fold (scope-rules.ts, `leavesOut`), and what it passes over is exactly what it would have left out.
 */

const scope = (s: { subscriptions?: string[]; appIds?: string[] }): PublicScope => s as PublicScope;
const deriver = new PseudonymDeriver({ prf: async (m) => hmacSha256(new Uint8Array(32).fill(0x23), m) });

/** What a live stream delivered until `done` says enough, or how it ended. */
const deliveries = (events: Observable<PublicEvent>, done: (values: PublicEvent[]) => boolean): Promise<{ values: PublicEvent[]; error: unknown }> =>
  new Promise((resolve) => {
    const values: PublicEvent[] = [];
    const subscription = events.subscribe({
      next: (value) => {
        values.push(value);
        if (done(values)) {
          resolve({ values, error: undefined });
          queueMicrotask(() => subscription.unsubscribe());
        }
      },
      error: (error: unknown) => resolve({ values, error }),
    });
  });

describe("a stream scoped to sub-a, given a newer version's copy of sub-b's credential event", () => {
  const { store, engine } = fixture();
  let tooNew: bigint;
  let enrolled: bigint;

  beforeAll(async () => {
    for (const step of [
      cmd.createSubscription('sub-a'),
      cmd.createSubscription('sub-b'),
      cmd.registerNode('meter-a'),
      cmd.registerNode('meter-b'),
      cmd.enrolNode('meter-b', 'sub-b'),
      cmd.issueCredential('cred-b', 'meter-b'),
      cmd.provisionCredential('cred-b'),
    ]) {
      await engine.execute(step);
    }
    const [, provisioned] = await store.readStream('credential-cred-b');
    expect(provisioned!.type).toBe('CredentialProvisioned');
    const copy = { id: randomUUID(), type: provisioned!.type, data: provisioned!.data, metadata: { ...provisioned!.metadata, commandId: randomUUID(), schemaVersion: 99 } };
    tooNew = (await store.appendToStream('credential-cred-b', [copy], { expectedRevision: ExpectedRevision.exact(provisioned!.revision) })).position;
    enrolled = (await engine.execute(cmd.enrolNode('meter-a', 'sub-a'))).events.find((e) => e.type === 'NodeEnrolled')!.position;
  });

  it("passes over it and delivers sub-a's NodeEnrolled after it", async () => {
    const stream = publicEvents$(store, deriver, {}, { scope: scope({ subscriptions: ['sub-a'] }) });
    const { values, error } = await deliveries(stream, (v) => v.some((e) => e.position >= enrolled));
    expect(error).toBeUndefined();
    expect(tooNew).toBeLessThan(enrolled);
    expect(values.map((e) => [e.type, e.position])).toEqual([
      ['SubscriptionCreated', 1n],
      ['NodeEnrolled', enrolled],
    ]);
  });

  it('still ends a stream whose scope holds the event before it, naming its position', async () => {
    const stream = publicEvents$(store, deriver, {}, { scope: scope({ subscriptions: ['sub-b'] }) });
    const { values, error } = await deliveries(stream, (v) => v.some((e) => e.position >= tooNew));
    expect(error).toBeInstanceOf(NewerEventError);
    expect((error as NewerEventError).position).toBe(tooNew);
    expect(values.map((e) => e.type)).toEqual(['SubscriptionCreated', 'NodeEnrolled', 'CredentialIssued', 'CredentialProvisioned']);
  });
});

/** The store, but its subscriptions end at the head: a live stream over it completes, so it can be compared whole. */
const endingAtTheHead = (store: EventStore): EventStore =>
  Object.assign(Object.create(store) as EventStore, {
    subscribeToAll: (options: Parameters<EventStore['subscribeToAll']>[0]): StoreSubscription => {
      const after = options.from.kind === 'after' ? { afterPosition: options.from.position } : {};
      const records = store.readAll({ ...after, ...(options.filter === undefined ? {} : { filter: options.filter }) });
      return { [Symbol.asyncIterator]: () => records[Symbol.asyncIterator](), unsubscribe: async () => undefined };
    },
  });

const SCOPES = [
  { subscriptions: ['sub-01'] },
  { subscriptions: ['sub-09'] },
  { subscriptions: ['sub-01', 'sub-09'] },
  { appIds: ['Rapp01'] },
  { appIds: ['Rapp09'] },
  { subscriptions: ['sub-01'], appIds: ['Rapp09'] },
  { subscriptions: ['sub-09'], appIds: ['Rapp01'] },
];

describe('what a scoped stream passes over before decoding, on a fleet with moves, re-enrolments and rotations', () => {
  let c: Credence;

  beforeAll(async () => {
    c = await twoStakeholderFleet();
    // On top of the two stakeholders' fleet (a move of mover-08 to sub-09, an AE credential two subscriptions' nodes
    // used, pseudonym rotations on association): mover-08 moves back, meter-01 is enrolled again twice under sub-01 (a
    // renumbering and back: one under the CSE-ID it holds changes nothing and is refused, review 295), its credential and
    // mover-08's are rotated (an association established on meter-01's successor, mover-08's rotation abandoned after
    // another move).
    for (const step of [
      cmd.enrolNode('mover-08', 'sub-01'),
      command('enrolNode', { nodeId: 'meter-01', subscriptionId: 'sub-01', cseId: '/cse-meter-01-renumbered' }, { actor: operator }),
      cmd.enrolNode('meter-01', 'sub-01'),
      cmd.issueCredential('meter-01-cred-2', 'meter-01', at(120), { predecessorId: 'meter-01-cred' }),
      cmd.startCredentialRotation(at(30), 'meter-01-cred', 'meter-01-cred-2'),
      cmd.provisionCredential('meter-01-cred-2'),
      cmd.configureAssociation('meter-01-sa-2', 'meter-01-cred-2', 'meter-01'),
      cmd.establishAssociation('meter-01-sa-2', at(40)),
      cmd.provisionCredential('mover-08-cred-2'),
      cmd.issueCredential('mover-08-cred-3', 'mover-08', at(120), { predecessorId: 'mover-08-cred-2' }),
      cmd.startCredentialRotation(at(30), 'mover-08-cred-2', 'mover-08-cred-3'),
      cmd.enrolNode('mover-08', 'sub-09'),
      command('abandonCredentialRotation', { credentialId: 'mover-08-cred-2', successorId: 'mover-08-cred-3' }, { actor: operator }),
      cmd.provisionCredential('mover-08-cred-3'),
    ]) {
      await c.engine.execute(step);
      await c.settle();
    }
  }, 60_000);
  afterAll(async () => {
    await c?.close();
  });

  it('leaves out only events the scope rule, once the fold observed them, leaves out', async () => {
    const filters = SCOPES.map((s) => scopeFilter(scope(s)));
    const folded = new Set<string>(IDENTITY_EVENT_TYPES);
    const fold = new PublicIdentities();
    let asked = 0;
    let leftOut = 0;
    const types = new Set<string>();
    for await (const record of c.store.readAll()) {
      const decoded = decodeStored(record);
      if (!decoded.ok) continue;
      types.add(record.type);
      const ref = parseStreamId(record.streamId)!;
      const before = folded.has(record.type) ? undefined : filters.map((f) => f.leavesOut(ref.kind, ref.id, record.type, fold));
      fold.observe(decoded.value.event);
      if (before === undefined) continue;
      filters.forEach((f, i) => {
        asked++;
        if (!before[i]) return;
        leftOut++;
        expect(f.admits(decoded.value.event, fold), `${record.type} at ${record.position}, scope ${JSON.stringify(SCOPES[i])}`).toBe(false);
      });
    }
    // Not vacuous: the fleet has what the fold follows, and much of the other stakeholders' events is told apart.
    expect([...types]).toEqual(expect.arrayContaining(['CredentialRotationStarted', 'CredentialRotationAbandoned', 'PseudonymRotated', 'CredentialAssociated', 'ApplicationInstanceAssociated']));
    expect(leftOut).toBeGreaterThan(asked / 4);
  });

  it('delivers, for every scope, what the stream decoding every event delivers', async () => {
    const store = endingAtTheHead(c.store);
    for (const s of SCOPES) {
      const decodingAll = await firstValueFrom(publicLifecycle(c.store, c.pseudonyms!.deriver, { live: false, scope: scope(s) }).pipe(toArray()));
      const passingOver = await firstValueFrom(publicEvents$(store, c.pseudonyms!.deriver, {}, { scope: scope(s) }).pipe(toArray()));
      expect(decodingAll.length, JSON.stringify(s)).toBeGreaterThan(0);
      expect(passingOver, JSON.stringify(s)).toEqual(decodingAll);
    }
  });
});
