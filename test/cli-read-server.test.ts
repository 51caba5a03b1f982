import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';

/** The read commands give the same answers through the API as on the data folder. */
describe('credence read commands against a server', () => {
  let svc: TestService;
  let work: string;
  const cli = async (argv: string[], env: Record<string, string> = {}) => {
    const c = capture();
    const code = await main(argv, { ...c.io, env });
    return { code, out: c.out.join('\n'), err: c.err.join('\n') };
  };
  const auditor = () => ({ CREDENCE_URL: svc.url, CREDENCE_TOKEN: svc.tokens.auditor });
  const operate = async (...argv: string[]) => {
    const r = await cli([...argv, '--server', svc.url, '--token', svc.tokens.operator]);
    expect(r.code, `${argv.join(' ')}: ${r.err}`).toBe(0);
  };

  beforeAll(async () => {
    svc = await startTestService();
    work = mkdtempSync(join(tmpdir(), 'credence-cli-read-'));
    await operate('subscription', 'create', 'city', '--subscriber', 'City', '--not-before', '2020-01-01T00:00:00Z', '--not-after', '2040-01-01T00:00:00Z');
    await operate('node', 'register', 'meter-1', '--class', 'smart-meter', '--manufacturer', 'Acme', '--model', 'SM-10');
    await operate('node', 'enrol', 'meter-1', '--subscription', 'city', '--cse-id', '/meter-1-cse');
    await operate('node', 'revoke', 'meter-1', '--reason', 'keyCompromise');
  });
  afterAll(async () => {
    await svc?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('replay, history and state: the server (CREDENCE_URL) and the data folder (--data) agree', async () => {
    const remote = await cli(['replay', '--json'], auditor());
    const local = await cli(['replay', '--json', '--data', svc.dir], auditor());
    expect(remote.code, remote.err).toBe(0);
    expect(local.code, local.err).toBe(0);
    const [r, l] = [JSON.parse(remote.out), JSON.parse(local.out)];
    expect(r).toMatchObject({ ok: true, kinds: l.kinds, events: l.events, findings: [] });
    const text = await cli(['replay'], auditor());
    expect(text.out).toMatch(/^verdict: every stored transition is legal$/m);

    // --full asks the server for a full verification (it had been dropped: a second run verified nothing, exit 0);
    // --workers is the local verifier's, refused with the server as a usage error.
    for (let run = 0; run < 2; run++) {
      const full = await cli(['replay', '--full', '--json'], auditor());
      expect(full.code, full.err).toBe(0);
      const answer = JSON.parse(full.out);
      expect(answer).toMatchObject({ verification: { mode: 'full', verifiedNow: answer.events } });
    }
    const workers = await cli(['replay', '--workers', '2'], auditor());
    expect([workers.code, workers.err]).toEqual([2, expect.stringContaining('--workers')]);

    const history = await cli(['history', 'node-meter-1'], auditor());
    expect(history.code, history.err).toBe(0);
    expect(history.out).toBe((await cli(['history', 'node-meter-1', '--data', svc.dir])).out);
    expect(history.out).toMatch(/^node-meter-1: revoked$/m);
    expect(history.out).toMatch(/NodeRevoked +-> revoked +by test-operator/);
    expect((await cli(['history', 'node-nobody'], auditor())).code).toBe(1);

    const now = new Date().toISOString();
    const state = await cli(['state', 'node-meter-1', '--at', now, '--json'], auditor());
    expect(state.code, state.err).toBe(0);
    expect(JSON.parse(state.out)).toMatchObject({ streamId: 'node-meter-1', state: 'revoked', verdict: { ok: true } });
    expect((await cli(['state', 'node-meter-1', '--at', now], auditor())).out).toBe((await cli(['state', 'node-meter-1', '--at', now, '--data', svc.dir])).out);
    // A stream with no events is no entity, on the data folder as on the server (it read "absent", exit 0, locally).
    const unknown = [await cli(['state', 'node-nobody', '--at', now], auditor()), await cli(['state', 'node-nobody', '--at', now, '--data', svc.dir])];
    expect(unknown.map((r) => r.code)).toEqual([1, 1]);
    expect(unknown[1]!.err).toContain('node node-nobody does not exist');
  });

  it('refuses under --json with the same problem document on the data folder as the server answers (review 24)', async () => {
    const now = new Date().toISOString();
    for (const argv of [['history', 'node-nobody', '--json'], ['state', 'node-nobody', '--at', now, '--json']]) {
      const remote = await cli(argv, auditor());
      const local = await cli([...argv, '--data', svc.dir], auditor());
      expect([remote.code, local.code], `${argv[0]}: ${remote.err} ${local.err}`).toEqual([1, 1]);
      // Where the server's answer says which request it was (its path and id), a local run has none.
      const { instance: _path, requestId: _id, ...answered } = JSON.parse(remote.out) as Record<string, unknown>;
      expect(JSON.parse(local.out), argv[0]).toEqual(answered);
      expect(answered).toMatchObject({ type: 'https://credence.dev/problems/not_found', status: 404 });
    }
  });

  it('query as rows or CSV, and projections with their lag', async () => {
    const rows = await cli(['query', 'revocations', '--reason', 'keyCompromise', '--json'], auditor());
    expect(rows.code, rows.err).toBe(0);
    const body = JSON.parse(rows.out);
    expect(body.rows.some((row: { nodeId?: string; streamId?: string }) => (row.streamId ?? row.nodeId)?.includes('meter-1'))).toBe(true);
    const csv = await cli(['query', 'revocations', '--csv'], auditor());
    expect(csv.out.split('\n')[0]).toMatch(/^position,/);
    // A cut CSV answer names its next page on stderr, as the JSON one does (found in review: CSV said to raise --limit).
    const page = await cli(['query', 'actions', '--actor', 'test-operator', '--limit', '1', '--csv'], auditor());
    const first = page.out.split('\n')[1]!.split(',')[0]!;
    // The position of the page's last row, tagged with its event: a cursor names its log (review 199), and its query (review 272).
    expect(page.code).toBe(0);
    expect(page.err).toMatch(new RegExp(`^note: more rows match: the next page is --after ${first}~[0-9a-f]{8}\\.[0-9a-f]{8}$`));
    const bad = await cli(['query', 'revocations', '--reason', 'boredom'], auditor());
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--reason');

    const projections = await cli(['projections'], auditor());
    expect(projections.code, projections.err).toBe(0);
    expect(projections.out).toMatch(/^audit +\d+ +\d+ +\d+ +\d+$/m);
    expect(projections.out).toMatch(/^live: \d+ events, \d+ seconds behind at most$/m);
    const rebuild = await cli(['projections', 'rebuild', 'audit'], auditor());
    expect(rebuild.code).toBe(2);
    expect(rebuild.err).toContain('a rebuild runs on the data folder');
  });

  it('export writes the server’s bundle, and verify checks bundles and checkpoints against the pinned key', async () => {
    const key = join(svc.dir, 'transparency.pub');
    const file = join(work, 'node-meter-1.json');
    const exported = await cli(['export', 'node-meter-1', '--out', file], auditor());
    expect(exported.code, exported.err).toBe(0);
    expect(exported.out).toMatch(/^wrote .*: all 3 events of node-meter-1 as of the signed checkpoint of tree size \d+$/);
    expect((await cli(['verify', file, '--key', key])).code).toBe(0);

    const remote = await cli(['verify', 'node-meter-1', '--key', key, '--server', svc.url, '--token', svc.tokens.auditor]);
    expect(remote.code, remote.err).toBe(0);
    expect(remote.out).toMatch(/^ok: 3 events of node-meter-1 are in the log/);

    const checkpoint = await cli(['verify', '--key', key, '--server', svc.url, '--token', svc.tokens.auditor]);
    expect(checkpoint.code, checkpoint.err).toBe(0);
    const earlier = join(work, 'checkpoint.txt');
    const note = await fetch(new URL('/v1/transparency/checkpoint', svc.url), { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    writeFileSync(earlier, await note.text());
    await operate('subscription', 'terminate', 'city', '--reason', 'contract ended');
    // The service signs checkpoints on its own schedule: wait for one past the saved one (else the answer is that
    // nothing was appended since).
    const sizeOf = (text: string): number => Number(text.split('\n')[1]);
    const savedSize = sizeOf(readFileSync(earlier, 'utf8'));
    const same = await cli(['verify', '--from', earlier, '--key', key, '--server', svc.url, '--token', svc.tokens.auditor]);
    expect(same.code, same.err).toBe(0);
    for (let i = 0; i < 400; i++) {
      const latest = await fetch(new URL('/v1/transparency/checkpoint', svc.url), { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
      if (sizeOf(await latest.text()) > savedSize) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const consistent = await cli(['verify', '--from', earlier, '--key', key, '--server', svc.url, '--token', svc.tokens.auditor]);
    expect(consistent.code, consistent.err).toBe(0);
    expect(consistent.out).toMatch(/^ok: the server's tree of size \d+ extends the tree of size \d+$/);

    // A key the log does not sign with: the server cannot vouch for itself.
    const other = join(work, 'other.pub');
    writeFileSync(other, readFileSync(key, 'utf8').replace(/^([^+]+)\+/, 'someone-else+'));
    const wrongKey = await cli(['verify', 'node-meter-1', '--key', other, '--server', svc.url, '--token', svc.tokens.auditor]);
    expect(wrongKey.code).not.toBe(0);

    // CREDENCE_URL alone never turns an offline verification into a remote one.
    expect((await cli(['verify', file, '--key', key], auditor())).code).toBe(0);
  });
});
