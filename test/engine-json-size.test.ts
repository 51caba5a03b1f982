import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { jsonLength } from '../adapters/engine/json-size.ts';
import { cmd, T0 } from './support/fleet.ts';

describe("the entity cache's JSON length of a context, measured without building the JSON", () => {
  it('equals JSON.stringify(value).length for the values contexts hold', () => {
    const values: unknown[] = [
      {},
      [],
      { a: 1, b: -12, c: 1767225600000, d: 0.5, e: 1e21, f: true, g: false, h: null, i: 'x', j: '' },
      { nested: { list: [1, 'two', null, { three: [true] }], empty: {} }, skipped: undefined, unicode: 'é日🔑' },
      [undefined, 1, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 9],
      { at: new Date(Date.UTC(2026, 0, 1)), list: [new Date(0)] },
      'plain',
      42,
      null,
    ];
    for (const value of values) expect(jsonLength(value)).toBe(JSON.stringify(value).length);
  });

  it('equals JSON.stringify for the contexts of every kind of entity the lifecycle builds', async () => {
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential(), cmd.configureAssociation(), cmd.establishAssociation()]) {
      await engine.execute(c);
    }
    const entities = [
      await engine.entity('subscription', 'sub-1'),
      await engine.entity('node', 'meter-1'),
      await engine.entity('credential', 'cred-1'),
      await engine.entity('association', 'sa-1'),
    ];
    for (const entity of entities) {
      expect(JSON.stringify(entity.snapshot.context).length).toBeGreaterThan(20);
      expect(jsonLength(entity.snapshot.context)).toBe(JSON.stringify(entity.snapshot.context).length);
    }
    await store.close();
  });
});
