import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../domain/transparency/index.ts';
import { handlerServers } from './support/canned-server.ts';
import { runCli } from './support/cli.ts';
import { cmd } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 198 finding 1: an auditor kept the server's checkpoint (`verify --server --save-checkpoint`), the whole data
 * folder was restored from an earlier copy without step 6 (a new log under a new key), and the service went on to sign
 * another tree past that size under the same key. `verify --server --from SAVED` answered `refused: Not found (404) no
 * signed checkpoint of tree size N`, never that the log was rolled back or forked. The server now proves consistency
 * from any size up to its latest signed checkpoint, so the auditor's own root fails the proof (`inconsistent`), and a
 * server whose latest is smaller than SAVED is `rollback`.
 */

describe('verify --server --from a checkpoint kept before a whole-folder restore that skipped step 6', () => {
  const root = mkdtempSync(join(tmpdir(), 'credence-forked-log-'));
  const dir = join(root, 'data');
  const backup = join(root, 'backup');
  const saved = join(root, 'saved.cp');
  let svc: TestService | undefined;
  afterAll(async () => {
    await svc?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const register = async (s: TestService, ids: readonly string[]): Promise<bigint> => {
    let last = 0n;
    for (const id of ids) last = (await s.service.context.credence.engine.execute(cmd.registerNode(id))).events.at(-1)!.position;
    return last;
  };
  /** The inclusion proof of the newest event makes the service sign a checkpoint that covers it. */
  const signedOver = async (s: TestService, position: bigint): Promise<void> => {
    const reply = await fetch(`${s.url}/v1/transparency/proofs/inclusion?position=${position}`, { headers: { authorization: `Bearer ${s.tokens.auditor}` } });
    expect(reply.status).toBe(200);
  };
  const latestSize = async (s: TestService, key: string): Promise<number> => {
    const opened = openCheckpoint(await (await fetch(`${s.url}/v1/transparency/checkpoint`, { headers: { authorization: `Bearer ${s.tokens.auditor}` } })).text(), key);
    if (!opened.ok) throw new Error(opened.message);
    return opened.checkpoint.treeSize;
  };
  const serve = handlerServers();
  const verifyFrom = (s: TestService, key: string) => runCli(['verify', '--server', s.url, '--token', s.tokens.auditor, '--key', key, '--from', saved]);

  it('is rollback while the restored log is smaller, then inconsistent naming both sizes once it signs another tree past it', async () => {
    svc = await startTestService({ dir });
    await register(svc, ['meter-1', 'meter-2']);
    await svc.close();
    svc = undefined;
    // A whole folder, the service stopped.
    cpSync(dir, backup, { recursive: true });
    const key = readFileSync(join(dir, 'transparency.pub'), 'utf8').trim();

    svc = await startTestService({ dir });
    await signedOver(svc, await register(svc, ['meter-3', 'meter-4', 'meter-5']));
    const kept = await runCli(['verify', '--server', svc.url, '--token', svc.tokens.auditor, '--key', key, '--save-checkpoint', saved]);
    expect(kept.code, kept.err).toBe(0);
    const keptSize = await latestSize(svc, key);
    await svc.close();
    svc = undefined;

    // The restore: the folder moved aside whole, the backup copied in its place; step 6 skipped (same log, same key).
    renameSync(dir, join(root, 'data.before-restore'));
    cpSync(backup, dir, { recursive: true });
    svc = await startTestService({ dir });
    expect(await latestSize(svc, key)).toBeLessThan(keptSize);

    const rolledBack = await verifyFrom(svc, key);
    expect(rolledBack.code).toBe(1);
    expect(rolledBack.err).toMatch(new RegExp(`^FAILED \\(rollback\\): .*\\(size ${keptSize}\\): the log was rolled back`));

    await signedOver(svc, await register(svc, ['meter-6', 'meter-7', 'meter-8', 'meter-9', 'meter-10', 'meter-11']));
    const forkSize = await latestSize(svc, key);
    expect(forkSize).toBeGreaterThan(keptSize);

    const forked = await verifyFrom(svc, key);
    expect(forked.code).toBe(1);
    expect(forked.err).toContain(`FAILED (inconsistent): the tree of size ${forkSize} does not extend the tree of size ${keptSize}`);
    expect(forked.err).not.toMatch(/refused|404/);
    const json = await runCli(['verify', '--server', svc.url, '--token', svc.tokens.auditor, '--key', key, '--from', saved, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({ ok: false, reason: 'inconsistent' });
    // The checkpoint kept is no proof of anything the forked log signed: it stays as it was.
    expect(readFileSync(saved, 'utf8')).toContain(`\n${keptSize}\n`);

    // A server of an earlier version proves consistency only from the sizes it signed: its 404 (the document it sent) is
    // the same verdict.
    const latest = await (await fetch(`${svc.url}/v1/transparency/checkpoint`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } })).text();
    const earlier = await serve((request, response) => {
      if (request.url === '/v1/transparency/checkpoint') return void response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(latest);
      response.writeHead(404, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ type: 'https://credence.dev/problems/not_found', title: 'Not found', status: 404, detail: `no signed checkpoint of tree size ${keptSize}`, streamId: 'transparency' }));
    });
    const older = await runCli(['verify', '--server', earlier, '--token', 'auditor-token', '--key', key, '--from', saved]);
    expect(older.code).toBe(1);
    expect(older.err).toContain(`FAILED (inconsistent): the server cannot show that its tree of size ${forkSize} extends the tree of size ${keptSize}`);
  }, 120_000);
});
