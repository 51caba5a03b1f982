/**
 * Review 150: `credence projections rebuild all --json` printed one JSON document per read model, six one after
 * another, which no JSON reader takes as one answer; it prints one now, `{ rebuilt: [{ name, events, rules? }] }`.
 * And the name was judged only once the folder was open: a typo on a folder without read models left a new empty
 * readmodels.db behind its refusal, and beside a running service was reported as the lock's refusal (exit 1).
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { lockDataFolder, openCredence, type DataFolderLock } from '../adapters/runtime/index.ts';
import { runCli } from './support/cli.ts';
import { cmd, T0 } from './support/fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-rebuild-json-');

/** A data folder holding two nodes' events. */
const withEvents = async (): Promise<string> => {
  const dir = folder();
  const credence = openCredence({ location: { dir }, clock: new FakeClock(T0) });
  for (const id of ['meter-1', 'meter-2']) await credence.engine.execute(cmd.registerNode(id));
  await credence.settle();
  await credence.close();
  return dir;
};

/** Every file of the folder with its size and last change: what a refused command must leave as it was. */
const filesOf = (dir: string) => readdirSync(dir).sort().map((name) => {
  const s = statSync(join(dir, name));
  return [name, s.size, s.mtimeMs];
});

describe('credence projections rebuild --json', () => {
  it('all: one document naming every read model rebuilt and the events it read', async () => {
    const dir = await withEvents();
    const run = await runCli(['projections', 'rebuild', 'all', '--data', dir, '--json']);
    expect(run.code, run.err).toBe(0);
    const answer = JSON.parse(run.out) as { rebuilt: { name: string; events: number; rules?: string }[] };
    expect(answer.rebuilt.map((r) => r.name)).toEqual(['cascade', 'expiry', 'audit', 'compliance', 'entities', 'pki']);
    expect(answer.rebuilt.find((r) => r.name === 'audit')).toEqual({ name: 'audit', events: 2, rules: expect.any(String) });
    expect(answer.rebuilt.every((r) => Number.isInteger(r.events))).toBe(true);
  });
});

describe('credence projections rebuild of a name no projection has', () => {
  let lock: DataFolderLock | undefined;
  afterEach(() => {
    lock?.release();
    lock = undefined;
  });

  it('on a folder without read models: refused (exit 2) naming the known ones, and no file written', async () => {
    const dir = await withEvents();
    for (const name of readdirSync(dir)) if (name.startsWith('readmodels.db')) rmSync(join(dir, name));
    const before = filesOf(dir);
    const run = await runCli(['projections', 'rebuild', 'bogus', '--data', dir]);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/unknown projection bogus \(known: cascade, expiry, audit, compliance, entities, pki, all\)/);
    expect(filesOf(dir)).toEqual(before);
  });

  it('beside a running service: the name is what is refused (exit 2), not the folder in use', async () => {
    const dir = await withEvents();
    lock = lockDataFolder(dir);
    const run = await runCli(['projections', 'rebuild', 'bogus', '--data', dir]);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/unknown projection bogus/);
    expect(run.err).not.toMatch(/in use|stop that service/);
  });
});
