import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import {
  formatCheckpointText,
  formatSignedNote,
  formatVerifierKey,
  fromBase64,
  noteKeyId,
  noteVerifierKey,
  parseCheckpointText,
  parseSignedNote,
  parseVerifierKey,
  verifyNote,
} from '../domain/transparency/index.ts';

/*
 * Known-answer vector for C2SP signed-note Ed25519 signatures: golang.org/x/mod sumdb/note/note_test.go
 * (BSD-3-Clause), TestSign / TestOpen / TestNewVerifier. The private key string is
 * PRIVATE+KEY+<name>+<key ID>+base64(0x01 || 32-byte seed); Ed25519 is deterministic, so the line is exact.
 */
const PETER_SEED = fromBase64('AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz')!.subarray(1);
const PETER_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG = '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const ENOCH_SIG = '— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';

const peter = () => {
  const publicKey = ed25519.getPublicKey(PETER_SEED);
  return { publicKey, key: noteVerifierKey('PeterNeumann', publicKey) };
};

describe('C2SP signed note', () => {
  it('derives the published key ID and verifier key string from the key name and public key', () => {
    const { key } = peter();
    expect(key.keyId).toBe(0xc74f20a3);
    expect(formatVerifierKey(key)).toBe(PETER_VKEY);
    expect(parseVerifierKey(PETER_VKEY)).toEqual(key);
  });

  it('produces the published signature line byte for byte', () => {
    const { key } = peter();
    const signature = ed25519.sign(new TextEncoder().encode(TEXT), PETER_SEED);
    expect(formatSignedNote({ text: TEXT, signatures: [{ keyName: 'PeterNeumann', keyId: key.keyId, signature }] })).toBe(
      `${TEXT}\n${PETER_SIG}`,
    );
  });

  it('opens the published note with the trusted key and ignores a signature by an unknown key', () => {
    const { key } = peter();
    expect(verifyNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`, key)).toEqual({ ok: true, text: TEXT });
    expect(parseSignedNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`)?.signatures.map((s) => s.keyName)).toEqual(['PeterNeumann', 'EnochRoot']);
  });

  it('rejects a note whose text was changed after signing', () => {
    const { key } = peter();
    const forged = `${TEXT.replace('cryptography', 'cryptographY')}\n${PETER_SIG}`;
    expect(verifyNote(forged, key)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('rejects a note with a corrupted signature by the trusted key', () => {
    const { key } = peter();
    expect(verifyNote(`${TEXT}\n${PETER_SIG.slice(0, 60)}ABCD${PETER_SIG.slice(60)}`, key).ok).toBe(false);
  });

  it('rejects a note signed only by other keys', () => {
    const { key } = peter();
    expect(verifyNote(`${TEXT}\n${ENOCH_SIG}`, key)).toEqual({ ok: false, reason: 'no_signature_by_key' });
  });

  it('rejects a signature whose key name matches but whose key ID belongs to another key', () => {
    const { key } = peter();
    const other = noteVerifierKey('PeterNeumann', ed25519.getPublicKey(new Uint8Array(32).fill(7)));
    expect(verifyNote(`${TEXT}\n${PETER_SIG}`, other)).toEqual({ ok: false, reason: 'no_signature_by_key' });
    expect(key.keyId).not.toBe(other.keyId);
  });

  it.each([
    ['no signature block', TEXT],
    ['a blank line but no signature', `${TEXT}\n`],
    ['a signature line without its final newline', `${TEXT}\n${PETER_SIG.slice(0, -1)}`],
    ['a control character', `\u0001${TEXT}\n${PETER_SIG}`],
    ['a key name with a space', `${TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`],
    ['an unexpected line after the signatures', `${TEXT}\n${PETER_SIG}Unexpected line.\n`],
  ])('refuses a malformed note: %s', (_label, message) => {
    expect(parseSignedNote(message)).toBeUndefined();
    expect(verifyNote(message, peter().key)).toEqual({ ok: false, reason: 'malformed_note' });
  });

  it('refuses verifier keys that are mangled, of another algorithm or with a wrong key ID', () => {
    expect(parseVerifierKey('PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW')).toBeUndefined();
    expect(parseVerifierKey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW')).toBeUndefined();
    expect(parseVerifierKey(PETER_VKEY.slice(0, -1))).toBeUndefined();
    expect(parseVerifierKey(`a+${PETER_VKEY}`)).toBeUndefined();
  });

  it('round-trips verifier keys whose base64 key contains a plus sign', () => {
    const seeds = Array.from({ length: 64 }, (_, i) => new Uint8Array(32).fill(i + 1));
    const withPlus = seeds
      .map((seed) => formatVerifierKey(noteVerifierKey('credence.test/log', ed25519.getPublicKey(seed))))
      .filter((vkey) => vkey.split('+').length > 3);
    expect(withPlus.length).toBeGreaterThan(0);
    for (const vkey of withPlus) expect(formatVerifierKey(parseVerifierKey(vkey)!)).toBe(vkey);
  });

  it('computes the key ID over the name, a newline, the type byte and the key', () => {
    const { publicKey } = peter();
    expect(noteKeyId('PeterNeumann', publicKey)).toBe(0xc74f20a3);
    expect(noteKeyId('PeterNeumann2', publicKey)).not.toBe(0xc74f20a3);
    expect(() => noteKeyId('a+b', publicKey)).toThrow(/keyName/);
  });
});

describe('tlog-checkpoint body', () => {
  const rootHash = fromBase64('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=')!;

  it('formats origin, size, base64 root and the time extension line, and parses it back', () => {
    const checkpoint = { origin: 'example.com/behind-the-sofa', treeSize: 20852163, rootHash, time: '2025-03-01T10:00:00.000Z' };
    const text = formatCheckpointText(checkpoint);
    expect(text).toBe('example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\ntime 2025-03-01T10:00:00.000Z\n');
    expect(parseCheckpointText(text)).toEqual({ ok: true, checkpoint });
  });

  it.each([
    ['a size with a leading zero', 'o\n012\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\ntime 2025-03-01T10:00:00Z\n'],
    ['a root of the wrong length', 'o\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx\ntime 2025-03-01T10:00:00Z\n'],
    ['no time line', 'o\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n'],
    ['an empty extension line', 'o\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\ntime 2025-03-01T10:00:00Z\n'],
    ['a local time', 'o\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\ntime 2025-03-01T10:00:00+01:00\n'],
    ['no final newline', 'o\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\ntime 2025-03-01T10:00:00Z'],
  ])('refuses a checkpoint with %s', (_label, text) => {
    expect(parseCheckpointText(text).ok).toBe(false);
  });
});
