/**
 * Security issue 11 item 11: the association handshake confirms its keys both ways (RFC 8446 4.4.4), gives each
 * direction its own session key, and in PSK mode always runs an ephemeral ECDH (psk_dhe_ke, RFC 8446 4.2.9), so a
 * PSK compromised later does not reveal past session keys.
 */
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { concatBytes, utf8 } from '../domain/crypto/bytes.ts';
import { hkdfSha256, hmacSha256 } from '../domain/crypto/hash.ts';
import { proofInput, Transcript, withoutFields } from '../domain/crypto/transcript.ts';
import { MemoryReplayCache } from '../adapters/driven/replay-cache/replay-cache.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { fromBase64url, tamper, toBase64url } from './crypto-fixtures.ts';
import { associate, handshakeWorld, REGISTRAR_OWNER, REGISTREE_OWNER, type HandshakeWorld } from './handshake.fixtures.ts';
import { refusal } from './support/protocol-refusal.ts';

const KINDS = ['psk256', 'ed25519', 'p256'] as const;
const bytes = (s: string) => new TextEncoder().encode(s);


/** Every key the Secure Environment `se` derives from now on, ephemeral or not. */
const watchDerived = (se: HandshakeWorld['registreeSe']): KeyHandle[] => {
  const derived: KeyHandle[] = [];
  const deriveKey = se.deriveKey.bind(se);
  se.deriveKey = async (owner, spec) => {
    const handle = await deriveKey(owner, spec);
    derived.push(handle);
    return handle;
  };
  return derived;
};

/** The raw ECDH secrets `se` computes from now on (test-only read through exportForTest). */
const watchAgreements = (se: HandshakeWorld['registrarSe']): Uint8Array[] => {
  const secrets: Uint8Array[] = [];
  const agree = se.agree.bind(se);
  se.agree = async (owner, handle, peer) => {
    const secret = await agree(owner, handle, peer);
    secrets.push(se.exportForTest(secret));
    return secret;
  };
  return secrets;
};

const isDestroyed = async (se: HandshakeWorld['registreeSe'], owner: string, handle: KeyHandle) =>
  isCredenceError(await se.describe(owner, handle).catch((e: unknown) => e), 'not_found');

describe('direction-separated session keys', () => {
  for (const kind of KINDS) {
    it(`${kind}: the Registree's send key is the Registrar's receive key and the other way round; the two directions differ`, async () => {
      const world = await handshakeWorld({ kind });
      const { registreeOutcome, registrarOutcome } = await associate(world);
      const registree = registreeOutcome.sessionKeys;
      const registrar = registrarOutcome.sessionKeys;
      const read = (se: typeof world.registreeSe, handle: KeyHandle) => Buffer.from(se.exportForTest(handle)).toString('hex');
      expect(read(world.registreeSe, registree.send)).toBe(read(world.registrarSe, registrar.receive));
      expect(read(world.registreeSe, registree.receive)).toBe(read(world.registrarSe, registrar.send));
      expect(read(world.registreeSe, registree.send)).not.toBe(read(world.registreeSe, registree.receive));
      // The same seen through the port only: equal MACs for the matching keys, different ones across directions.
      const tag = (se: typeof world.registreeSe, owner: string, handle: KeyHandle) => se.mac(owner, handle, bytes('probe'));
      expect(await tag(world.registreeSe, REGISTREE_OWNER, registree.send)).toEqual(await tag(world.registrarSe, REGISTRAR_OWNER, registrar.receive));
      expect(await tag(world.registreeSe, REGISTREE_OWNER, registree.receive)).toEqual(await tag(world.registrarSe, REGISTRAR_OWNER, registrar.send));
      expect(await tag(world.registrarSe, REGISTRAR_OWNER, registrar.send)).not.toEqual(await tag(world.registrarSe, REGISTRAR_OWNER, registrar.receive));
    });
  }

  it('a message sent one way cannot be reflected back as the other direction', async () => {
    const world = await handshakeWorld({ kind: 'psk256' });
    const { registreeOutcome, registrarOutcome } = await associate(world);
    const up = await world.registreeSe.seal(REGISTREE_OWNER, registreeOutcome.sessionKeys.send, bytes('reading 42'), bytes('aad'));
    expect(await world.registreeSe.open(REGISTREE_OWNER, registreeOutcome.sessionKeys.receive, up, bytes('aad'))).toBeUndefined();
    expect(await world.registrarSe.open(REGISTRAR_OWNER, registrarOutcome.sessionKeys.send, up, bytes('aad'))).toBeUndefined();
    expect(await world.registrarSe.open(REGISTRAR_OWNER, registrarOutcome.sessionKeys.receive, up, bytes('aad'))).toEqual(bytes('reading 42'));
  });
});

