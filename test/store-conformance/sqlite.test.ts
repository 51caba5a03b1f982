import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore, openSqliteStoreInDir } from '../../adapters/driven/store/index.ts';
import { describeStoreConformance } from './suite.ts';

describeStoreConformance('sqlite in memory', async () => ({ store: openSqliteStore({ memory: true }) }));

// A page of two rows makes every read and subscription above cross page boundaries.
describeStoreConformance('sqlite in memory, two-row pages', async () => ({
  store: openSqliteStore({ memory: true, pageSize: 2 }),
}));

describeStoreConformance('sqlite file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'credence-store-'));
  return { store: openSqliteStoreInDir(join(dir, 'data')), cleanup: () => rm(dir, { recursive: true, force: true }) };
});
