/**
 * Review 86 (finding 1, on review 78's fix): command ids were lower-cased where a command entered, so the same UUID
 * in another case would be the same key. But every version before kept the id as sent: the store's index of command
 * ids, the events' metadata, the event ids derived from it and EventStoreDB's claim stream `credence-command-<id>` all
 * hold an upper-case id as it came. Retried after the upgrade under the id it was sent with, such a command was not
 * found: a registration became a conflict of state, an on-demand rotation recorded a second rotation, and a signed
 * retry was refused (rule lower_case). A command id is an opaque key again, compared exactly as sent. Since review
 * 186 a NEW command's id must be in lower case (test/a-new-command-id-not-in-lower-case-is-refused-and-a-recorded-one-still-answered.test.ts):
 * the retries below are of commands already recorded, so they are still answered.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { eventIdFor } from '../domain/event-ids.ts';
import { requestVerifier, signCommand } from '../domain/signing/index.ts';
import { embeddedAndStandInStores } from './support/embedded-and-standin-stores.ts';
import { cmd, footprint, operator, profile, rejection, T0 } from './support/fleet.ts';
import { commandRecordedByAnEarlierVersion, type SentCommand } from './support/recorded-by-an-earlier-version.ts';
import { settledPseudonymFleet } from './support/pseudonym-fleet.ts';

const UPPER = 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE';
const register = (commandId: string, nodeId = 'n1') => command('registerNode', { nodeId, profile }, { actor: operator, commandId });

const stores = embeddedAndStandInStores();

describe.each(stores)('a command recorded under an upper-case id by an earlier version, on %s', (_name, open) => {
  it('retried under that id after the upgrade is its first outcome, deduplicated, nothing written', async () => {
    // Given n1 registered under an upper-case id as a version before the upgrade stored it
    const store = await open();
    await createEngine({ store, clock: new FakeClock(T0) }).execute(cmd.createSubscription());
    const streamId = await commandRecordedByAnEarlierVersion(store, register(UPPER));
    const stored = await store.readStream(streamId);
    expect(stored.map((e) => [e.id, e.metadata['commandId']])).toEqual([[eventIdFor(UPPER, 0), UPPER]]);
    const before = await footprint(store);

    // When the client retries it with the id it sent, on the upgraded engine (a new process: nothing cached)
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    const again = await engine.execute(register(UPPER));

    // Then it is the first outcome, and nothing is written
    expect(again).toEqual({ commandId: UPPER, streamId, state: 'initialized', events: stored, deduplicated: true });
    expect(await footprint(store)).toEqual(before);
  });

  it('is another key than the same id in lower case: a command sent under that one is a new command', async () => {
    // Ids are opaque keys compared as sent: the lower-case id is not this command's (a client retries with its own id).
    const store = await open();
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await engine.execute(cmd.createSubscription());
    await commandRecordedByAnEarlierVersion(store, register(UPPER));
    const other = await engine.execute(register(UPPER.toLowerCase(), 'n2'));
    expect(other).toMatchObject({ commandId: UPPER.toLowerCase(), streamId: 'node-n2', deduplicated: false });
  });
});

describe.each(stores)('a signed command under an upper-case id: refused when new, answered when an earlier version recorded it, on %s', (_name, open) => {
  const AUDIENCE = 'credence:city-utilities';
  const alice = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
  const policy = {
    audience: AUDIENCE,
    require: 'all' as const,
    maxLifetimeSeconds: 300,
    keys: [{ actorId: operator.id, roles: ['operator' as const], algorithm: 'ed25519' as const, publicKey: toBase64url(alice.publicKey) }],
  };
  const signed = (c: { type: string; data: unknown; metadata: Record<string, unknown> }, commandId: string) =>
    signCommand({ ...c, metadata: { ...c.metadata, commandId } }, { algorithm: 'ed25519', secretKey: alice.secretKey }, { audience: AUDIENCE, issuedAt: new Date(T0), lifetimeSeconds: 60 });
  const setup = async () => {
    const store = await open();
    const engine = createEngine({ store, clock: new FakeClock(T0), verifyRequest: requestVerifier(policy) });
    await engine.execute(signed(cmd.createSubscription(), '0b0b0b0b-1111-4222-8333-444444444444'));
    return { store, engine };
  };

  it('sent new is refused for its id (rule lower_case), not folded, and nothing is written', async () => {
    // A new command's id must be in lower case (review 186); its signature covers the id as sent, so it is refused, never folded.
    const { engine, store } = await setup();
    const before = await footprint(store);
    const error = await rejection(engine.execute(signed(register(UPPER), UPPER)));
    expect(error.problem).toMatchObject({ code: 'validation', issues: [{ path: 'metadata.commandId', rule: 'lower_case' }] });
    expect(await store.readStream('node-n1')).toEqual([]);
    expect(await footprint(store)).toEqual(before);
  });

  it('recorded by an earlier version and retried as signed is its first outcome, nothing written', async () => {
    const { engine, store } = await setup();
    const sent = signed(register(UPPER), UPPER);
    const streamId = await commandRecordedByAnEarlierVersion(store, sent as unknown as SentCommand);
    const stored = await store.readStream(streamId);
    const before = await footprint(store);
    expect(await engine.execute(sent)).toEqual({ commandId: UPPER, streamId, state: 'initialized', events: stored, deduplicated: true });
    expect(await footprint(store)).toEqual(before);
  });
});

describe('an on-demand pseudonym rotation recorded under an upper-case id by an earlier version', () => {
  it('retried under that id is the rotation recorded, not a second one', async () => {
    const c = await settledPseudonymFleet([]);
    try {
      // Given meter-1's next rotation recorded on demand under an upper-case id, as an earlier version recorded it
      const rotated = await c.pseudonyms!.rotateNow('meter-1', operator, randomUUID());
      if (rotated.outcome !== 'rotated') throw new Error(`meter-1 did not rotate: ${rotated.outcome}`);
      await c.settle();
      const epoch = rotated.epoch + 1;
      const pseudonym = await c.pseudonyms!.deriver.node('meter-1', epoch);
      const data = { pseudonym, nodeId: 'meter-1', epoch, trigger: 'demand' };
      await commandRecordedByAnEarlierVersion(c.store, { type: 'rotatePseudonym', data, metadata: { actor: operator, commandId: UPPER } });
      await c.settle();
      const before = await footprint(c.store);

      // When the operator's request is sent again with the id it was sent with
      const again = await c.pseudonyms!.rotateNow('meter-1', operator, UPPER);
      await c.settle();

      // Then it answers that rotation, and no second one is recorded
      expect(again).toEqual({ outcome: 'duplicate', nodeId: 'meter-1', epoch, pseudonym });
      expect(await footprint(c.store)).toEqual(before);
    } finally {
      await c.close();
    }
  });
});
