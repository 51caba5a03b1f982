/**
 * Review 78 (low): a UUID's hex digits are case-insensitive on input (RFC 9562 section 4), so a command id sent in
 * upper case is the same idempotency key as in lower case. The store's index of command ids keys on the exact text,
 * so it was another key: the same registration sent again under the upper-case id was refused as a conflict of state,
 * and an on-demand pseudonym rotation retried so recorded a second rotation. Command ids are recorded in lower case
 * from where a command enters; stored events are read as stored.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { requestVerifier, signCommand, storedSignatureCheck } from '../domain/signing/index.ts';
import { decodeStored } from '../domain/stored.ts';
import { cmd, fixture, footprint, operator, profile, rejection, T0 } from './support/fleet.ts';
import { settledPseudonymFleet } from './support/pseudonym-fleet.ts';

const LOWER = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
const UPPER = LOWER.toUpperCase();
const register = (commandId: string, nodeId = 'n1') => command('registerNode', { nodeId, profile }, { actor: operator, commandId });

describe('a command id in upper case', () => {
  it('is the same idempotency key: the retry is answered with the first outcome and appends nothing', async () => {
    // Given a node registered under a lower-case command id
    const { engine, store } = fixture();
    await engine.execute(cmd.createSubscription());
    const first = await engine.execute(register(LOWER));
    const before = await footprint(store);

    // When the same command is sent again under the id in upper case
    const again = await engine.execute(register(UPPER));

    // Then it is the first outcome, deduplicated, and nothing is written
    expect(again).toEqual({ ...first, deduplicated: true });
    expect(await footprint(store)).toEqual(before);
  });

  it('is recorded in lower case, so a retry in lower case finds it', async () => {
    const { engine, store } = fixture();
    await engine.execute(cmd.createSubscription());
    const first = await engine.execute(register(UPPER));
    expect(first.commandId).toBe(LOWER);
    const [stored] = await store.readStream('node-n1');
    expect(stored!.metadata['commandId']).toBe(LOWER);
    expect(stored!.metadata['correlationId']).toBe(LOWER);
    const before = await footprint(store);
    expect(await engine.execute(register(LOWER))).toEqual({ ...first, deduplicated: true });
    expect(await footprint(store)).toEqual(before);
  });

  it('reused in another case for another command is refused as a reuse', async () => {
    const { engine, store } = fixture();
    await engine.execute(cmd.createSubscription());
    await engine.execute(register(LOWER, 'n1'));
    const before = await footprint(store);
    const error = await rejection(engine.execute(register(UPPER, 'n2')));
    expect(error.message).toMatch(/already used for a different command/);
    expect(await footprint(store)).toEqual(before);
  });

  it('of an on-demand pseudonym rotation retried answers the first rotation, recording no second one', async () => {
    const c = await settledPseudonymFleet([]);
    try {
      const id = 'cafebabe-0000-4000-8000-00000000abcd';
      const first = await c.pseudonyms!.rotateNow('meter-1', operator, id);
      await c.settle();
      const before = await footprint(c.store);
      const upper = await c.pseudonyms!.rotateNow('meter-1', operator, id.toUpperCase());
      expect(first.outcome).toBe('rotated');
      expect(upper).toEqual({ ...first, outcome: 'duplicate' });
      expect(await footprint(c.store)).toEqual(before);
    } finally {
      await c.close();
    }
  });

  describe('on a signed command (SER-016: the signature covers the command id as its event records it)', () => {
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
    const setup = () => {
      const store = openSqliteStore({ memory: true });
      return { store, engine: createEngine({ store, clock: new FakeClock(T0), verifyRequest: requestVerifier(policy) }) };
    };

    it('in lower case still verifies, when decided and when its stored event is judged again', async () => {
      const { engine, store } = setup();
      await engine.execute(signed(cmd.createSubscription(), '0b0b0b0b-1111-4222-8333-444444444444'));
      const outcome = await engine.execute(signed(register(LOWER), LOWER));
      expect(outcome.commandId).toBe(LOWER);
      const [record] = await store.readStream('node-n1');
      const decoded = decodeStored(record!);
      if (!decoded.ok) throw new Error(decoded.reason);
      expect(storedSignatureCheck(policy)(decoded.value)).toBe('verified');
    });

    it('in upper case is refused naming the command id and its rule, before anything is written (its signature could not be judged again from the event)', async () => {
      const { engine, store } = setup();
      await engine.execute(signed(cmd.createSubscription(), '0b0b0b0b-1111-4222-8333-444444444444'));
      const before = await footprint(store);
      const error = await rejection(engine.execute(signed(register(UPPER), UPPER)));
      expect(error.problem).toMatchObject({ code: 'validation', issues: [{ path: 'metadata.commandId', rule: 'lower_case' }] });
      expect(await footprint(store)).toEqual(before);
    });
  });
});
