import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ServiceContext } from '../adapters/http/context.ts';
import { countsTold, findingsTold } from '../adapters/http/routes/replay-findings-told.ts';
import { ExpectedRevision, type EventToAppend } from '../domain/ports/event-store.ts';
import { FleetVerifier, findingsByNewerRules, findingsFollowingNewerRules, type Finding } from '../projections/replay/index.ts';
import { openApi, type Api } from './http-conformance.fixtures.ts';
import { forgedMetadata } from './replay.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 420 (F3): every GET /v1/replay, any read role's, ran the verdict again (the verifier's summarise: every
 * finding sorted and linked to its cause, one block of 4.3 s at 300,000 findings) even with no event appended, then
 * told every finding one microtask after another (no timer or I/O between them), even for limit=0. The route now
 * gives the verdict kept while the store holds nothing new, tells only the page, and counts in turns of the loop.
 * Counted, never timed: the summarising calls, and the turns the loop gets while findings are told.
 */
describe('the fleet replay route keeps its verdict until an event is appended, and tells findings in turns', () => {
  /** Unreadable events (a registration without its data): one finding each. */
  const FORGED = 3_000;
  let svc: TestService;
  let api: Api;
  const verdict = (token: string) => api.call('GET', '/v1/replay', {}, { token, query: { limit: '0' } });
  const unreadable = (): EventToAppend => ({ id: crypto.randomUUID(), type: 'NodeRegistered', data: {}, metadata: forgedMetadata(crypto.randomUUID(), new Date().toISOString()) });
  const forge = async (count: number, after?: bigint) =>
    svc.service.context.credence.store.appendToStream('node-meter-x', Array.from({ length: count }, unreadable), {
      expectedRevision: after === undefined ? ExpectedRevision.noStream : ExpectedRevision.after(after),
    });

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
  }, 60_000);
  afterAll(async () => svc?.close());
  afterEach(() => vi.restoreAllMocks());

  it('gives the kept verdict again while nothing is appended, and a new one once an event is', async () => {
    const appended = await forge(FORGED);
    const summarised = vi.spyOn(FleetVerifier.prototype, 'verdict');
    const first = await verdict(svc.tokens.auditor);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ ok: false, mode: 'full', findings: [], findingsTotal: FORGED, verifiedNow: FORGED });
    expect(summarised).toHaveBeenCalledTimes(1);

    // Two more requests, another role's among them: nothing appended, so nothing summarised again.
    const again = await verdict(svc.tokens.auditor);
    const operator = await verdict(svc.tokens.operator);
    expect(summarised).toHaveBeenCalledTimes(1);
    for (const reply of [again, operator]) {
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual({ ...first.body, mode: 'incremental', verifiedNow: 0 });
    }

    // Any event appended makes the next verdict a new one.
    await forge(1, appended.nextExpectedRevision);
    const next = await verdict(svc.tokens.auditor);
    expect(summarised).toHaveBeenCalledTimes(2);
    expect(next.body).toMatchObject({ mode: 'incremental', verifiedNow: 1, findingsTotal: FORGED + 1, events: first.body.events + 1 });
  }, 60_000);

  describe('telling a large set of findings', () => {
    /** Counts how often a setImmediate chain gets the loop while `work` runs: none for work done in microtasks only. */
    const turnsDuring = async <T>(work: () => Promise<T>): Promise<{ value: T; turns: number }> => {
      let turns = 0;
      let running = true;
      const tick = (): void => {
        if (!running) return;
        turns++;
        setImmediate(tick);
      };
      setImmediate(tick);
      try {
        return { value: await work(), turns };
      } finally {
        running = false;
      }
    };
    const MANY = 20_000;
    // Of nodes and pseudonyms, some by a newer rule, some following the finding before (a pseudonym's: a link it is told only to an auditor who resolved it).
    const findings: Finding[] = Array.from({ length: MANY }, (_, n) => ({
      streamId: n % 4 === 3 ? `pseudonym-p-${n}` : `node-meter-${n}`,
      position: BigInt(n + 1),
      revision: 0n,
      type: 'NodeRegistered',
      reason: 'refused',
      ...(n % 3 === 0 ? { rule: 'ownerIsLive', ruleSince: 'credence:machines:v2' } : {}),
      ...(n % 2 === 1 ? { followsFrom: { streamId: `node-meter-${n - 1}`, position: BigInt(n) } } : {}),
    }));
    // No principal: told of no pseudonym, which needs no directory.
    const context = {} as ServiceContext;

    it('lets the event loop turn while the findings are told', async () => {
      const { value, turns } = await turnsDuring(() => findingsTold(context, undefined, findings));
      expect(value).toHaveLength(MANY);
      expect(value.filter((f) => f.streamId.startsWith('pseudonym-') && f.followsFrom !== undefined)).toEqual([]);
      expect(turns).toBeGreaterThan(0);
    });

    it('counts the findings as told, letting the event loop turn', async () => {
      const told = await findingsTold(context, undefined, findings);
      const { value, turns } = await turnsDuring(() => countsTold(context, undefined, findings));
      expect(value).toEqual({ findingsByNewerRules: findingsByNewerRules(told), findingsFollowingNewerRules: findingsFollowingNewerRules(told) });
      // The untold links change the counts: the test tells them apart.
      expect(value.findingsByNewerRules).not.toBe(findingsByNewerRules(findings));
      expect(turns).toBeGreaterThan(0);
    });
  });
});
