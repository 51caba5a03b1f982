import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { toBase64url } from '../domain/crypto/index.ts';
import { consistencyProof, eventLeafHash, formatCheckpointText, formatSignedNote, formatVerifierKey, inclusionProof, MemoryTree, noteKeyId, recordedEventToJson, rootHash } from '../domain/transparency/index.ts';
import type { RecordedEvent } from '../domain/ports/index.ts';
import { capture } from './support/cli.ts';
import { eventId, fixedSigner, keyOf, ORIGIN, tempDirs } from './transparency-fixtures.ts';

/*
 * Found in review 159: a --from, --to or --checkpoint file of the caller's that does not parse as a signed checkpoint
 * exited 1 "FAILED (malformed_checkpoint)", where README, the help and verify-remote.ts say a malformed file of yours
 * exits 2 (as the bundle's --checkpoint did). A well-formed checkpoint under another key is still a failure (1). A file
 * starting with a UTF-8 byte-order mark said only "is not JSON": it now says what is wrong with it.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const signer = fixedSigner(1);
const key = formatVerifierKey(keyOf(signer));
const event = (i: number): RecordedEvent => ({
  id: eventId(i),
  streamId: 'credential-meter-1',
  revision: BigInt(i),
  position: BigInt(i + 1),
  type: 'CredentialProvisioned',
  data: { index: i },
  metadata: { actor: 'operator-1' },
});
const events = Array.from({ length: 8 }, (_, i) => event(i));
const tree = new MemoryTree(events.map(eventLeafHash));
const note = async (size: number, by = signer): Promise<string> => {
  const text = formatCheckpointText({ origin: ORIGIN, treeSize: size, rootHash: rootHash(tree, size), time: '2026-02-01T00:00:00.000Z' });
  const signature = await by.sign(new TextEncoder().encode(text));
  return formatSignedNote({ text, signatures: [{ keyName: by.keyName, keyId: noteKeyId(by.keyName, by.publicKey), signature }] });
};

/** Writes `files` into a new folder and runs `credence verify` with `args`, `{}` replaced by the folder. */
const verify = async (files: Record<string, string>, args: string[]) => {
  const dir = dirs.make();
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const c = capture();
  const code = await verifyCommand(args.map((a) => a.replace('{}', dir)), c.io);
  return { code, err: c.err.join('\n') };
};

describe('a checkpoint file of the caller that does not parse is bad input (exit 2)', () => {
  it('verify --from junk.txt --to B --proof P, offline: exit 2 naming --from', async () => {
    const proof = JSON.stringify({ first: 4, second: 8, hashes: consistencyProof(tree, 4, 8).map(toBase64url) });
    const result = await verify({ 'junk.txt': 'not a note', 'b.txt': await note(8), 'p.json': proof }, ['--from', '{}/junk.txt', '--to', '{}/b.txt', '--proof', '{}/p.json', '--key', key]);
    expect(result.code, result.err).toBe(2);
    expect(result.err).toMatch(/^error: --from: the checkpoint is not a well-formed signed note/);
  });

  it('verify --from A --to junk.txt, offline: exit 2 naming --to', async () => {
    const proof = JSON.stringify({ first: 4, second: 8, hashes: consistencyProof(tree, 4, 8).map(toBase64url) });
    const result = await verify({ 'a.txt': await note(4), 'junk.txt': 'not a note', 'p.json': proof }, ['--from', '{}/a.txt', '--to', '{}/junk.txt', '--proof', '{}/p.json', '--key', key]);
    expect(result.code, result.err).toBe(2);
    expect(result.err).toMatch(/^error: --to: /);
  });

  it('verify --event E --proof P --checkpoint junk.txt: exit 2 naming --checkpoint', async () => {
    const files = {
      'e.json': JSON.stringify(recordedEventToJson(events[2]!)),
      'p.json': JSON.stringify({ leafIndex: 2, treeSize: 8, hashes: inclusionProof(tree, 2, 8).map(toBase64url) }),
      'junk.txt': 'not a note',
    };
    const result = await verify(files, ['--event', '{}/e.json', '--proof', '{}/p.json', '--checkpoint', '{}/junk.txt', '--key', key]);
    expect(result.code, result.err).toBe(2);
    expect(result.err).toMatch(/^error: --checkpoint: /);
  });

  it('verify --server URL --from junk.txt: exit 2 before the server is asked', async () => {
    const result = await verify({ 'junk.txt': 'not a note' }, ['--server', 'http://127.0.0.1:9', '--token', 'not-asked', '--from', '{}/junk.txt', '--key', key]);
    expect(result.code, result.err).toBe(2);
    expect(result.err).toMatch(/^error: --from: the checkpoint is not a well-formed signed note/);
  });

  it('a well-formed checkpoint under another key is a failure (exit 1), offline and against a server', async () => {
    const other = await note(4, fixedSigner(3));
    const proof = JSON.stringify({ first: 4, second: 8, hashes: consistencyProof(tree, 4, 8).map(toBase64url) });
    const offline = await verify({ 'a.txt': other, 'b.txt': await note(8), 'p.json': proof }, ['--from', '{}/a.txt', '--to', '{}/b.txt', '--proof', '{}/p.json', '--key', key]);
    expect(offline.code, offline.err).toBe(1);
    expect(offline.err).toMatch(/^FAILED \(bad_checkpoint_signature\)/);
    const remote = await verify({ 'a.txt': other }, ['--server', 'http://127.0.0.1:9', '--token', 'not-asked', '--from', '{}/a.txt', '--key', key]);
    expect(remote.code, remote.err).toBe(1);
    expect(remote.err).toMatch(/^FAILED \(bad_checkpoint_signature\)/);
  });

  it('a checkpoint or proof file starting with a UTF-8 byte-order mark: exit 2 saying so', async () => {
    const proof = JSON.stringify({ first: 4, second: 8, hashes: consistencyProof(tree, 4, 8).map(toBase64url) });
    const noted = await verify({ 'a.txt': `\uFEFF${await note(4)}`, 'b.txt': await note(8), 'p.json': proof }, ['--from', '{}/a.txt', '--to', '{}/b.txt', '--proof', '{}/p.json', '--key', key]);
    expect(noted.code).toBe(2);
    expect(noted.err).toMatch(/^error: --from: .*a\.txt starts with a UTF-8 byte-order mark/);
    const json = await verify({ 'a.txt': await note(4), 'b.txt': await note(8), 'p.json': `\uFEFF${proof}` }, ['--from', '{}/a.txt', '--to', '{}/b.txt', '--proof', '{}/p.json', '--key', key]);
    expect(json.code).toBe(2);
    expect(json.err).toMatch(/^error: --proof: .*p\.json starts with a UTF-8 byte-order mark/);
  });
});
