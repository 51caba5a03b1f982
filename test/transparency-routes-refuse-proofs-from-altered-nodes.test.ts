import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { fromBase64url } from '../domain/crypto/index.ts';
import { noteVerifierKey, RecordedEventJson, verifyEventInclusion } from '../domain/transparency/index.ts';
import { body, settled } from './http-conformance.fixtures.ts';
import { capture } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Found in review 372: one stored subtree hash of transparency.db (nodes, level 1, index 1) set to random bytes under a
 * running service, and the inclusion and consistency routes served proofs built from it: `verifyEventInclusion` said
 * `not_included` (accusing the log of leaving the event out) and `credence verify --server --from SAVED` said
 * `inconsistent` (a fork), where only a node row was damaged (`credence verify --data` says node_mismatch and
 * `--repair-nodes` mends it). The evidence route checked its proofs against the signed root and refused (422, "the
 * log file was altered; run credence verify --data"): both routes now do too.
 */
describe('the inclusion and consistency routes over a stored subtree hash altered under the service', () => {
  let svc: TestService;
  let work: string;
  let saved = '';
  let savedSize = 0;
  let position = '';
  const get = (path: string) => fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
  const post = async (id: string) => {
    const reply = await fetch(`${svc.url}/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify(body.registerNode(id)),
    });
    expect(reply.status).toBe(201);
  };

  beforeAll(async () => {
    svc = await startTestService();
    work = mkdtempSync(join(tmpdir(), 'credence-altered-nodes-'));
    const transparency = svc.service.context.credence.transparency!;
    await post('meter-1');
    await settled(svc);
    const first = await transparency.checkpoint();
    savedSize = first.treeSize;
    expect(savedSize).toBeLessThanOrEqual(2);
    saved = join(work, 'saved.txt');
    writeFileSync(saved, first.note);
    for (const id of ['meter-2', 'meter-3', 'meter-4', 'meter-5']) await post(id);
    await settled(svc);
    expect((await transparency.checkpoint()).treeSize).toBeGreaterThanOrEqual(5);
    position = (await svc.service.context.credence.store.readStream('node-meter-1'))[0]!.position.toString(10);
    // Both answers were right before the damage.
    expect((await get(`/v1/transparency/proofs/inclusion?position=${position}`)).status).toBe(200);
    expect((await get(`/v1/transparency/proofs/consistency?from=${savedSize}`)).status).toBe(200);
    const log = new Database(join(svc.dir, 'transparency.db'));
    try {
      expect(log.prepare('UPDATE nodes SET hash = randomblob(32) WHERE level = 1 AND idx = 1').run().changes).toBe(1);
    } finally {
      log.close();
    }
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
    rmSync(work, { recursive: true, force: true });
  });

  const expectRefusedAsAltered = async (reply: Response, step: string): Promise<void> => {
    const text = await reply.text();
    if (reply.status === 200) {
      // What a client made of the proof served: the log accused of what a damaged node row did.
      const answer = JSON.parse(text) as { event?: unknown; proof: { leafIndex: number; treeSize: number; hashes: string[] }; checkpoint?: string };
      if (answer.event !== undefined) {
        const verdict = verifyEventInclusion({
          event: RecordedEventJson.parse(answer.event),
          proof: { leafIndex: answer.proof.leafIndex, treeSize: answer.proof.treeSize, hashes: answer.proof.hashes.map((h) => fromBase64url(h)) },
          checkpointNote: answer.checkpoint!,
          logPublicKey: logKey(),
        });
        expect.soft(verdict).toMatchObject({ ok: true });
      }
    }
    expect(reply.status, text).toBe(422);
    const problem = JSON.parse(text) as Record<string, unknown>;
    expect(problem).toMatchObject({ type: 'https://credence.dev/problems/protocol', step });
    expect(problem['detail']).toMatch(/the log file was altered; run credence verify --data$/);
  };
  const logKey = () => {
    const { signer } = svc.service.context.credence.transparencyLog!;
    return noteVerifierKey(signer.keyName, signer.publicKey);
  };

  it('refuses the inclusion proof (422 naming credence verify --data), not one the client takes for an event left out', async () => {
    await expectRefusedAsAltered(await get(`/v1/transparency/proofs/inclusion?position=${position}`), 'inclusion proof');
  });

  it('refuses the consistency proof (422 naming credence verify --data), not one the client takes for a fork', async () => {
    await expectRefusedAsAltered(await get(`/v1/transparency/proofs/consistency?from=${savedSize}`), 'consistency proof');
  });

  it('lets credence verify --server --from SAVED say the log file was altered, not inconsistent', async () => {
    const c = capture();
    const code = await main(['verify', '--from', saved, '--server', svc.url, '--token', svc.tokens.auditor, '--key', join(svc.dir, 'transparency.pub')], { ...c.io, env: {} });
    const err = c.err.join('\n');
    expect(code).not.toBe(0);
    expect(err).not.toMatch(/inconsistent/);
    expect(err).toMatch(/credence verify --data/);
  });
});
