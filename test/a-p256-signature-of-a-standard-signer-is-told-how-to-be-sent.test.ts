import { generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../adapters/engine/index.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { fromBase64url, toBase64url } from '../domain/crypto/index.ts';
import { keyFingerprint, RequestSigningPolicy, requestVerifier, signingPayload, storedSignatureJudgement } from '../domain/signing/index.ts';
import { decodeStored } from '../domain/stored.ts';
import type { RequestSignature } from '../domain/metadata.ts';
import { cmd, footprint, operator, T0 } from './support/fleet.ts';
import { AUDIENCE } from './support/signed-fleet.ts';

// SER-016, review 387: Node's crypto.sign (as OpenSSL, Go, Java and WebCrypto) does not normalise S. A high-S or a
// DER signature is refused, as before, but told as what it is and how to send it, not as a signature that "does not
// verify" (which reads as a forgery) nor as a value "too big".
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const jwk = publicKey.export({ format: 'jwk' }) as { x: string; y: string };
const raw = new Uint8Array([4, ...fromBase64url(jwk.x), ...fromBase64url(jwk.y)]);
const fingerprint = keyFingerprint('p256-ecdsa-sha256', raw);

const policy = RequestSigningPolicy.parse({
  audience: AUDIENCE,
  require: 'all',
  keys: [{ actorId: operator.id, roles: ['operator'], algorithm: 'p256-ecdsa-sha256', publicKey: toBase64url(raw) }],
});

const setup = () => {
  const store = openSqliteStore({ memory: true });
  return { store, engine: createEngine({ store, clock: new FakeClock(T0), verifyRequest: requestVerifier(policy) }) };
};

const sValue = (p1363: Uint8Array): bigint => BigInt(`0x${Buffer.from(p1363.slice(32)).toString('hex')}`);

/** A createSubscription signed by Node's crypto in `encoding`, retried until its S is `want` (one in two is high). */
const signedByNode = (encoding: 'ieee-p1363' | 'der', want: 'high' | 'low' | 'any', key: KeyObject = privateKey) => {
  for (;;) {
    const request = cmd.createSubscription();
    const command = { ...request, metadata: { ...request.metadata, commandId: crypto.randomUUID() } };
    const claims = { issuedAt: T0, expiresAt: new Date(Date.parse(T0) + 300_000).toISOString(), audience: AUDIENCE };
    const value = new Uint8Array(nodeSign('sha256', signingPayload(command, claims), { key, dsaEncoding: encoding }));
    if (encoding === 'ieee-p1363' && want !== 'any' && (sValue(value) > N / 2n) !== (want === 'high')) continue;
    const signature: RequestSignature = { version: 2, algorithm: 'p256-ecdsa-sha256', keyFingerprint: fingerprint, ...claims, value: toBase64url(value) };
    return { ...command, metadata: { ...command.metadata, signature } };
  }
};

const refusal = async (promise: Promise<unknown>): Promise<string> => {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error, 'refused').toBeInstanceOf(Error);
  return (error as Error).message;
};

describe('a P-256 signature of a standard signer is told how to be sent (SER-016)', () => {
  it('a low-S r||s signature is accepted', async () => {
    const { engine } = setup();
    const outcome = await engine.execute(signedByNode('ieee-p1363', 'low'));
    expect(outcome.events).toHaveLength(1);
  });

  it('a high-S one is refused naming high_s and how to normalise it, writing nothing', async () => {
    const { engine, store } = setup();
    const before = await footprint(store);
    const message = await refusal(engine.execute(signedByNode('ieee-p1363', 'high')));
    expect(message).toContain('high_s');
    expect(message).toContain('low-S: replace s with n − s');
    expect(message).not.toContain('does not verify');
    expect(await footprint(store)).toEqual(before);
  });

  it('a DER one is refused naming the form to send, not as too big, writing nothing', async () => {
    const { engine, store } = setup();
    const before = await footprint(store);
    const message = await refusal(engine.execute(signedByNode('der', 'any')));
    expect(message).toContain('DER is not accepted: send the 64-byte r||s form (IEEE P1363), low-S');
    expect(message).not.toContain('Too big');
    expect(await footprint(store)).toEqual(before);
  });

  it('an algorithm label other than the key registered is said as such, not as a key not registered', async () => {
    const { engine } = setup();
    const request = signedByNode('ieee-p1363', 'low');
    const mislabelled = { ...request, metadata: { ...request.metadata, signature: { ...request.metadata.signature, algorithm: 'ed25519' as const } } };
    const message = await refusal(engine.execute(mislabelled));
    expect(message).toContain(`key ${fingerprint} is registered for p256-ecdsa-sha256, the signature says ed25519`);
    expect(message).not.toContain('is not registered');
  });

  it('a stored event whose low-S signature was turned high-S since is judged invalid, does_not_verify: no engine accepted one', async () => {
    const { engine, store } = setup();
    await engine.execute(signedByNode('ieee-p1363', 'low'));
    const [stored] = await store.readStream('subscription-sub-1');
    const signature = stored!.metadata['signature'] as RequestSignature;
    const bytes = fromBase64url(signature.value);
    const highS = (N - sValue(bytes)).toString(16).padStart(64, '0');
    const malleated = { ...signature, value: toBase64url(new Uint8Array([...bytes.slice(0, 32), ...Buffer.from(highS, 'hex')])) };
    const judge = storedSignatureJudgement(policy);
    const decode = (metadata: Record<string, unknown>) => {
      const decoded = decodeStored({ ...stored!, metadata });
      if (!decoded.ok) throw new Error(decoded.reason);
      return decoded.value;
    };
    expect(judge(decode(stored!.metadata))).toEqual({ status: 'verified' });
    expect(judge(decode({ ...stored!.metadata, signature: malleated }))).toEqual({ status: 'invalid', reason: 'does_not_verify' });
  });
});
