import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { replayAll, replayEntity } from '../projections/replay/index.ts';
import { FOREIGN_CLAIM } from '../projections/replay/foreign-claims.ts';
import { cmd, T0 } from './support/fleet.ts';

/*
 * Review 323: on the embedded store, which writes no fact claims, the fleet replay (and its workers) flag any claim
 * as foreign, a malformed one too; the one entity's replay (`credence history`, `credence state --at`) read the
 * record first and said "unreadable: malformed fact claim" of it. It now asks whether the record is a claim on such a
 * store first, as the fleet replay does, and words it alike.
 */
describe('a malformed fact claim on the embedded store', () => {
  it('is a foreign claim in the one entity replay, as in the fleet replay', async () => {
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1')]) await engine.execute(c);
    const stream = await store.readStream('credential-cred-1');
    await store.appendToStream('credential-cred-1', [{ id: randomUUID(), type: FACT_CLAIM_TYPE, data: { claimant: 42 }, metadata: {} }], {
      expectedRevision: ExpectedRevision.after(stream.at(-1)?.revision),
    });
    const fleet = (await replayAll(store)).findings.map((f) => f.reason);
    expect(fleet).toEqual([FOREIGN_CLAIM]);
    const entity = await replayEntity(store, 'credential-cred-1');
    expect(entity.verdict.ok ? [] : entity.verdict.findings.map((f) => f.reason)).toEqual(fleet);
    await store.close();
  });
});
