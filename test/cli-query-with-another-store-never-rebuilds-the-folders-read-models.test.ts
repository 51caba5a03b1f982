import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it, expect } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { runCli } from './support/cli.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 280: `credence query --data COPY --store sqlite:OTHER` reset COPY's read models, built from COPY's own log, and
 * rebuilt them from OTHER's: a read wrote another store's rows into the folder it named. It is refused now, naming the
 * read models and what to do, and the folder's read models are left byte for byte; read from the folder's own store they
 * answer as before.
 */
const folder = temporaryFolders('credence-query-another-store-');
const bytes = (dir: string) => Object.fromEntries(readdirSync(dir).filter((n) => n.startsWith('readmodels.db')).map((n) => [n, createHash('sha256').update(readFileSync(join(dir, n))).digest('hex')]));

it('refuses to rebuild the read models of a folder from a store given by --store that is not the one they were built from, and writes nothing', async () => {
  const copy = folder();
  const svc = await startTestService({ dir: copy });
  const { engine } = svc.service.context.credence;
  await engine.execute(cmd.registerNode('meter-copy'));
  const last = (await engine.execute(command('revokeNode', { nodeId: 'meter-copy', reason: 'keyCompromise' }, { actor: operator }))).events.at(-1)!.position;
  expect(await svc.service.context.live.caughtUp(last, 30_000)).toBe(true);
  await svc.close();
  const other = folder();
  const store = openSqliteStoreInDir(other);
  const e2 = createEngine({ store, clock: new FakeClock(T0) });
  for (let i = 0; i < 5; i++) await e2.execute(cmd.registerNode(`meter-${i}`));
  await e2.execute(command('revokeNode', { nodeId: 'meter-3', reason: 'keyCompromise' }, { actor: operator }));
  await store.close();
  const before = bytes(copy);
  const refused = await runCli(['query', 'revocations', '--json', '--data', copy, '--store', `sqlite:${other}`]);
  expect(refused.code).toBe(2);
  expect(refused.err).toContain('--store: the read models of');
  expect(refused.err).toContain('were built from another log');
  expect(refused.out).toBe('');
  expect(bytes(copy)).toEqual(before);
  // From the folder's own store: its own revocation, as before.
  const own = await runCli(['query', 'revocations', '--json', '--data', copy]);
  expect(own.code).toBe(0);
  expect(own.out).toContain('node-meter-copy');
  expect(own.out).not.toContain('node-meter-3');
}, 60_000);
