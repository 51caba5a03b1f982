import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROBLEM_TYPE_BASE } from '../adapters/http/problem-type-base.ts';
import { formatCheckpointText } from '../domain/transparency/index.ts';
import { formatVerifierKey } from '../domain/transparency/note.ts';
import { signNote } from '../projections/transparency/index.ts';
import { handlerServers } from './support/canned-server.ts';
import { runCli } from './support/cli.ts';
import { ORIGIN, fixedSigner, keyOf } from './transparency-fixtures.ts';

/*
 * Review 200 finding 1: `verify --server --from SAVED` called any 404 of the consistency proof a rollback once the
 * latest checkpoint was a 404 too, so a service that had not signed yet, an in-memory instance (no log) and a proxy's
 * HTML 404 (a wrong URL prefix) were all `FAILED (rollback)`, exit 1: tamper verdicts from a typo. A verdict now comes
 * only from a latest checkpoint that opens under --key, and only after the consistency route's own 404 for SAVED's
 * size; any other 404, or no signed checkpoint, is the refusal it always was. The servers below answer with the
 * documents adapters/http/routes/transparency.ts (and its earlier version) answers.
 */

const signer = fixedSigner();
const key = formatVerifierKey(keyOf(signer));
const KEPT = 5;
const checkpointOf = (treeSize: number, rootByte: number): Promise<string> =>
  signNote(signer, formatCheckpointText({ origin: ORIGIN, treeSize, rootHash: new Uint8Array(32).fill(rootByte), time: '2026-12-05T12:00:00.000Z' }));

/** The service's own 404 (adapters/http/problems.ts): its problem type, and the route's streamId. */
const transparencyNotFound = (detail: string) => ({ type: `${PROBLEM_TYPE_BASE}not_found`, title: 'Not found', status: 404, detail, streamId: 'transparency' });
const send404 = (response: ServerResponse, problem: object): void =>
  void response.writeHead(404, { 'content-type': 'application/problem+json' }).end(JSON.stringify(problem));
const sendNote = (response: ServerResponse, note: string): void => void response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(note);

const NO_LOG = transparencyNotFound('this service keeps no transparency log (an in-memory instance)');
const PAST_LATEST = (latest: number) => transparencyNotFound(`tree size ${KEPT} is past the latest signed checkpoint (tree size ${latest})`);
/** What a server before review 198 answered for a size it signed no checkpoint of. */
const EARLIER_UNSIGNED = transparencyNotFound(`no signed checkpoint of tree size ${KEPT}`);

describe('verify --server --from SAVED calls a rollback or a fork only on a checkpoint signed under --key', () => {
  const root = mkdtempSync(join(tmpdir(), 'credence-kept-404-'));
  const saved = join(root, 'saved.cp');
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const serve = handlerServers();
  /** A server answering the consistency proof with `proof` and the latest checkpoint with `latest` (a note or a 404). */
  const server = (proof: (r: ServerResponse) => void, latest: (r: ServerResponse) => void): Promise<string> =>
    serve((request, response) => {
      const path = new URL(request.url ?? '/', 'http://x').pathname;
      if (path === '/v1/transparency/proofs/consistency') return proof(response);
      if (path === '/v1/transparency/checkpoint') return latest(response);
      send404(response, transparencyNotFound('unexpected request'));
    });
  const verifyFrom = async (url: string, json = false) => {
    writeFileSync(saved, await checkpointOf(KEPT, 7));
    return runCli(['verify', '--server', url, '--token', 'auditor-token', '--key', key, '--from', saved, ...(json ? ['--json'] : [])]);
  };
  const expectRefused = async (url: string, detail: string): Promise<void> => {
    const said = await verifyFrom(url);
    expect(said.code, said.err).toBe(1);
    expect(said.err).toMatch(/^refused: Not found \(404\)/i);
    expect(said.err).toContain(detail);
    expect(said.err).not.toMatch(/FAILED|rollback|inconsistent/);
    const json = await verifyFrom(url, true);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({ status: 404 });
    expect(json.out).not.toMatch(/rollback|inconsistent/);
  };

  it('is refused, not rollback, by a service that has not signed a checkpoint yet', async () => {
    const url = await server(
      (r) => send404(r, transparencyNotFound('no signed checkpoint of tree size (latest)')),
      (r) => send404(r, transparencyNotFound('the transparency log has no signed checkpoint yet')),
    );
    await expectRefused(url, 'no signed checkpoint of tree size (latest)');
  });

  it('is refused, not rollback, by an in-memory instance, which keeps no transparency log', async () => {
    const url = await server((r) => send404(r, NO_LOG), (r) => send404(r, NO_LOG));
    await expectRefused(url, 'this service keeps no transparency log (an in-memory instance)');
  });

  it("is refused, not rollback, by a proxy's HTML 404 (a wrong URL prefix)", async () => {
    const html = (r: ServerResponse) => void r.writeHead(404, { 'content-type': 'text/html' }).end('<html><body><h1>404 Not Found</h1></body></html>');
    await expectRefused(await server(html, html), '<h1>404 Not Found</h1>');
  });

  it("is refused, not rollback, when only the proof's 404 is a proxy's, whatever the latest checkpoint is", async () => {
    const smaller = await checkpointOf(3, 9);
    const url = await server((r) => void r.writeHead(404, { 'content-type': 'text/html' }).end('<html>404 Not Found</html>'), (r) => sendNote(r, smaller));
    await expectRefused(url, '404 Not Found');
  });

  it("is refused, not rollback, when the route has no proof from the kept size and the server has no signed checkpoint", async () => {
    const url = await server((r) => send404(r, EARLIER_UNSIGNED), (r) => send404(r, transparencyNotFound('the transparency log has no signed checkpoint yet')));
    await expectRefused(url, 'the transparency log has no signed checkpoint yet');
  });

  it("is rollback when the route has no proof from the kept size and the latest checkpoint under --key is smaller", async () => {
    const smaller = await checkpointOf(3, 9);
    const said = await verifyFrom(await server((r) => send404(r, PAST_LATEST(3)), (r) => sendNote(r, smaller)));
    expect(said.code).toBe(1);
    expect(said.err).toMatch(new RegExp(`^FAILED \\(rollback\\): .*\\(size ${KEPT}\\): the log was rolled back`));
  });

  it('is inconsistent when a server of an earlier version has no proof from the kept size and its latest under --key is larger', async () => {
    const larger = await checkpointOf(8, 9);
    const url = await server((r) => send404(r, EARLIER_UNSIGNED), (r) => sendNote(r, larger));
    const said = await verifyFrom(url);
    expect(said.code).toBe(1);
    expect(said.err).toContain(`FAILED (inconsistent): the server cannot show that its tree of size 8 extends the tree of size ${KEPT}`);
    expect(JSON.parse((await verifyFrom(url, true)).out)).toMatchObject({ ok: false, reason: 'inconsistent' });
  });

  it('fails the latest checkpoint signed under another key, never calling it a rollback', async () => {
    const other = fixedSigner(2);
    const foreign = await signNote(other, formatCheckpointText({ origin: ORIGIN, treeSize: 3, rootHash: new Uint8Array(32).fill(9), time: '2026-12-05T12:00:00.000Z' }));
    const said = await verifyFrom(await server((r) => send404(r, PAST_LATEST(3)), (r) => sendNote(r, foreign)));
    expect(said.code).toBe(1);
    expect(said.err).toMatch(/^FAILED \((?!rollback|inconsistent)/);
  });
});
