/**
 * Review 342: the rules review 186 and the revocation review gave NEW commands (free text and the correlation and
 * causation ids visible text on one line, rule `printable`; a profile naming each capability once, rule
 * `repeated_capability`; no certificateHold or aACompromise, rule `new_revocation_reason`) were applied where a command
 * was parsed, before its id was looked for. A command an earlier version recorded breaking one of them, retried under
 * its recorded id (its answer lost), was refused 400 instead of answered with its first outcome, as docs/service.md
 * "Idempotency" promises. Like the lower-case id (reviews 86 and 186: new-command-id.ts), they are now judged only once
 * the id was not found: a retry is answered, a new command breaking them is still refused by the same rule, nothing
 * written.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { COMMAND_CATALOG, targetOf, type Command, type CommandType } from '../domain/commands/index.ts';
import { eventIdFor } from '../domain/event-ids.ts';
import type { Actor } from '../domain/metadata.ts';
import { ExpectedRevision, type EventStore } from '../domain/ports/index.ts';
import { streamIdOf } from '../domain/streams.ts';
import { currentVersionOf } from '../domain/upcasters.ts';
import { embeddedAndStandInStores } from './support/embedded-and-standin-stores.ts';
import { cmd, establishOne, footprint, operator, profile, rejection, T0 } from './support/fleet.ts';
import { settled } from './http-sse.fixtures.ts';
import { startTestService } from './support/service.ts';

/** A command as its sender sent it, with the id (and correlation id) it was recorded under. */
interface Sent {
  readonly type: CommandType;
  readonly data: Record<string, unknown>;
  readonly metadata: { readonly actor: Actor; readonly commandId: string; readonly correlationId?: string };
}

/**
 * `sent` recorded as a version before the rule stored it (`claimed` false: without the append's command id, so no
 * EventStoreDB claim `credence-command-<id>` and no row of command ids, as a log written before claims reads): its event (a command's event is its data) under its id, with
 * its correlation id as sent, never parsed by today's command schema (which would refuse it). Answers its stream.
 */
const recordedByAnEarlierVersion = async (store: EventStore, sent: Sent, claimed = true): Promise<string> => {
  const { kind, id } = targetOf(sent as unknown as Command);
  const streamId = streamIdOf(kind, id);
  const { commandId, actor, correlationId } = sent.metadata;
  const event = COMMAND_CATALOG[sent.type].event;
  const [last] = (await store.readStream(streamId)).slice(-1);
  await store.appendToStream(
    streamId,
    [{
      id: eventIdFor(commandId, 0),
      type: event,
      data: sent.data as never,
      metadata: {
        schemaVersion: currentVersionOf(event),
        actor,
        commandId,
        commandType: sent.type,
        correlationId: correlationId ?? commandId,
        causationId: commandId,
        occurredAt: T0,
      } as never,
    }],
    claimed ? { expectedRevision: ExpectedRevision.after(last?.revision), commandId } : { expectedRevision: ExpectedRevision.after(last?.revision) },
  );
  return streamId;
};

const sent = (type: CommandType, data: Record<string, unknown>, actor: Actor, correlationId?: string): Sent => ({
  type,
  data,
  metadata: { actor, commandId: randomUUID(), ...(correlationId !== undefined ? { correlationId } : {}) },
});

/** Each rule a new command now obeys, with a command an earlier version recorded breaking it, the path and the state after it. */
const RULES: readonly { rule: string; path: string; state: string; command: (actor: Actor) => Sent }[] = [
  { rule: 'printable', path: 'metadata.correlationId', state: 'initialized', command: (a) => sent('registerNode', { nodeId: 'n9', profile }, a, 'case\u0007 42') },
  {
    rule: 'printable',
    path: 'data.profile.manufacturer',
    state: 'initialized',
    command: (a) => sent('registerNode', { nodeId: 'n9', profile: { ...profile, manufacturer: '\u202eAcme' } }, a),
  },
  {
    rule: 'repeated_capability',
    path: 'data.profile.capabilities.1',
    state: 'initialized',
    command: (a) => sent('registerNode', { nodeId: 'n9', profile: { ...profile, capabilities: ['metering', 'metering'] } }, a),
  },
  { rule: 'new_revocation_reason', path: 'data.reason', state: 'revoked', command: (a) => sent('revokeCredential', { credentialId: 'cred-1', reason: 'certificateHold' }, a) },
];

const stores = embeddedAndStandInStores();

