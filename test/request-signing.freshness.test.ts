/**
 * Issue 11 item 8 (Low): a signed request is bound to one deployment (audience) and a bounded lifetime judged on
 * the engine's clock, and its correlation and causation ids are signed. A refused request replayed later is
 * expired; a forged causation fails the signature. Stored events are judged at their occurredAt, so they stay
 * verified, and events signed under version 1 (no claims) still decode and re-check under the version 1 bytes.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock, MINUTE } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import { generateSigningKey, sign, toBase64url } from '../domain/crypto/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { ExpectedRevision, type EventStore, type EventToAppend } from '../domain/ports/index.ts';
import { keyFingerprint, requestVerifier, signCommand, signingPayloadV1, storedSignatureCheck } from '../domain/signing/index.ts';
import { decodeStored } from '../domain/stored.ts';
import { cmd, footprint, operator, T0 } from './support/fleet.ts';

const AUDIENCE = 'credence:city-utilities';
const alice = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const policy = {
  audience: AUDIENCE,
  require: 'all' as const,
  maxLifetimeSeconds: 300,
  clockSkewSeconds: 60,
  keys: [{ actorId: operator.id, roles: ['operator' as const], algorithm: 'ed25519' as const, publicKey: toBase64url(alice.publicKey) }],
};

const setup = () => {
  const store = openSqliteStore({ memory: true });
  const clock = new FakeClock(T0);
  return { store, clock, engine: createEngine({ store, clock, verifyRequest: requestVerifier(policy) }) };
};

type Input = { type: string; data: unknown; metadata: Record<string, unknown> };
const withId = <C extends Input>(c: C, extra: Record<string, unknown> = {}): C => ({ ...c, metadata: { ...c.metadata, commandId: crypto.randomUUID(), ...extra } });
const signedAt = <C extends Input>(c: C, issuedAt: Date, options: { audience?: string; lifetimeSeconds?: number } = {}) =>
  signCommand(c, { algorithm: 'ed25519', secretKey: alice.secretKey }, { audience: options.audience ?? AUDIENCE, issuedAt, lifetimeSeconds: options.lifetimeSeconds ?? 300 });

const refusal = async (promise: Promise<unknown>) => promise.then(() => undefined, (e: unknown) => e);
const badSignature = async (promise: Promise<unknown>, reason: RegExp) => {
  const error = await refusal(promise);
  expect(isCredenceError(error, 'bad_signature'), String(error)).toBe(true);
  expect(String(error)).toMatch(reason);
};

const decodedStream = async (store: EventStore, streamId: string) =>
  (await store.readStream(streamId)).map((r) => {
    const d = decodeStored(r);
    if (!d.ok) throw new Error(d.reason);
    return d.value;
  });

describe('signed requests carry audience and lifetime, and sign their tracing ids (issue 11 item 8)', () => {
  it('a refused signed command replayed after it expired is refused as expired, though it would now succeed', async () => {
    const { engine, store, clock } = setup();
    const captured = signedAt(withId(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator })), clock.now());
    const first = await refusal(engine.execute(captured));
    expect(isCredenceError(first) && !isCredenceError(first, 'bad_signature'), String(first)).toBe(true);

    // Later the node exists, and the captured request is sent again.
    clock.advance(10 * MINUTE);
    await engine.execute(signedAt(withId(cmd.createSubscription()), clock.now()));
    await engine.execute(signedAt(withId(cmd.registerNode('meter-1')), clock.now()));
    const before = await footprint(store);
    await badSignature(engine.execute(captured), /expired at 2026-01-01T00:05:00\.000Z/);
    expect(await footprint(store)).toEqual(before);

    // The same command signed now is accepted: only its age refused the replay.
    await engine.execute(signedAt(withId(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator })), clock.now()));
  });

  it('a recorded signed command sent again unchanged after its signature expired gets its first outcome; changed in any way, it is refused as expired (review 102)', async () => {
    const { engine, store, clock } = setup();
    await engine.execute(signedAt(withId(cmd.createSubscription()), clock.now()));
    const signed = signedAt(withId(cmd.registerNode('meter-1')), clock.now());
    const first = await engine.execute(signed);
    expect(first.deduplicated).toBe(false);

    // The answer was lost; the client sends the very same request once its signature's lifetime is over.
    clock.advance(10 * MINUTE);
    const before = await footprint(store);
    const again = await engine.execute(signed);
    expect(again.deduplicated).toBe(true);
    expect(again.events.map((e) => e.position)).toEqual(first.events.map((e) => e.position));
    expect(await footprint(store)).toEqual(before);

    // Its signature is no longer checked by its time alone: a different signature (re-signed, expired too) or another
    // command under the same id is refused as expired, nothing written.
    const resigned = signedAt({ ...cmd.registerNode('meter-1'), metadata: { ...cmd.registerNode('meter-1').metadata, commandId: signed.metadata.commandId } }, new Date(clock.now().getTime() - 9 * MINUTE));
    await badSignature(engine.execute(resigned), /expired at/);
    await badSignature(engine.execute({ ...signed, data: { ...signed.data, nodeId: 'meter-2' } }), /expired at|does not verify/);
    // A signed command never recorded and expired stays refused.
    await badSignature(engine.execute(signedAt(withId(cmd.registerNode('meter-3')), new Date(clock.now().getTime() - 9 * MINUTE))), /expired at/);
    // Refusing an expired signature of a command never recorded fills no cache entry (review 104: one per refusal).
    const cached = engine.cacheStats().entries;
    for (let i = 0; i < 5; i++) {
      await badSignature(engine.execute(signedAt(withId(cmd.registerNode(`ghost-${i}`)), new Date(clock.now().getTime() - 9 * MINUTE))), /expired at/);
    }
    expect(engine.cacheStats().entries).toBe(cached);
    // The same signature with a tracing id it signs changed does not verify at the recorded instant either (review 103).
    await badSignature(engine.execute({ ...signed, metadata: { ...signed.metadata, correlationId: 'change-666' } }), /expired at/);
    expect(await footprint(store)).toEqual(before);
  });

  it('answers such a repeat only as the engine would admit it now: its key still registered and every later check passing (review 103)', async () => {
    const { engine, store, clock } = setup();
    await engine.execute(signedAt(withId(cmd.createSubscription()), clock.now()));
    const signed = signedAt(withId(cmd.registerNode('meter-1')), clock.now());
    await engine.execute(signed);
    clock.advance(10 * MINUTE);
    const before = await footprint(store);

    // The key withdrawn from the signing policy since: refused as the signature is.
    const withdrawn = createEngine({ store, clock, verifyRequest: requestVerifier({ ...policy, keys: [] }) });
    await badSignature(withdrawn.execute(signed), /./);
    // A check after the signature that refuses every command now (a log stopped, a CA removed) refuses the repeat too.
    const stopped = createEngine({
      store,
      clock,
      verifyRequest: requestVerifier(policy),
      checks: [
        () => {
          throw new Error('commands are refused now');
        },
      ],
    });
    await expect(stopped.execute(signed)).rejects.toThrow('commands are refused now');
    expect(await footprint(store)).toEqual(before);
    // Both passing: the first outcome.
    expect((await createEngine({ store, clock, verifyRequest: requestVerifier(policy) }).execute(signed)).deduplicated).toBe(true);
  });

  it('a captured signed command with a forged causation or correlation id fails the signature and writes nothing', async () => {
    const { engine, store, clock } = setup();
    await engine.execute(signedAt(withId(cmd.createSubscription()), clock.now()));
    const before = await footprint(store);
    const captured = signedAt(withId(cmd.registerNode('meter-1'), { causationId: 'ticket-41', correlationId: 'change-7' }), clock.now());
    await badSignature(engine.execute({ ...captured, metadata: { ...captured.metadata, causationId: 'ticket-666' } }), /does not verify/);
    await badSignature(engine.execute({ ...captured, metadata: { ...captured.metadata, correlationId: 'change-666' } }), /does not verify/);
    const untraced = signedAt(withId(cmd.registerNode('meter-2')), clock.now());
    await badSignature(engine.execute({ ...untraced, metadata: { ...untraced.metadata, causationId: 'ticket-666' } }), /does not verify/);
    expect(await footprint(store)).toEqual(before);

    const outcome = await engine.execute(captured);
    expect(outcome.events[0]?.metadata).toMatchObject({ causationId: 'ticket-41', correlationId: 'change-7' });
  });

  it('refuses, writing nothing, a request not yet valid, living longer than the policy allows, or for another deployment', async () => {
    const { engine, store, clock } = setup();
    const now = clock.now();
    const later = (seconds: number) => new Date(now.getTime() + seconds * 1000);
    await engine.execute(signedAt(withId(cmd.createSubscription()), now));
    const before = await footprint(store);
    await badSignature(engine.execute(signedAt(withId(cmd.registerNode()), later(61))), /not yet valid/);
    await badSignature(engine.execute(signedAt(withId(cmd.registerNode()), now, { lifetimeSeconds: 301 })), /longer than this deployment allows \(300 s\)/);
    await badSignature(engine.execute(signedAt(withId(cmd.registerNode()), now, { audience: 'credence:other-city' })), /addressed to credence:other-city, not to this deployment/);
    await badSignature(engine.execute(signedAt(withId(cmd.registerNode()), later(-361))), /expired/);
    expect(await footprint(store)).toEqual(before);
    // Within the clock skew on either end, the request is accepted: from issuedAt - skew, to the last millisecond
    // before expiresAt + skew (that instant is refused: test/request-signature-is-refused-at-its-expiry.test.ts).
    await engine.execute(signedAt(withId(cmd.registerNode('meter-1')), later(60)));
    await engine.execute(signedAt(withId(cmd.registerNode('meter-2')), later(-359.999)));
  });

  it('the stored-signature check judges the lifetime at the event occurredAt, so a verified event stays verified', async () => {
    const { engine, store, clock } = setup();
    await engine.execute(signedAt(withId(cmd.createSubscription()), clock.now()));
    clock.advance(365 * 24 * 60 * MINUTE);
    const [accepted] = await decodedStream(store, 'subscription-sub-1');
    expect(storedSignatureCheck(policy)(accepted!)).toBe('verified');
    // Another deployment's policy does not verify it: the audience is part of the re-check.
    expect(storedSignatureCheck({ ...policy, audience: 'credence:other-city' })(accepted!)).toBe('invalid');
    // Recorded (by a writer bypassing the engine) after the request had expired, beyond the most clock skew any policy
    // allows (300 s; review 145: a stored request is no longer held to today's policy's skew): invalid.
    await store.appendToStream('subscription-sub-1', [{
      id: crypto.randomUUID(), type: accepted!.record.type, data: accepted!.record.data as EventToAppend['data'],
      metadata: { ...accepted!.record.metadata, occurredAt: new Date(Date.parse(T0) + 11 * MINUTE).toISOString() },
    }], { expectedRevision: ExpectedRevision.exact(accepted!.record.revision) });
    const [, late] = await decodedStream(store, 'subscription-sub-1');
    expect(storedSignatureCheck(policy)(late!)).toBe('invalid');
  });

  it('events stored under version 1 signatures still decode and verify only under the version 1 bytes; new commands cannot use them', async () => {
    const { engine, store } = setup();
    const request = withId(cmd.createSubscription());
    const v1 = {
      algorithm: 'ed25519' as const,
      keyFingerprint: keyFingerprint('ed25519', alice.publicKey),
      value: toBase64url(sign('ed25519', alice.secretKey, signingPayloadV1(request))),
    };
    const { commandId } = request.metadata as { commandId: string };
    const metadata = { schemaVersion: 1, actor: operator, commandId, commandType: request.type, correlationId: commandId, causationId: commandId, occurredAt: T0, signature: v1 };
    await store.appendToStream('subscription-sub-1', [{ id: crypto.randomUUID(), type: 'SubscriptionCreated', data: request.data as EventToAppend['data'], metadata }], { expectedRevision: ExpectedRevision.noStream });
    await store.appendToStream('subscription-sub-2', [{ id: crypto.randomUUID(), type: 'SubscriptionCreated', data: { ...request.data, subscriptionId: 'sub-2' } as EventToAppend['data'], metadata }], { expectedRevision: ExpectedRevision.noStream });
    const [genuine] = await decodedStream(store, 'subscription-sub-1');
    const [altered] = await decodedStream(store, 'subscription-sub-2');
    expect(genuine!.metadata.signature).toEqual(v1);
    expect(storedSignatureCheck(policy)(genuine!)).toBe('verified');
    expect(storedSignatureCheck(policy)(altered!)).toBe('invalid');

    // A version 1 signature on a new command is refused at parsing: it carries no audience or lifetime.
    const before = await footprint(store);
    const unclaimed = withId(cmd.registerNode());
    const error = await refusal(engine.execute({ ...unclaimed, metadata: { ...unclaimed.metadata, signature: v1 } }));
    expect(isCredenceError(error, 'validation'), String(error)).toBe(true);
    expect(await footprint(store)).toEqual(before);
  });

  it('signCommand names the option a caller got wrong', () => {
    const c = withId(cmd.createSubscription());
    const key = { algorithm: 'ed25519' as const, secretKey: alice.secretKey };
    expect(() => signCommand(c, key, { audience: AUDIENCE, issuedAt: new Date(T0), lifetimeSeconds: 601 })).toThrow(/options\.lifetimeSeconds/);
    expect(() => signCommand(c, key, { audience: AUDIENCE, issuedAt: new Date('not a date'), lifetimeSeconds: 60 })).toThrow(/options\.issuedAt/);
    expect(() => signCommand(c, key, { audience: '', issuedAt: new Date(T0), lifetimeSeconds: 60 })).toThrow(/options\.audience/);
  });
});