describe('key confirmation (RFC 8446 4.4.4)', () => {
  it('the Registree reports nothing for the challenge: its finish only, the association comes with the confirm', async () => {
    const world = await handshakeWorld({ kind: 'ed25519' });
    const handshake = await world.registree.start({ lifetimeSeconds: 600 });
    const answer = await handshake.acceptChallenge(await world.registrar.acceptHello(handshake.hello));
    expect(Object.keys(answer)).toEqual(['finish']);
    const { confirm, outcome } = await world.registrar.acceptFinish(answer.finish);
    expect(await handshake.acceptConfirm(confirm)).toMatchObject({ side: 'registree', associationId: outcome.associationId, transcriptHash: outcome.transcriptHash });
  });

  for (const kind of KINDS) {
    it(`${kind}: a tampered confirm is refused by the Registree (bad_mac), which destroys every key of the run and cannot be completed afterwards`, async () => {
      const world = await handshakeWorld({ kind });
      const handshake = await world.registree.start({ lifetimeSeconds: 600 });
      const derived = watchDerived(world.registreeSe);
      const { finish } = await handshake.acceptChallenge(await world.registrar.acceptHello(handshake.hello));
      const { confirm } = await world.registrar.acceptFinish(finish);
      expect(derived.length).toBe(3); // handshake secret and two Finished keys, all in memory: no session key exists before the confirm
      expect(await refusal(() => handshake.acceptConfirm(tamper(confirm, ['keyConfirmation'])))).toEqual({ step: 'association.confirm', reason: 'bad_mac' });
      for (const handle of derived) expect(await isDestroyed(world.registreeSe, REGISTREE_OWNER, handle)).toBe(true);
      expect(await refusal(() => handshake.acceptConfirm(confirm))).toEqual({ step: 'association.confirm', reason: 'unknown_session' });
    });
  }

  it('a confirm made with another run\'s Finished key is refused: the key confirmation is bound to this run\'s keys', async () => {
    const world = await handshakeWorld({ kind: 'psk256' });
    const earlier = await associate(world);
    const handshake = await world.registree.start({ lifetimeSeconds: 600 });
    const { finish } = await handshake.acceptChallenge(await world.registrar.acceptHello(handshake.hello));
    const { confirm } = await world.registrar.acceptFinish(finish);
    const spliced = { ...confirm, keyConfirmation: earlier.messages.confirm.keyConfirmation };
    expect(await refusal(() => handshake.acceptConfirm(spliced))).toEqual({ step: 'association.confirm', reason: 'bad_mac' });
  });

  it('a confirm for another session or another nonce is refused before its MAC is even checked', async () => {
    const world = await handshakeWorld({ kind: 'p256' });
    const earlier = await associate(world);
    for (const [change, reason] of [
      [{ sessionId: earlier.messages.confirm.sessionId }, 'unknown_session'],
      [{ registreeNonce: earlier.messages.hello.registreeNonce }, 'nonce_mismatch'],
    ] as const) {
      const handshake = await world.registree.start({ lifetimeSeconds: 600 });
      const { finish } = await handshake.acceptChallenge(await world.registrar.acceptHello(handshake.hello));
      const { confirm } = await world.registrar.acceptFinish(finish);
      expect(await refusal(() => handshake.acceptConfirm({ ...confirm, ...change }))).toEqual({ step: 'association.confirm', reason });
    }
  });

  for (const kind of KINDS) {
    // Answered as a failed proof of the credential's kind (review 405 F1): on a PSK shredded during the run the proof check fails first.
    it(`${kind}: a finish whose proof verifies but whose key confirmation does not is refused as a failed proof, and nothing is remembered or kept`, async () => {
      const cache = new MemoryReplayCache({ windowSeconds: 900, maxEntries: 100 });
      const world = await handshakeWorld({ kind, registrar: { replayCache: cache } });
      const handshake = await world.registree.start({ lifetimeSeconds: 600 });
      const { finish } = await handshake.acceptChallenge(await world.registrar.acceptHello(handshake.hello));
      const derived = watchDerived(world.registrarSe);
      expect(await refusal(() => world.registrar.acceptFinish(tamper(finish, ['keyConfirmation'])))).toEqual({
        step: 'association.finish',
        reason: kind === 'psk256' ? 'bad_mac' : 'bad_signature',
      });
      expect(cache.namespace('association:CSE-IN-1').size).toBe(0);
      expect(derived.length).toBe(5);
      for (const handle of derived) expect(await isDestroyed(world.registrarSe, REGISTRAR_OWNER, handle)).toBe(true);
      // A failed proof keeps the run, the Registrar's ephemeral key with it: the genuine finish completes it (review 274).
      const { confirm } = await world.registrar.acceptFinish(finish);
      expect((await handshake.acceptConfirm(confirm)).lifetimeSeconds).toBeGreaterThan(0);
    });
  }
});

