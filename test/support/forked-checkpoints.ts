import type { RecordedEvent } from '../../domain/ports/index.ts';
import { eventLeafHash, formatCheckpointText, formatSignedNote, MemoryTree, noteKeyId, rootHash } from '../../domain/transparency/index.ts';
import { eventId, fixedSigner, keyOf, ORIGIN } from '../transparency-fixtures.ts';

/**
 * An 8-leaf log and a fork of it whose event at `rewrittenIndex` was rewritten, with `note` signing a checkpoint of
 * either at a size (under ORIGIN unless told) by one fixed key, `key` the verifier key that accepts those notes.
 */
export const forkedCheckpoints = (rewrittenIndex: number) => {
  const signer = fixedSigner(1);
  const key = keyOf(signer);
  const event = (i: number, label = 'x'): RecordedEvent => ({
    id: eventId(i),
    streamId: 'credential-meter-1',
    revision: BigInt(i),
    position: BigInt(i + 1),
    type: 'CredentialProvisioned',
    data: { index: i, label },
    metadata: { actor: 'operator-1' },
  });
  const tree = new MemoryTree(Array.from({ length: 8 }, (_, i) => eventLeafHash(event(i))));
  const fork = new MemoryTree(Array.from({ length: 8 }, (_, i) => eventLeafHash(event(i, i === rewrittenIndex ? 'rewritten' : 'x'))));
  const note = async (source: MemoryTree, size: number, origin = ORIGIN): Promise<string> => {
    const text = formatCheckpointText({ origin, treeSize: size, rootHash: rootHash(source, size), time: '2026-02-01T00:00:00.000Z' });
    const signature = await signer.sign(new TextEncoder().encode(text));
    return formatSignedNote({ text, signatures: [{ keyName: signer.keyName, keyId: noteKeyId(signer.keyName, signer.publicKey), signature }] });
  };
  return { key, tree, fork, note };
};
