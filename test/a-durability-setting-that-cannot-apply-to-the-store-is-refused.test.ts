/**
 * Review 324 item 4: the durability setting applies to the embedded store in a folder only. Beside an EventStoreDB
 * store (whose durability is the server's) or an in-memory one (nothing is synced) it was accepted and did nothing, so a
 * deployment believed a setting that had no effect. Refused now as a check of two settings, naming where each was set.
 * Review 333: only `normal` is refused there; `full`, the default, changes nothing and is taken, so a template that names
 * it explicitly serves any store.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { loadServiceConfig } from '../adapters/http/config.ts';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-durability-applies-');

const issuesOf = (sources: Parameters<typeof loadServiceConfig>[0]) => {
  try {
    loadServiceConfig(sources);
  } catch (error) {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') return error.problem.issues;
    throw error;
  }
  throw new Error('accepted');
};

describe('a durability setting beside a store it cannot apply to', () => {
  it.each([
    ['an EventStoreDB store', 'esdb://localhost:2113?tls=false'],
    ['a KurrentDB store', 'kurrentdb://localhost:2113?tls=false'],
    ['an in-memory store', 'sqlite::memory:'],
    ['an in-memory store naming the same durability', 'sqlite::memory:?durability=normal'],
  ])('%s is refused, naming both settings and their sources', (_what, store) => {
    const [issue, ...more] = issuesOf({ env: { CREDENCE_DURABILITY: 'normal' }, flags: { store } });
    expect(more).toEqual([]);
    expect(issue).toMatchObject({ path: 'env CREDENCE_DURABILITY', rule: 'durability_not_applicable' });
    expect(issue!.message).toContain('(store from flag --store)');
  });

  it('from the file, against the environment store', () => {
    const file = join(scratch(), 'credence.json');
    writeFileSync(file, JSON.stringify({ durability: 'normal' }));
    const [issue] = issuesOf({ file, env: { CREDENCE_STORE: 'esdb://localhost:2113?tls=false' } });
    expect(issue).toMatchObject({ path: `file ${file}: durability`, rule: 'durability_not_applicable' });
    expect(issue!.message).toContain('(store from env CREDENCE_STORE)');
  });

  it.each([
    ['an EventStoreDB store', 'esdb://localhost:2113?tls=false'],
    ['an in-memory store', 'sqlite::memory:'],
    ['an in-memory store naming full', 'sqlite::memory:?durability=full'],
  ])('full, the default, is taken beside %s: it changes nothing there', (_what, store) => {
    const file = join(scratch(), 'credence.json');
    writeFileSync(file, JSON.stringify({ durability: 'full', store }));
    expect(loadServiceConfig({ file }).store).toBe(store);
    expect(loadServiceConfig({ env: { CREDENCE_DURABILITY: 'full' }, flags: { store } }).store).toBe(store);
  });

  it('full beside an in-memory store naming normal is the conflict it is', () => {
    const [issue] = issuesOf({ env: { CREDENCE_DURABILITY: 'full' }, flags: { store: 'sqlite::memory:?durability=normal' } });
    expect(issue).toMatchObject({ path: 'env CREDENCE_DURABILITY', rule: 'durability_conflict' });
  });

  it('is taken with the embedded store in a folder, by default or named', () => {
    expect(loadServiceConfig({ env: { CREDENCE_DURABILITY: 'normal' } }).durability).toBe('normal');
    expect(loadServiceConfig({ env: { CREDENCE_DURABILITY: 'normal' }, flags: { store: 'sqlite:/tmp/x' } }).durability).toBe('normal');
    expect(loadServiceConfig({ flags: { store: 'esdb://localhost:2113?tls=false' } }).durability).toBeUndefined();
  });

  it('serve refuses it with exit 2 before anything opens', async () => {
    const data = join(scratch(), 'data');
    const run = await runCli(['serve', '--data', data, '--store', 'sqlite::memory:'], { CREDENCE_DURABILITY: 'normal' });
    expect(run.code).toBe(2);
    expect(run.err).toContain('env CREDENCE_DURABILITY');
    expect(run.err).toContain('(store from flag --store)');
  });
});
