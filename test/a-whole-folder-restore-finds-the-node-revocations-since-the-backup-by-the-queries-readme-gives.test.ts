/**
 * Review 226: README's "Restoring a whole data folder" put back tokens, published certificates and destroyed keys,
 * but no step compared the revocations of the two logs, so a node revoked for key compromise since the backup (its
 * credentials and association revoked by the cascade) served again after following it. Its steps now give the two
 * `credence query revocations` of "Restoring `events.db`" step 6, reading the folder moved aside whole where it is
 * (nothing in it written); and step 6 no longer sends the restored log into that folder, over the newer one. Review
 * 227: a subscription an operator terminated since was found by no query the step gave (only the process manager's
 * actions were asked for): the step asks for each actor's, an operator's too.
 */
import { createHash } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { runCli } from './support/cli.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-whole-restore-revocations-');
const REPO = join(import.meta.dirname, '..');

/** README's "Restoring a whole data folder" section, its wrapped lines joined. */
const wholeFolderSection = (): string => {
  const text = readFileSync(join(REPO, 'README.md'), 'utf8');
  const start = text.indexOf('**Restoring a whole data folder**');
  const end = text.indexOf('Restore the folder whole:', start);
  expect(start).toBeGreaterThan(0);
  return text.slice(start, end).replace(/\n\s*/g, ' ');
};

/** The records of a folder (SQLite's `-shm` index left out: every reader rebuilds it), by digest. */
const records = (dir: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && !e.name.endsWith('-shm') && e.name !== 'service-lock.db')
      .map((e) => join(e.parentPath, e.name))
      .sort()
      .map((path) => [path, createHash('sha256').update(readFileSync(path)).digest('hex')]),
  );

describe('README, "Restoring a whole data folder"', () => {
  it('gives the queries that name a node revoked since the backup, reading the folder moved aside without writing it', async () => {
    const section = wholeFolderSection();
    const asideQuery = 'credence query revocations --store sqlite:<data>.before-restore --data <scratch> --from <time>';
    const restoredQuery = 'credence query revocations --data <data> --from <time>';
    expect(section).toContain(asideQuery);
    expect(section).toContain(restoredQuery);
    const actionsQuery = 'credence query actions --actor <actor> --store sqlite:<data>.before-restore --data <scratch> --from <time>';
    expect(section).toContain(actionsQuery);
    for (const said of ['`system:process-manager`', '`system:expiry-scheduler`', "each operator's actor id", 'credence token list --all --data <data>.before-restore']) expect(section).toContain(said);
    expect(section).toContain('never into `<data>.before-restore/`');

    const root = folder();
    const data = join(root, 'data');
    const backup = join(root, 'backup');
    const aside = `${data}.before-restore`;
    const clock = new FakeClock(T0);
    let svc = await startTestService({ dir: data, clock });
    await svc.service.context.credence.engine.execute(cmd.registerNode('meter-3'));
    await svc.service.context.credence.engine.execute(cmd.createSubscription('sub-9'));
    await svc.service.context.credence.settle();
    await svc.close();
    cpSync(data, backup, { recursive: true });
    svc = await startTestService({ dir: data, clock });
    clock.advance(60_000);
    await svc.service.context.credence.engine.execute(command('revokeNode', { nodeId: 'meter-3', reason: 'keyCompromise' }, { actor: operator }));
    await svc.service.context.credence.engine.execute(command('terminateSubscription', { subscriptionId: 'sub-9', reason: 'contract ended' }, { actor: operator }));
    await svc.service.context.credence.settle();
    await svc.close();
    renameSync(data, aside);
    cpSync(backup, data, { recursive: true });

    const before = records(aside);
    const fill = (q: string) =>
      q.replace('credence ', '').replaceAll('<data>', data).replace('<scratch>', folder()).replace('<time>', T0).split(' ').concat('--json');
    const listed = await runCli(fill(asideQuery));
    expect(listed.code, listed.err).toBe(0);
    expect(listed.out).toContain('node-meter-3');
    expect(listed.out).toContain('keyCompromise');
    // The operator's termination, by the operator's own actions.
    const ended = await runCli(fill(actionsQuery.replace('<actor>', operator.id)));
    expect(ended.code, ended.err).toBe(0);
    expect(ended.out).toContain('SubscriptionTerminated');
    expect(ended.out).toContain('subscription-sub-9');
    expect(records(aside)).toEqual(before);

    svc = await startTestService({ dir: data, clock });
    try {
      const restored = await runCli(fill(restoredQuery));
      expect(restored.code, restored.err).toBe(0);
      expect(restored.out).not.toContain('node-meter-3');
    } finally {
      await svc.close();
    }
  }, 120_000);
});
