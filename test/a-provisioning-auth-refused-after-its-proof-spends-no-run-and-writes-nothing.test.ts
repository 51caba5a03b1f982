/**
 * Review 319 (low): a provisioning auth refused after the node's proof (its credential id `in_flight`, no lifetime
 * left, a new key already certified) still wrote its nonce, transcript and a run slot to the replay cache: the run was
 * remembered before those checks. 32 such refusals in the replay window, `in_flight` retries above all (the device is
 * told to retry shortly with the same id), and even an auth for a free id was refused `too_many_runs`. The Registrar
 * refuses `lifetime_exhausted` before remembering anything (a-credential-with-no-lifetime-left-is-refused-after-its-
 * proof.test.ts); now the Enrolment Function does too, for every refusal that makes no key. Only the `unused` refusal,
 * a probe of whether an id is in use, takes a run slot, on purpose: docs/service.md bounds such probes by the runs of
 * the replay window.
 */
import { describe, expect, it } from 'vitest';
import { MemoryReplayCache } from '../adapters/driven/replay-cache/replay-cache.ts';
import type { EnrolmentFunctionOptions } from '../adapters/protocols/enrolment/enrolment-function.ts';
import { isCredenceError, validationError } from '../domain/errors.ts';
import type { CredentialKind } from '../domain/crypto/credential.ts';
import { EF_ID, provisioningWorld } from './provisioning-protocol.fixtures.ts';

const RUNS = 2;

const idRefusal = (rule: 'in_flight' | 'unused') => validationError([{ path: 'credentialId', rule, message: `credential id ${rule}` }], 'provisioning run');

/** Why `error` refused: a protocol reason, or a validation rule. */
const why = (error: unknown): string | undefined => {
  if (isCredenceError(error, 'protocol') && error.problem.code === 'protocol') return error.problem.reason;
  if (isCredenceError(error, 'validation') && error.problem.code === 'validation') return error.problem.issues[0]?.rule;
  return undefined;
};

/** An Enrolment Function allowing RUNS runs per node in its replay window, its other options as `ef` says. */
const world = async (ef: Partial<EnrolmentFunctionOptions>) => {
  const cache = new MemoryReplayCache({ windowSeconds: 900, maxEntries: 1000 });
  const ended: string[] = [];
  const w = await provisioningWorld({
    bootstrapKind: 'ed25519',
    ef: { replayCache: cache, runsPerInitiator: RUNS, runEnded: ({ sessionId }) => ended.push(sessionId), ...ef },
  });
  const space = cache.namespace(`provisioning:${EF_ID}`);
  /** One run up to its auth's answer: undefined when delivered, else why it was refused. */
  const auth = async (kind: CredentialKind, credentialId: string) => {
    const session = await w.client.start({ credentialKind: kind, credentialId });
    const challenge = await w.ef.acceptHello(session.hello);
    const answer = await w.ef.acceptAuth(await session.acceptChallenge(challenge)).then(() => undefined, (error: unknown) => why(error) ?? error);
    await session.abort();
    return { answer, sessionId: challenge.sessionId };
  };
  return { w, space, ended, auth };
};

describe('a provisioning auth refused after its proof, before any key is made', () => {
  it('in_flight, again and again: nothing written, no run slot spent, and the node then provisions', async () => {
    let refuse = true;
    const { w, space, auth } = await world({ admitAuthenticatedRun: async () => {
      if (refuse) throw idRefusal('in_flight');
    } });
    for (let i = 0; i <= RUNS; i++) expect((await auth('p256', 'svc-1')).answer).toBe('in_flight');
    expect(space.size).toBe(0);
    expect(w.ef.sessionCount).toBe(0);
    refuse = false;
    expect((await auth('p256', 'svc-1')).answer).toBeUndefined();
  });

  it.each(['psk256', 'p256'] as const)('%s: lifetime_exhausted writes nothing and spends no run slot', async (kind) => {
    let endsAt: string | undefined;
    const { w, space, auth } = await world({ subscriptionEndsAt: async () => endsAt });
    endsAt = w.clock.now().toISOString();
    for (let i = 0; i <= RUNS; i++) expect((await auth(kind, 'svc-1')).answer).toBe('lifetime_exhausted');
    expect(space.size).toBe(0);
    endsAt = undefined;
    expect((await auth(kind, 'svc-1')).answer).toBeUndefined();
  });

  it('a new key already certified (credential_mismatch) writes nothing and spends no run slot', async () => {
    let certified = true;
    const { space, auth } = await world({ keyCertified: async () => certified });
    for (let i = 0; i <= RUNS; i++) expect((await auth('ed25519', 'svc-1')).answer).toBe('credential_mismatch');
    expect(space.size).toBe(0);
    certified = false;
    expect((await auth('ed25519', 'svc-1')).answer).toBeUndefined();
  });

  it('unused, a probe of whether an id is in use, takes a run slot on purpose: past the bound it is too_many_runs', async () => {
    const { space, auth } = await world({ admitAuthenticatedRun: async () => {
      throw idRefusal('unused');
    } });
    for (let i = 0; i < RUNS; i++) expect((await auth('p256', `taken-${i}`)).answer).toBe('unused');
    expect(space.size).toBe(3 * RUNS);
    expect((await auth('p256', 'taken-more')).answer).toBe('too_many_runs');
    expect(space.size).toBe(3 * RUNS);
  });

  it('too_many_runs after the admission (a concurrent run took the last run) ends the run, so its cleanup releases what the admission claimed', async () => {
    const admitted: string[] = [];
    let concurrent: (() => Promise<void>) | undefined;
    const { space, ended, auth } = await world({ admitAuthenticatedRun: async ({ sessionId }) => {
      admitted.push(sessionId);
      await concurrent?.();
    } });
    for (let i = 0; i < RUNS - 1; i++) expect((await auth('p256', `svc-${i}`)).answer).toBeUndefined();
    // Past the check that a run is left (review 333), before this run takes it: another run of the node takes the last.
    concurrent = async () => {
      concurrent = undefined;
      expect((await auth('p256', 'svc-concurrent')).answer).toBeUndefined();
    };
    const refused = await auth('p256', 'svc-more');
    expect(refused.answer).toBe('too_many_runs');
    expect(admitted).toContain(refused.sessionId);
    expect(ended).toContain(refused.sessionId);
    expect(space.size).toBe(3 * RUNS);
  });
});
