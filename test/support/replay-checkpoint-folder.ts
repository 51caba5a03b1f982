import { expect } from 'vitest';
import { openSqliteStoreInDir } from '../../adapters/driven/store/index.ts';
import { main } from '../../bin/cli.ts';
import type { EventStore } from '../../domain/ports/index.ts';
import { capture } from './cli.ts';
import { cmd, establishOne, fixture } from './fleet.ts';

/**
 * A data folder `credence replay` verified once (its checkpoint written over one established association), with the
 * nodes `after` registered since, so the next run goes on from the checkpoint; `then` runs on the store before it closes.
 */
export const verifiedOnceWithNodesAfter = async <T = void>(
  dir: string,
  after: readonly string[],
  then?: (store: EventStore) => Promise<T>,
): Promise<T | undefined> => {
  const store = openSqliteStoreInDir(dir);
  try {
    const { engine } = fixture(store);
    await establishOne(engine);
    expect(await main(['replay', '--data', dir], capture().io)).toBe(0);
    for (const id of after) await engine.execute(cmd.registerNode(id));
    return await then?.(store);
  } finally {
    await store.close();
  }
};
