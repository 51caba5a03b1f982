import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cmd, fixture } from './support/fleet.ts';
import type { Engine } from '../adapters/engine/index.ts';
import { copyEventStore } from './support/restored-folder.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * `credence serve` on a data folder whose events.db was restored from a backup older than the rest: it says which
 * read models it rebuilds, follows the restored log live (the events written after the restore, at positions the old
 * read models had passed, included), and reports the stopped transparency log instead of skipping events in it.
 */

/** Registers the nodes; resolves with the last position once the live components other than `except` handled it. */
const registerNodes = async (svc: TestService, ids: readonly string[], except?: string, engine: Engine = svc.service.context.credence.engine): Promise<bigint> => {
  let last = 0n;
  for (const id of ids) last = (await engine.execute(cmd.registerNode(id))).events.at(-1)!.position;
  const live = svc.service.context.live;
  if (except === undefined) {
    if (!(await live.caughtUp(last, 30_000))) throw new Error(`the live runtime did not catch up: ${JSON.stringify(await live.status())}`);
    return last;
  }
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 20))) {
    const others = (await live.status()).filter((c) => c.name !== except);
    if (others.every((c) => c.checkpoint !== undefined && BigInt(c.checkpoint) >= last)) return last;
  }
  throw new Error(`the live components did not catch up: ${JSON.stringify(await live.status())}`);
};

const get = async (svc: TestService, path: string): Promise<{ status: number; body: Record<string, unknown> }> => {
  const reply = await fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
  return { status: reply.status, body: (await reply.json()) as Record<string, unknown> };
};

describe('the service on an event store restored from an older backup', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-serve-restored-'));
  const backup = mkdtempSync(join(tmpdir(), 'credence-serve-backup-'));
  let svc: TestService | undefined;
  afterAll(async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(backup, { recursive: true, force: true });
  });

  it('rebuilds the read models, projects what is written after the restore, and reports the stopped transparency log', async () => {
    svc = await startTestService({ dir });
    await registerNodes(svc, ['meter-1', 'meter-2']);
    await svc.close();
    copyEventStore(dir, backup);
    svc = await startTestService({ dir });
    await registerNodes(svc, ['meter-3', 'meter-4', 'meter-5', 'meter-6']);
    await svc.close();
    copyEventStore(backup, dir);

    svc = await startTestService({ dir });
    const warnings = svc.logs().map((l) => JSON.parse(l) as { level: number; msg: string; projection?: string }).filter((l) => l.level === 40);
    expect(warnings.map((w) => w.projection)).toContain('audit');
    expect(warnings.find((w) => w.projection === 'audit')!.msg).toMatch(/^read model rebuilt from position 0: audit: the store holds no event at position \d+, which it handled last$/);

    // Written after the restore, at positions the old read models had passed, and past the old log's head: by another
    // engine on the same store, the service's own refusing commands while its log is stopped
    // (test/service-refuses-commands-while-its-transparency-log-is-of-another-log.test.ts).
    const restoredHead = (await svc.service.context.credence.store.headPosition())!;
    const ids = Array.from({ length: 12 }, (_, i) => `meter-${i + 7}`);
    const last = await registerNodes(svc, ids, 'transparency', fixture(svc.service.context.credence.store).engine);
    const db = svc.service.context.credence.readModels;
    const audited = (db.prepare("SELECT stream_id FROM audit_events WHERE type = 'NodeRegistered' ORDER BY position").all() as { stream_id: string }[]).map((r) => r.stream_id);
    expect(audited).toEqual(['meter-1', 'meter-2', ...ids].map((id) => `node-${id}`));

    // The stopped log is counted at no position of this log: behind by everything written since it started.
    const status = await get(svc, '/v1/projections');
    const transparency = (status.body['components'] as { name: string; error?: string; checkpoint?: string; eventsBehind: number }[]).find((c) => c.name === 'transparency');
    expect(transparency?.error).toMatch(/^the transparency log holds events the event store does not/);
    expect(transparency?.checkpoint).toBeUndefined();
    expect(transparency?.eventsBehind).toBeGreaterThanOrEqual(Number(last - restoredHead));
    expect(await svc.service.context.live.caughtUp(restoredHead, 50)).toBe(false);
    const proof = await get(svc, `/v1/transparency/proofs/inclusion?position=${last}`);
    expect(proof.status).toBe(503);
    expect(proof.body).toMatchObject({ type: 'https://credence.dev/problems/transparency_log_of_another_log', reason: expect.stringMatching(/^transparency: /) });
  }, 120_000);
});
