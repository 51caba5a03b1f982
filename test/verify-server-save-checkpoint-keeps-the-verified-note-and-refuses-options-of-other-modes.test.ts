import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatVerifierKey, openCheckpoint, parseVerifierKey } from '../domain/transparency/index.ts';
import { body, settled } from './http-conformance.fixtures.ts';
import { runCli } from './support/cli.ts';
import { useTestService } from './support/service.ts';
import { fixedSigner, keyOf } from './transparency-fixtures.ts';

/*
 * Found in review 93: `credence verify --server URL --key K --save-checkpoint F --repair-nodes` exited 0 and wrote
 * nothing. verify-remote.ts's schema dropped the options it did not list, where the offline modes refuse an option of
 * another mode. --save-checkpoint now keeps the server's latest checkpoint once verified under the pinned key (and,
 * with --from, shown to extend the one kept), as --data keeps its own; --repair-nodes and the other options of the
 * offline modes are refused (exit 2) naming the option and the mode.
 */
const svc = useTestService();
const files = mkdtempSync(join(tmpdir(), 'credence-verify-server-'));
afterAll(() => rmSync(files, { recursive: true, force: true }));

const key = () => readFileSync(join(svc.dir, 'transparency.pub'), 'utf8').trim();
const verify = (args: string[]) => runCli(['verify', '--server', svc.url, '--token', svc.tokens.auditor, ...args]);

/** One more command, and a checkpoint signed over it (an inclusion proof of its position signs one on demand). */
const logOneMore = async (nodeId: string): Promise<string> => {
  const posted = await fetch(`${svc.url}/v1/commands`, {
    method: 'POST',
    headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
    body: JSON.stringify(body.registerNode(nodeId)),
  });
  expect(posted.status).toBe(201);
  await settled(svc);
  // The node's own event: the pseudonym's, appended after it, is not served to an auditor without a resolution.
  const [registered] = await svc.service.context.credence.store.readStream(`node-${nodeId}`);
  const proof = await fetch(`${svc.url}/v1/transparency/proofs/inclusion?position=${registered!.position}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
  expect(proof.status).toBe(200);
  const latest = await fetch(`${svc.url}/v1/transparency/checkpoint`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
  expect(latest.status).toBe(200);
  return latest.text();
};

describe('verify --server --save-checkpoint FILE', () => {
  it("writes the server's latest checkpoint once verified, and with --from once shown to extend the one kept", async () => {
    const first = await logOneMore('meter-1');
    const saved = join(files, 'saved.txt');
    const kept = await verify(['--key', key(), '--save-checkpoint', saved]);
    expect(kept.code, kept.err).toBe(0);
    expect(kept.out).toMatch(/^ok: the server's latest checkpoint is signed by /);
    expect(readFileSync(saved, 'utf8')).toBe(first);

    const second = await logOneMore('meter-2');
    const extended = await verify(['--key', key(), '--from', saved, '--save-checkpoint', saved]);
    expect(extended.code, extended.err).toBe(0);
    expect(extended.out).toMatch(/^ok: the server's tree of size \d+ extends the tree of size \d+/);
    expect(readFileSync(saved, 'utf8')).toBe(second);
    const pinned = parseVerifierKey(key())!;
    const [a, b] = [first, second].map((note) => openCheckpoint(note, pinned));
    expect(a?.ok === true && b?.ok === true && b.checkpoint.treeSize > a.checkpoint.treeSize).toBe(true);
  });

  it('writes nothing when the checkpoint is not signed by the key pinned, and keeps the file saved before', async () => {
    await logOneMore('meter-3');
    const other = formatVerifierKey(keyOf(fixedSigner(66, parseVerifierKey(key())!.keyName)));
    const fresh = join(files, 'fresh.txt');
    const failed = await verify(['--key', other, '--save-checkpoint', fresh]);
    expect(failed.code).toBe(1);
    expect(failed.err).toMatch(/^FAILED /);
    expect(existsSync(fresh)).toBe(false);
    const earlier = join(files, 'earlier.txt');
    writeFileSync(earlier, 'the earlier one\n');
    expect((await verify(['--key', other, '--save-checkpoint', earlier])).code).toBe(1);
    expect(readFileSync(earlier, 'utf8')).toBe('the earlier one\n');
  });
});

describe('verify --server refuses an option of another mode', () => {
  it.each([
    [['--repair-nodes'], /--repair-nodes: does not go with --server; it goes with --data/],
    [['--checkpoint', 'c.txt'], /--checkpoint: does not go with --server; it goes with --data, a bundle FILE\.json or --event/],
    [['--proof', 'p.json'], /--proof: does not go with --server; it goes with --event or --from\/--to, offline/],
    [['--from', 'a.txt', '--to', 'b.txt'], /--to: does not go with --server --from; it goes with --from, offline/],
    [['credential-meter-1'], /--save-checkpoint: does not go with --server and a stream; it goes with --data, or --server without a stream/],
  ])('%j: exit 2 naming the option and the mode, nothing written', async (args, message) => {
    const out = join(files, 'refused.txt');
    const result = await verify(['--key', key(), '--save-checkpoint', out, ...args]);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
    expect(result.out).toBe('');
    expect(existsSync(out)).toBe(false);
  });
});
