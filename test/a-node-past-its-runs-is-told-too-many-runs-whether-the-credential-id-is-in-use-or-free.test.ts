/**
 * Review 333 (medium): only the `unused` refusal (a credential id in use) spent one of a node's runs of the replay
 * window; every other refusal after the admission spends none (review 319). So a node past its runs was told
 * `too_many_runs` for an id in use but `credential_mismatch` (or any other refusal) for a free one: an unbounded oracle
 * over anyone's credential ids. Past its runs, a node's every auth is now `too_many_runs`, asked before the admission,
 * and the question takes no run itself.
 */
import { describe, expect, it } from 'vitest';
import { MemoryReplayCache } from '../adapters/driven/replay-cache/replay-cache.ts';
import { isCredenceError, validationError } from '../domain/errors.ts';
import { EF_ID, provisioningWorld } from './provisioning-protocol.fixtures.ts';

const RUNS = 2;

const why = (error: unknown): string | undefined => {
  if (isCredenceError(error, 'protocol') && error.problem.code === 'protocol') return error.problem.reason;
  if (isCredenceError(error, 'validation') && error.problem.code === 'validation') return error.problem.issues[0]?.rule;
  return undefined;
};

describe('a node past its runs of the replay window', () => {
  it('is told too_many_runs for an id in use and for a free one alike, and is not admitted', async () => {
    const cache = new MemoryReplayCache({ windowSeconds: 900, maxEntries: 1000 });
    const admitted: string[] = [];
    const w = await provisioningWorld({
      bootstrapKind: 'ed25519',
      ef: {
        replayCache: cache,
        runsPerInitiator: RUNS,
        admitAuthenticatedRun: async ({ hello }) => {
          admitted.push(hello.credentialId ?? '');
          if (hello.credentialId?.startsWith('taken-') === true) {
            throw validationError([{ path: 'credentialId', rule: 'unused', message: 'not available' }], 'provisioning run');
          }
        },
        keyCertified: async () => true,
      },
    });
    const space = cache.namespace(`provisioning:${EF_ID}`);
    const auth = async (credentialId: string) => {
      const session = await w.client.start({ credentialKind: 'ed25519', credentialId });
      const challenge = await w.ef.acceptHello(session.hello);
      const answer = await w.ef.acceptAuth(await session.acceptChallenge(challenge)).then(() => undefined, (error: unknown) => why(error) ?? error);
      await session.abort();
      return answer;
    };
    // Within its runs: a free id is refused for its key (credential_mismatch, spending none), an id in use is `unused`.
    expect(await auth('free-first')).toBe('credential_mismatch');
    for (let i = 0; i < RUNS; i++) expect(await auth(`taken-${i}`)).toBe('unused');
    expect(space.size).toBe(3 * RUNS);
    admitted.length = 0;
    const past: unknown[] = [];
    for (let i = 2; i < 5; i++) past.push(await auth(`taken-${i}`));
    for (let i = 0; i < 4; i++) past.push(await auth(`free-${i}`));
    expect(past).toEqual(Array(7).fill('too_many_runs'));
    // Told before the admission: no id named past the runs is looked up, and the question wrote nothing.
    expect(admitted).toEqual([]);
    expect(space.size).toBe(3 * RUNS);
    expect(w.ef.sessionCount).toBe(0);
  });
});