/** The schedule recomputed outside any Secure Environment from the PSK, the transcript and an ECDH secret. */
const recompute = (psk: Uint8Array, dhe: Uint8Array, transcriptHash: Uint8Array) => {
  const hs = hkdfSha256(concatBytes(psk, dhe), transcriptHash, utf8('credence/association/v1/handshake-secret'), 32);
  const key = (label: string) => hkdfSha256(hs, new Uint8Array(0), concatBytes(utf8(`credence/association/v1/${label}`), new Uint8Array([0]), transcriptHash), 32);
  return { up: key('registree-to-registrar'), down: key('registrar-to-registree'), registrarFinished: key('registrar-finished') };
};

const transcriptOf = (messages: Awaited<ReturnType<typeof associate>>['messages']) => {
  const transcript = new Transcript('association');
  transcript.absorb(messages.hello.type, messages.hello);
  const challenge = transcript.absorb(messages.challenge.type, withoutFields(messages.challenge, 'proof'));
  transcript.absorb(messages.finish.type, withoutFields(messages.finish, 'proof', 'keyConfirmation'));
  const final = transcript.absorb(messages.confirm.type, withoutFields(messages.confirm, 'keyConfirmation'));
  return { challenge, final };
};

describe('PSK mode is psk_dhe_ke (RFC 8446 4.2.9): forward secrecy', () => {
  it('a PSK hello offers psk_dhe_ke with an ephemeral key, and the Registrar answers with one', async () => {
    const world = await handshakeWorld({ kind: 'psk256' });
    const { messages } = await associate(world);
    expect(messages.hello).toMatchObject({ keyExchange: 'psk_dhe_ke', ephemeral: { group: 'x25519' } });
    expect(messages.challenge.ephemeral).toMatchObject({ group: 'x25519' });
    const signed = await associate(await handshakeWorld({ kind: 'ed25519' }));
    expect(signed.messages.hello.keyExchange).toBe('signature_dhe');
  });

  it('the session keys are HKDF over the PSK and the ECDH secret: known answer from the transcript, the PSK and the ephemeral secret', async () => {
    const world = await handshakeWorld({ kind: 'psk256' });
    const secrets = watchAgreements(world.registrarSe);
    const { messages, registrarOutcome, registreeOutcome } = await associate(world);
    const psk = world.registrarSe.exportForTest(world.registrarHandle as KeyHandle);
    const th = transcriptOf(messages);
    expect(secrets.length).toBe(1);
    const keys = recompute(psk, secrets[0]!, th.challenge);
    expect(world.registrarSe.exportForTest(registrarOutcome.sessionKeys.receive)).toEqual(keys.up);
    expect(world.registrarSe.exportForTest(registrarOutcome.sessionKeys.send)).toEqual(keys.down);
    expect(world.registreeSe.exportForTest(registreeOutcome.sessionKeys.send)).toEqual(keys.up);
    expect(fromBase64url(messages.confirm.keyConfirmation)).toEqual(hmacSha256(keys.registrarFinished, proofInput('association', 'registrar', 'finished', th.final)));
    expect(registrarOutcome.transcriptHash).toBe(toBase64url(th.final));
  });

  it('with the PSK and the full transcript but not the ephemeral secrets, the session keys cannot be recomputed', async () => {
    const world = await handshakeWorld({ kind: 'psk256' });
    const secrets = watchAgreements(world.registrarSe);
    const { messages, registrarOutcome } = await associate(world);
    const psk = world.registrarSe.exportForTest(world.registrarHandle as KeyHandle);
    const th = transcriptOf(messages).challenge;
    const actual = world.registrarSe.exportForTest(registrarOutcome.sessionKeys.receive);
    expect(recompute(psk, secrets[0]!, th).up).toEqual(actual);
    // What someone holding the PSK and every message can try: no ECDH secret, or one computed with an ephemeral
    // of their own against the public keys on the wire (each is a different secret), or the former PSK-only key.
    const guesses = [new Uint8Array(0), new Uint8Array(32), fromBase64url(messages.hello.ephemeral.publicKey), fromBase64url(messages.challenge.ephemeral.publicKey)];
    for (const dhe of guesses) expect(recompute(psk, dhe, th).up).not.toEqual(actual);
    expect(hkdfSha256(psk, th, utf8('credence/association/v1/session-key'), 32)).not.toEqual(actual);
    // One bit of the ephemeral secret changes every key.
    const flipped = secrets[0]!.slice();
    flipped[0]! ^= 1;
    expect(recompute(psk, flipped, th).up).not.toEqual(actual);
  });

  it('two runs with the same PSK use different ephemeral secrets and give unrelated keys', async () => {
    const world = await handshakeWorld({ kind: 'psk256' });
    const secrets = watchAgreements(world.registrarSe);
    const first = await associate(world);
    const second = await associate(world);
    expect(secrets[0]).not.toEqual(secrets[1]);
    const read = (o: typeof first) => [o.registrarOutcome.sessionKeys.send, o.registrarOutcome.sessionKeys.receive].map((h) => world.registrarSe.exportForTest(h));
    const [a, b] = [read(first), read(second)];
    for (const x of a) for (const y of b) expect(x).not.toEqual(y);
  });

  it('PSK-only is refused: a PSK hello without an ephemeral, offering psk_ke, or claiming the signature mode is malformed', async () => {
    const world = await handshakeWorld({ kind: 'psk256' });
    const { hello } = await world.registree.start({ lifetimeSeconds: 600 });
    const { ephemeral: _dropped, ...withoutEphemeral } = hello;
    for (const offered of [withoutEphemeral, { ...hello, keyExchange: 'psk_ke' }, { ...hello, keyExchange: 'signature_dhe' }, { ...withoutEphemeral, keyExchange: 'psk_ke' }]) {
      expect(await refusal(() => world.registrar.acceptHello(offered))).toEqual({ step: 'association.hello', reason: 'malformed' });
    }
    const signed = await handshakeWorld({ kind: 'p256' });
    const signedHello = (await signed.registree.start({ lifetimeSeconds: 600 })).hello;
    expect(await refusal(() => signed.registrar.acceptHello({ ...signedHello, keyExchange: 'psk_dhe_ke' }))).toEqual({ step: 'association.hello', reason: 'malformed' });
  });

  it('a challenge without an ephemeral key (a Registrar downgrading to PSK-only) is refused by the Registree', async () => {
    const world = await handshakeWorld({ kind: 'psk256' });
    const handshake = await world.registree.start({ lifetimeSeconds: 600 });
    const { ephemeral: _dropped, ...challenge } = await world.registrar.acceptHello(handshake.hello);
    expect(await refusal(() => handshake.acceptChallenge(challenge))).toEqual({ step: 'association.challenge', reason: 'malformed' });
  });

  it('the mode is in the transcript: the Registrar\'s proof covers the hello\'s keyExchange', async () => {
    const world = await handshakeWorld({ kind: 'psk256' });
    const { messages } = await associate(world);
    const proofOver = (hello: Record<string, unknown>) => {
      const transcript = new Transcript('association');
      transcript.absorb('association.hello', hello);
      return proofInput('association', 'registrar', 'challenge', transcript.absorb('association.challenge', withoutFields(messages.challenge, 'proof')));
    };
    const psk = world.registrarHandle as KeyHandle;
    const proof = fromBase64url(messages.challenge.proof);
    expect(await world.registrarSe.verifyMac(REGISTRAR_OWNER, psk, proofOver(messages.hello), proof)).toBe(true);
    expect(await world.registrarSe.verifyMac(REGISTRAR_OWNER, psk, proofOver(withoutFields(messages.hello, 'keyExchange')), proof)).toBe(false);
  });
});
