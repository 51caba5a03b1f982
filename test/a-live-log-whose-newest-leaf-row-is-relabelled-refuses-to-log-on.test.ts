import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';
import { leavesOf, newestLeafOf, withLog, type LeafRow } from './support/transparency-leaf-rows.ts';

/*
 * Review 262's follow-up: the newest leaf row relabelled under a running service (its position rewritten with sqlite3).
 * The log resumes after its newest row's position, checked against the store at the first catch-up only: a position
 * moved back had the next catch-up log events again, or fail on a bare SQLite constraint; one moved ahead had every
 * event up to it passed over as logged, acknowledged and never logged. The live log refuses as the audit does.
 */

const dirs: string[] = [];
let svc: TestService | undefined;
afterEach(async () => {
  await svc?.close();
  svc = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const registerNode = async (s: TestService, nodeId: string) =>
  (
    await fetch(`${s.url}/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'registerNode', data: { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] } } }),
    })
  ).status;

const relabelNewest = (dir: string, position: number): LeafRow => {
  const newest = newestLeafOf(dir);
  withLog(dir, false, (db) => {
    db.prepare(`UPDATE leaves SET stream_id = 'node-meter-3x', revision = 0, position = ? WHERE leaf_index = ?`).run(position, newest.leaf_index);
  });
  return newest;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const readyz = async (s: TestService) => {
  const reply = await fetch(`${s.url}/readyz`);
  return { status: reply.status, body: (await reply.json()) as Record<string, unknown> };
};

const putBack = (dir: string, row: LeafRow, revision: number): void =>
  withLog(dir, false, (db) => {
    db.prepare('UPDATE leaves SET stream_id = ?, revision = ?, position = ? WHERE leaf_index = ?').run(row.stream_id, revision, row.position, row.leaf_index);
  });

const revisionOf = (dir: string, leafIndex: number): number =>
  withLog(dir, true, (db) => (db.prepare('SELECT revision FROM leaves WHERE leaf_index = ?').get(leafIndex) as { revision: number }).revision);

for (const [moved, to] of [['back', 0], ['ahead', 1_000_000]] as const) {
  it(`stops logging once its newest leaf row is relabelled under it (position moved ${moved}): nothing logged twice or passed over, not ready, and goes on once the row is put back`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-relabel-live-'));
    dirs.push(dir);
    svc = await startTestService({ dir });
    expect(await registerNode(svc, 'meter-1')).toBe(201);
    expect(await registerNode(svc, 'meter-2')).toBe(201);
    const before = leavesOf(dir);
    const revision = revisionOf(dir, before.at(-1)!.leaf_index);
    const relabelled = relabelNewest(dir, to);

    // Whatever the command is answered, its events are not logged over the altered row, and none twice.
    const command = registerNode(svc, 'meter-3');
    await sleep(1500);
    const during = leavesOf(dir);
    expect(during.slice(0, -1)).toEqual(before.slice(0, -1));
    expect(during.length).toBe(before.length);
    const ready = await readyz(svc);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ check: 'transparency_log_altered' });
    // A proof of an event not logged yet says so (503), naming no stream or position of the finding (it was a 500).
    const unlogged = await svc.service.context.credence.store.headPosition();
    const proof = await fetch(`${svc.url}/v1/transparency/proofs/inclusion?position=${unlogged}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    const problem = (await proof.json()) as Record<string, unknown>;
    expect([proof.status, problem['type']]).toEqual([503, expect.stringContaining('transparency_log_altered')]);
    expect(JSON.stringify(problem)).not.toMatch(/node-meter|revision|position \d/);

    // The row put back as it was logged: the log goes on from there, each event once.
    putBack(dir, relabelled, revision);
    expect(await command).toBe(201);
    const store = svc.service.context.credence.store;
    const head = await store.headPosition();
    for (let i = 0; i < 50 && BigInt(leavesOf(dir).at(-1)!.position) < head!; i++) await sleep(100);
    const after = leavesOf(dir);
    expect(after.map((r) => r.position)).toEqual(after.map((_, i) => i + 1));
    expect(BigInt(after.at(-1)!.position)).toBe(head);
    expect(new Set(after.map((r) => r.event_id)).size).toBe(after.length);
    expect((await readyz(svc)).status).toBe(200);
  }, 60_000);
}