describe.each(stores)('a command an earlier version recorded breaking a rule of new commands, on %s', (_name, open) => {
  it.each(RULES)('$path ($rule): retried under its id, it is its first outcome and nothing is written; sent new, it is refused by the rule', async ({ rule, path, state, command: make }) => {
    // Given a live credential cred-1 on meter-1, and the command recorded as an earlier version stored it
    const store = await open();
    await establishOne(createEngine({ store, clock: new FakeClock(T0) }));
    const earlier = make(operator);
    const streamId = await recordedByAnEarlierVersion(store, earlier);
    const [recorded] = (await store.readStream(streamId)).slice(-1);
    const before = await footprint(store);

    // When the client retries it under the id it sent it with (a new process: nothing cached)
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    const again = await engine.execute(earlier);

    // Then it is answered with its first outcome, and nothing is written
    expect(again).toEqual({ commandId: earlier.metadata.commandId, streamId, state, events: [recorded], deduplicated: true });
    expect(await footprint(store)).toEqual(before);

    // And the same command under a new id is a new command: refused by the rule, nothing written
    const fresh = { ...earlier, metadata: { ...earlier.metadata, commandId: randomUUID() } };
    const error = await rejection(engine.execute(fresh));
    expect(error.problem).toMatchObject({ code: 'validation', issues: [{ path, rule }] });
    expect(await footprint(store)).toEqual(before);
  });
});

describe.each(stores)('a registration an earlier version recorded before command-id claims existed, on %s', (_name, open) => {
  it('retried under its id on a new engine (assumed new without a read), it is its first outcome; sent new, refused repeated_capability', async () => {
    // Review 359: a starting command on a first attempt assumes its target new without reading it, and on EventStoreDB
    // only the claim stream was asked where the id went: an id recorded before claims has none, and was refused 400.
    // Given node-n9 registered with a capability twice, its command id in its metadata only (no claim, no index row)
    const store = await open();
    await establishOne(createEngine({ store, clock: new FakeClock(T0) }));
    const earlier = sent('registerNode', { nodeId: 'n9', profile: { ...profile, capabilities: ['metering', 'metering'] } }, operator);
    const streamId = await recordedByAnEarlierVersion(store, earlier, false);
    expect(await store.commandStream?.(earlier.metadata.commandId)).toBeUndefined();
    const [recorded] = (await store.readStream(streamId)).slice(-1);
    const before = await footprint(store);

    // When the client retries it under that id on a new engine (nothing cached)
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    const again = await engine.execute(earlier);

    // Then it is its first outcome, and nothing is written
    expect(again).toEqual({ commandId: earlier.metadata.commandId, streamId, state: 'initialized', events: [recorded], deduplicated: true });
    expect(await footprint(store)).toEqual(before);

    // And the same command under a new id is refused by the rule, nothing written
    const fresh = { ...earlier, metadata: { ...earlier.metadata, commandId: randomUUID() } };
    const error = await rejection(engine.execute(fresh));
    expect(error.problem).toMatchObject({ code: 'validation', issues: [{ path: 'data.profile.capabilities.1', rule: 'repeated_capability' }] });
    expect(await footprint(store)).toEqual(before);
  });
});

describe('over HTTP', () => {
  it('POST /v1/commands of a recorded command breaking a rule of new commands answers 200 with its first outcome; under a new id 400', async () => {
    const svc = await startTestService();
    try {
      const post = (payload: unknown) =>
        fetch(new URL('/v1/commands', svc.url), { method: 'POST', headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' }, body: JSON.stringify(payload) });
      for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) {
        expect((await post({ type: c.type, data: c.data })).status, c.type).toBe(201);
      }
      const store = svc.service.context.credence.store;
      const tokenActor: Actor = { id: 'test-operator', role: 'operator' };
      for (const [n, { rule, path, command: make }] of RULES.entries()) {
        // Each registration its own node (n9 once per rule); the revocation meter-1's (a credential needs the service's CA).
        const made = make(tokenActor);
        const earlier: Sent =
          made.type === 'registerNode'
            ? { ...made, data: { ...made.data, nodeId: `n9-${n}` } }
            : { ...made, type: 'revokeNode', data: { nodeId: 'meter-1', reason: made.data['reason'] } };
        await settled(svc);
        const streamId = await recordedByAnEarlierVersion(store, earlier);
        const [recorded] = (await store.readStream(streamId)).slice(-1);
        await settled(svc);
        const before = await footprint(store);
        const body = { type: earlier.type, data: earlier.data, commandId: earlier.metadata.commandId, ...(earlier.metadata.correlationId !== undefined ? { correlationId: earlier.metadata.correlationId } : {}) };

        const answer = await post(body);
        expect(answer.status, path).toBe(200);
        expect(await answer.json(), path).toMatchObject({ commandId: earlier.metadata.commandId, streamId, deduplicated: true, events: [{ id: recorded!.id }] });

        const fresh = await post({ ...body, commandId: randomUUID() });
        expect(fresh.status, path).toBe(400);
        expect(await fresh.json(), path).toMatchObject({ errors: [expect.objectContaining({ path: path.replace(/^(data|metadata)\./, (_, p: string) => (p === 'data' ? 'body.data.' : 'body.')), rule })] });
        await settled(svc);
        expect(await footprint(store), path).toEqual(before);
      }
    } finally {
      await svc.close();
    }
  }, 60_000);
});
