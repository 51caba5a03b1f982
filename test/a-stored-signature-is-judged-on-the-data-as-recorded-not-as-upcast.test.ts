/**
 * Review 240: the stored re-check judged a request signature on the event's data as decoded (lifted by the upcasters,
 * unknown members dropped by the event schema), not on the data the engine recorded and the actor signed. A
 * `NodeRegistered` stored at schema version 1, or one with a member this build's schema does not name, read
 * `invalid` / `does_not_verify`, a forgery's word, though genuinely signed. Now the record's data as stored is judged,
 * less the derived fields a signature leaves out, as before; data really altered after signing still does not verify.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { ExpectedRevision, type JsonObject, type RecordedEvent } from '../domain/ports/index.ts';
import { signCommand, storedSignatureJudgement, type RequestSigningPolicyInput } from '../domain/signing/index.ts';
import { decodeStored } from '../domain/stored.ts';
import { timeline } from '../projections/audit/index.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { AUDIENCE } from './support/signed-fleet.ts';

const alice = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const policy: RequestSigningPolicyInput = {
  audience: AUDIENCE,
  require: 'all',
  keys: [{ actorId: operator.id, roles: ['operator'], algorithm: 'ed25519', publicKey: toBase64url(alice.publicKey) }],
};

type Credence = ReturnType<typeof openCredence>;

/** Records a `registerNode` request Alice signed over `signedData`, stored at `schemaVersion` with `storedData`. */
const recordSigned = async (c: Credence, genuine: RecordedEvent, schemaVersion: number, signedData: JsonObject, storedData = signedData) => {
  const commandId = crypto.randomUUID();
  const request = { type: 'registerNode', data: signedData, metadata: { actor: operator, commandId } };
  const { signature } = signCommand(request, { algorithm: 'ed25519', secretKey: alice.secretKey }, { audience: AUDIENCE, issuedAt: c.engine.clock.now(), lifetimeSeconds: 300 }).metadata;
  const metadata = { ...genuine.metadata, commandId, correlationId: commandId, causationId: commandId, schemaVersion, signature };
  const stream = `node-${String(storedData['nodeId'])}`;
  await c.store.appendToStream(stream, [{ id: crypto.randomUUID(), type: 'NodeRegistered', data: storedData, metadata }], { expectedRevision: ExpectedRevision.noStream });
  const [stored] = await c.store.readStream(stream);
  return stored!;
};

const judged = (record: RecordedEvent) => {
  const decoded = decodeStored(record);
  if (!decoded.ok) throw new Error(decoded.reason);
  return storedSignatureJudgement(policy)(decoded.value);
};

describe('a stored signature is judged on the data as recorded, not as upcast (review 240)', () => {
  it('a v1 NodeRegistered and a v2 one with a member this build does not name verify; altered data does not', async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0), signing: policy });
    try {
      const request = cmd.registerNode('meter-1');
      await c.engine.execute(signCommand({ ...request, metadata: { ...request.metadata, commandId: crypto.randomUUID() } }, { algorithm: 'ed25519', secretKey: alice.secretKey }, { audience: AUDIENCE, issuedAt: c.engine.clock.now(), lifetimeSeconds: 300 }));
      const [genuine] = await c.store.readStream('node-meter-1');
      const v2 = genuine!.data;

      // Stored at schema version 1: the profile a bare device class, as that version recorded it.
      const v1 = await recordSigned(c, genuine!, 1, { ...v2, nodeId: 'meter-2', profile: 'smart-meter' });
      // Stored at today's version with one member more, which the event schema drops on read.
      const extra = await recordSigned(c, genuine!, 2, { ...v2, nodeId: 'meter-3', site: 'north' });
      // Altered after signing: a member the schema drops, and a member it reads through the upcaster.
      const alteredExtra = await recordSigned(c, genuine!, 2, { ...v2, nodeId: 'meter-4', site: 'north' }, { ...v2, nodeId: 'meter-4', site: 'south' });
      const alteredV1 = await recordSigned(c, genuine!, 1, { ...v2, nodeId: 'meter-5', profile: 'smart-meter' }, { ...v2, nodeId: 'meter-5', profile: 'gas-meter' });

      expect(judged(genuine!)).toEqual({ status: 'verified' });
      expect(judged(v1)).toEqual({ status: 'verified' });
      expect(judged(extra)).toEqual({ status: 'verified' });
      expect(judged(alteredExtra)).toEqual({ status: 'invalid', reason: 'does_not_verify' });
      expect(judged(alteredV1)).toEqual({ status: 'invalid', reason: 'does_not_verify' });

      // The audit trail, which judges through the same check, says the same.
      await c.settle();
      const statusOf = (stream: string) => timeline(c.readModels, stream).map((e) => ({ status: e.signature.status, reason: e.signature.reason }));
      for (const node of ['meter-1', 'meter-2', 'meter-3']) expect(statusOf(`node-${node}`)).toEqual([{ status: 'verified', reason: undefined }]);
      for (const node of ['meter-4', 'meter-5']) expect(statusOf(`node-${node}`)).toEqual([{ status: 'invalid', reason: 'does_not_verify' }]);
    } finally {
      await c.close();
    }
  });
});
