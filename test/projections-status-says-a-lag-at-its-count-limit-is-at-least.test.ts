/**
 * Review 398: `credence projections status` on a data folder counts each read model's events to handle up to a limit
 * (projectionLag, 1,000,000 by default) and printed the count as exact: a folder whose audit trail is 5,000,000
 * events behind read `1000000`. It now says `1000000 or more`, as `credence query` says its own count at its limit,
 * and `--json` marks such a count `eventsBehindAtLeast: true` (on the component and on `lag`).
 *
 * A million events are not built: the count's stop at its limit is shown below on a few events with a small limit,
 * and the status is run over a projectionLag that answers what such a count does on a store past the limit.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openReadModels } from '../adapters/driven/readmodels/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { auditTrail } from '../projections/audit/index.ts';
import { runCli } from './support/cli.ts';
import { cmd, fixture } from './support/fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

type Runtime = typeof import('../projections/runtime/index.ts');
const overLimit = { names: [] as string[] };
vi.mock('../projections/runtime/index.ts', async (importOriginal) => {
  const actual = await importOriginal<Runtime>();
  return {
    ...actual,
    // For the read models named, a store holding more events to handle than the count's limit: counted up to it.
    projectionLag: async (...args: Parameters<Runtime['projectionLag']>) => {
      const lag = await actual.projectionLag(...args);
      return overLimit.names.includes(lag.name) ? { ...lag, eventsBehind: args[3] ?? 1_000_000 } : lag;
    },
  };
});
afterEach(() => {
  overLimit.names = [];
});

const scratch = temporaryFolders('credence-projections-count-limit-');

const folder = async (): Promise<string> => {
  const dir = scratch();
  const store = openSqliteStoreInDir(dir);
  const { engine } = fixture(store);
  for (const c of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.registerNode('meter-2'), cmd.registerNode('meter-3')]) await engine.execute(c);
  await store.close();
  return dir;
};

interface Component {
  readonly name: string;
  readonly eventsBehind: number;
  readonly eventsBehindAtLeast?: boolean;
}

describe('credence projections status at the limit of its count', () => {
  it('counts up to the limit and stops there, however many more there are', async () => {
    const dir = await folder();
    expect((await runCli(['projections', '--data', dir])).code).toBe(0);
    const { projectionLag } = await vi.importActual<Runtime>('../projections/runtime/index.ts');
    const store = openSqliteStoreInDir(dir);
    const db = openReadModels({ dir });
    try {
      const audit = auditTrail();
      expect((await projectionLag(db, store, audit)).eventsBehind).toBe(4);
      expect((await projectionLag(db, store, audit, 2)).eventsBehind).toBe(2);
    } finally {
      db.close();
      await store.close();
    }
  });

  it('says a count that reached its limit is that many or more, in text and --json', async () => {
    const dir = await folder();
    overLimit.names = ['audit'];
    const text = await runCli(['projections', '--data', dir]);
    expect(text.code, text.err).toBe(0);
    const row = text.out.split('\n').find((l) => l.startsWith('audit '));
    expect(row).toMatch(/ 1000000 or more +\d+$/);
    // The other rows as they were: exact counts.
    expect(text.out.split('\n').filter((l) => l.includes('or more'))).toEqual([row]);

    const json = await runCli(['projections', '--data', dir, '--json']);
    expect(json.code, json.err).toBe(0);
    const status = JSON.parse(json.out) as { components: Component[]; lag: { eventsBehind: number; eventsBehindAtLeast?: boolean } };
    const audit = status.components.find((c) => c.name === 'audit');
    expect(audit).toMatchObject({ eventsBehind: 1_000_000, eventsBehindAtLeast: true });
    for (const c of status.components.filter((c) => c.name !== 'audit')) expect(c.eventsBehindAtLeast, c.name).toBeUndefined();
    expect(status.lag).toMatchObject({ eventsBehind: 1_000_000, eventsBehindAtLeast: true });
  });

  it('says an exact count as it is, with no such member', async () => {
    const dir = await folder();
    const json = await runCli(['projections', '--data', dir, '--json']);
    const status = JSON.parse(json.out) as { components: Component[]; lag: Record<string, unknown> };
    expect(status.components.some((c) => c.eventsBehind > 0)).toBe(true);
    for (const c of status.components) expect(c.eventsBehindAtLeast, c.name).toBeUndefined();
    expect(status.lag['eventsBehindAtLeast']).toBeUndefined();
    expect((await runCli(['projections', '--data', dir])).out).not.toContain('or more');
  });
});
