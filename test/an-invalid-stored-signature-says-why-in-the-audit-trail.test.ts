/**
 * Review 182, finding 3: the audit trail said `invalid` with nothing more, for a forged or altered record and for a
 * key merely no longer in the policy alike, while the verifier's comments and the README promised a reason. Now the
 * stored re-check says why (`unknown_key`, `retired`, `does_not_verify`, ...), the audit trail keeps it beside the
 * status and the timeline serves it; the status words are the ones they were.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { storedSignatureCheck, storedSignatureJudgement, type RequestSigningPolicyInput } from '../domain/signing/index.ts';
import { decodeStored } from '../domain/stored.ts';
import { timeline } from '../projections/audit/index.ts';
import { operator, T0 } from './support/fleet.ts';
import { AUDIENCE, recordSignedAndAltered } from './support/signed-fleet.ts';
import { openApi, settled } from './http-conformance.fixtures.ts';
import { startTestService } from './support/service.ts';

const alice = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const bob = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const keyOf = (publicKey: Uint8Array) => ({ actorId: operator.id, roles: ['operator' as const], algorithm: 'ed25519' as const, publicKey: toBase64url(publicKey) });
const policy: RequestSigningPolicyInput = { audience: AUDIENCE, require: 'all', keys: [keyOf(alice.publicKey)] };

describe('an invalid stored signature says why (review 182, finding 3)', () => {
  it('the timeline carries the reason beside `invalid`, and none beside `verified`', async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0), signing: policy });
    try {
      await recordSignedAndAltered(c, alice.secretKey);
      await c.settle();
      expect(timeline(c.readModels, 'subscription-sub-1').map((e) => e.signature)).toEqual([
        { status: 'verified', keyFingerprint: expect.stringMatching(/^sha256:/) },
      ]);
      expect(timeline(c.readModels, 'subscription-sub-2').map((e) => e.signature)).toEqual([
        { status: 'invalid', reason: 'does_not_verify', keyFingerprint: expect.stringMatching(/^sha256:/) },
      ]);
    } finally {
      await c.close();
    }
  });

  it('a key no longer in the policy, a key retired before the event and altered bytes read as three reasons', async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0), signing: policy });
    try {
      await recordSignedAndAltered(c, alice.secretKey);
      const [genuine] = await c.store.readStream('subscription-sub-1');
      const [altered] = await c.store.readStream('subscription-sub-2');
      const decoded = [decodeStored(genuine!), decodeStored(altered!)].map((d) => {
        if (!d.ok) throw new Error(d.reason);
        return d.value;
      });
      const [signed, forged] = decoded as [NonNullable<(typeof decoded)[0]>, NonNullable<(typeof decoded)[0]>];
      const removed = { ...policy, keys: [keyOf(bob.publicKey)] };
      const retired = { ...policy, keys: [{ ...keyOf(alice.publicKey), retiredAt: signed.metadata.occurredAt }] };

      expect(storedSignatureJudgement(policy)(signed)).toEqual({ status: 'verified' });
      expect(storedSignatureJudgement(removed)(signed)).toEqual({ status: 'invalid', reason: 'unknown_key' });
      expect(storedSignatureJudgement(retired)(signed)).toEqual({ status: 'invalid', reason: 'retired' });
      expect(storedSignatureJudgement({ ...policy, audience: 'credence:elsewhere' })(signed)).toEqual({ status: 'invalid', reason: 'other_audience' });
      expect(storedSignatureJudgement(policy)(forged)).toEqual({ status: 'invalid', reason: 'does_not_verify' });
      // The status alone, as every caller before this change read it.
      expect(storedSignatureCheck(removed)(signed)).toBe('invalid');
    } finally {
      await c.close();
    }
  });

  it('GET /v1/entities/{kind}/{id}/timeline serves the reason', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'credence-invalid-reason-'));
    const file = join(folder, 'signing.json');
    writeFileSync(file, JSON.stringify(policy));
    const svc = await startTestService({ config: { signing: file } });
    try {
      await recordSignedAndAltered(svc.service.context.credence, alice.secretKey);
      await settled(svc);
      const api = await openApi(svc);
      const entries = async (id: string) =>
        (await api.call<{ entries: { signature: unknown }[] }>('GET', '/v1/entities/{kind}/{id}/timeline', { kind: 'subscription', id }, { token: svc.tokens.auditor })).body.entries;
      expect((await entries('sub-1')).map((e) => e.signature)).toEqual([{ status: 'verified', keyFingerprint: expect.stringMatching(/^sha256:/) }]);
      expect((await entries('sub-2')).map((e) => e.signature)).toEqual([
        { status: 'invalid', keyFingerprint: expect.stringMatching(/^sha256:/), reason: 'does_not_verify' },
      ]);
    } finally {
      await svc.close();
      rmSync(folder, { recursive: true, force: true });
    }
  }, 60_000);
});
