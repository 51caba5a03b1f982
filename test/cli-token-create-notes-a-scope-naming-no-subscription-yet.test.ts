/**
 * Review 368 (finding 3): `credence token create --role integrator --subscription nope` exited 0 without a word,
 * locally and through --server, though no subscription `nope` existed: a typo gave an integrator an empty stream and
 * nobody was told. Still issued (a subscription may be created later), but one stderr note names each scoped
 * subscription the store, or the server, does not hold yet; one it holds is not named.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';

const INTEGRATOR = ['token', 'create', '--role', 'integrator', '--subject', 'city-01', '--ttl', '1h'];
const notesOf = (err: string): string[] => err.split('\n').filter((line) => line.startsWith('note:'));

describe('token create with a scope naming a subscription not held (yet)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-scope-note-'));
  let svc: TestService;

  beforeAll(async () => {
    svc = await startTestService({ dir });
    const created = await fetch(new URL('/v1/commands', svc.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'createSubscription', data: { subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: '2026-01-01T00:00:00Z', notAfter: '2099-01-01T00:00:00Z' } }),
    });
    expect(created.status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('through --server (an admin token): issued, exit 0, one note naming nope and not sub-1', async () => {
    const run = await runCli([...INTEGRATOR, '--server', svc.url, '--token', svc.tokens.admin, '--subscription', 'sub-1', '--subscription', 'nope']);
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/^\S+\.\S+\.\S+$/);
    const notes = notesOf(run.err);
    expect(notes, run.err).toHaveLength(1);
    expect(notes[0]).toMatch(/\bnope\b/);
    expect(notes[0]).not.toMatch(/\bsub-1\b/);
  });

  it('through --server, every subscription held: no note', async () => {
    const run = await runCli([...INTEGRATOR, '--server', svc.url, '--token', svc.tokens.admin, '--subscription', 'sub-1']);
    expect(run.code, run.err).toBe(0);
    expect(notesOf(run.err)).toEqual([]);
  });

  it('on the data folder: the same note, from its store', async () => {
    const run = await runCli([...INTEGRATOR, '--data', dir, '--subscription', 'nope', '--subscription', 'sub-1', '--app-id', 'Rapp01']);
    expect(run.code, run.err).toBe(0);
    const notes = notesOf(run.err);
    expect(notes, run.err).toHaveLength(1);
    expect(notes[0]).toMatch(/\bnope\b/);
    expect(notes[0]).not.toMatch(/\bsub-1\b/);
  });

  it('on a new data folder, which holds no subscription at all: the note names each', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'credence-scope-note-new-'));
    try {
      const run = await runCli([...INTEGRATOR, '--data', join(fresh, 'data'), '--subscription', 'nope', '--subscription', 'typo']);
      expect(run.code, run.err).toBe(0);
      const notes = notesOf(run.err).filter((line) => line.includes('subscription'));
      expect(notes, run.err).toHaveLength(1);
      expect(notes[0]).toMatch(/\bnope\b.*\btypo\b/);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('on a folder made before whose events.db is elsewhere (its service names its store itself): no note, nothing told wrongly (review 374)', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'credence-scope-note-elsewhere-'));
    try {
      const data = join(fresh, 'data');
      // A first token made the folder (as for a service whose unit sets CREDENCE_STORE, or serve --store): no events.db.
      expect((await runCli([...INTEGRATOR, '--data', data])).code).toBe(0);
      const run = await runCli([...INTEGRATOR, '--data', data, '--subscription', 'sub-1']);
      expect(run.code, run.err).toBe(0);
      expect(notesOf(run.err).filter((line) => line.includes('subscription')), run.err).toEqual([]);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('an App-ID scope alone: no subscription note', async () => {
    const run = await runCli([...INTEGRATOR, '--data', dir, '--app-id', 'Rapp01']);
    expect(run.code, run.err).toBe(0);
    expect(notesOf(run.err)).toEqual([]);
  });
});
