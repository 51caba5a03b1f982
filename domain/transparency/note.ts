import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8 } from '../crypto/bytes.ts';
import { fromBase64, toBase64 } from './bytes.ts';

/**
 * C2SP signed-note (c2sp.org/signed-note): a text ending in a newline, a blank line, then signature lines
 * `— <key name> base64(key ID || signature)`. Ed25519 (signature type 0x01) is the only algorithm here: the spec
 * asks implementations to support only the types their design needs.
 */

export const ED25519_SIGNATURE_TYPE = 0x01;
const EM_DASH = '\u2014';
/** The spec asks verifiers to accept at least 16 signatures; more than this is a malformed note. */
const MAX_SIGNATURES = 100;

/** A public key a note can be verified with: the key name and its 4-byte key ID name it in signature lines. */
export interface NoteVerifierKey {
  readonly keyName: string;
  readonly keyId: number;
  readonly publicKey: Uint8Array;
}

export interface NoteSignature {
  readonly keyName: string;
  readonly keyId: number;
  readonly signature: Uint8Array;
}

export interface SignedNote {
  /** The signed text, final newline included. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

/**
 * Key names are non-empty and hold no Unicode space and no `+` (signed-note, Format), nor any control character (C0,
 * DEL, C1): a name read from a bundle or a note is printed in messages, where ESC or CSI would write to the terminal
 * (found in review).
 */
export const isValidKeyName = (name: string): boolean => name.length > 0 && !/[\s+\u0000-\u001f\u007f-\u009f]/u.test(name);

/** What `isValidKeyName` asks, for messages that name the field: `keyName: ${KEY_NAME_RULE}`. */
export const KEY_NAME_RULE = 'must be non-empty, without spaces, "+" or control characters';

/** key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4], big-endian (signed-note). */
export const noteKeyId = (keyName: string, publicKey: Uint8Array): number => {
  if (!isValidKeyName(keyName)) throw new Error(`keyName: ${KEY_NAME_RULE}`);
  if (publicKey.length !== 32) throw new Error(`publicKey: expected 32 bytes, got ${publicKey.length}`);
  const name = utf8(keyName);
  const input = new Uint8Array(name.length + 2 + publicKey.length);
  input.set(name, 0);
  input[name.length] = 0x0a;
  input[name.length + 1] = ED25519_SIGNATURE_TYPE;
  input.set(publicKey, name.length + 2);
  return new DataView(sha256(input).buffer).getUint32(0, false);
};

export const noteVerifierKey = (keyName: string, publicKey: Uint8Array): NoteVerifierKey => ({
  keyName,
  keyId: noteKeyId(keyName, publicKey),
  publicKey: publicKey.slice(),
});

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

/** The usual text form of a note verifier key: `<name>+<key ID hex>+base64(0x01 || public key)`. */
export const formatVerifierKey = (key: NoteVerifierKey): string => {
  const typed = new Uint8Array(33);
  typed[0] = ED25519_SIGNATURE_TYPE;
  typed.set(key.publicKey, 1);
  return `${key.keyName}+${hex8(key.keyId)}+${toBase64(typed)}`;
};

/** Parses a verifier key string; undefined when malformed, of another algorithm, or its key ID is wrong. */
export const parseVerifierKey = (text: string): NoteVerifierKey | undefined => {
  // Only the first two `+` separate fields: the name has none, but the base64 key may contain some.
  const [keyName = '', idHex = '', ...rest] = text.split('+');
  const keyB64 = rest.join('+');
  if (!isValidKeyName(keyName) || !/^[0-9a-f]{8}$/.test(idHex)) return undefined;
  const typed = fromBase64(keyB64);
  if (typed === undefined || typed.length !== 33 || typed[0] !== ED25519_SIGNATURE_TYPE) return undefined;
  const key = noteVerifierKey(keyName, typed.subarray(1));
  return hex8(key.keyId) === idHex ? key : undefined;
};

/** Notes are valid UTF-8 with no control character but newline (signed-note, Format). */
const CONTROL_CHARACTER = /[\u0000-\u0009\u000b-\u001f]/;
const isValidNoteText = (text: string): boolean => text.endsWith('\n') && !CONTROL_CHARACTER.test(text) && !/\p{Surrogate}/u.test(text);

const SIGNATURE_LINE = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/u;

/** The signed-note rule a text breaks (c2sp.org/signed-note, Format), said by `readSignedNote`. */
export type NoteRule =
  | 'carriage_return'
  | 'control_character'
  | 'invalid_utf8'
  | 'no_final_newline'
  | 'blank_line_at_end'
  | 'no_blank_line'
  | 'too_many_signatures'
  | 'signature_line';

export type NoteRead =
  | { readonly ok: true; readonly note: SignedNote }
  | { readonly ok: false; readonly rule: NoteRule; readonly message: string };

const refused = (rule: NoteRule, message: string): NoteRead => ({ ok: false, rule, message });
const lineAt = (text: string, index: number): number => text.slice(0, index).split('\n').length;

/**
 * Why `message` is not a note's text, as `isValidNoteText` refuses it: a control character (a carriage return said as
 * such: a file saved with CRLF line endings, review 217), a lone surrogate, or no final newline. It names a line by its
 * number, never by its text, which is the sender's.
 */
const textRefusal = (message: string): NoteRead | undefined => {
  const control = CONTROL_CHARACTER.exec(message);
  if (control !== null) {
    const line = lineAt(message, control.index);
    if (control[0] !== '\r') {
      const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
      return refused('control_character', `line ${line} holds the control character U+${code}, which a note does not allow`);
    }
    const where = message[control.index + 1] === '\n' ? 'ends in' : 'holds';
    return refused('carriage_return', `line ${line} ${where} a carriage return (CRLF line endings?): a note's lines end in a line feed alone`);
  }
  const surrogate = /\p{Surrogate}/u.exec(message);
  if (surrogate !== null) return refused('invalid_utf8', `line ${lineAt(message, surrogate.index)} holds a lone surrogate, which is not UTF-8`);
  if (!message.endsWith('\n')) return refused('no_final_newline', 'it does not end in a newline');
  return undefined;
};

/**
 * Splits a signed note into its text and signature lines, or says which rule of the format it breaks (`NoteRule`).
 * The rules are the format's alone: what is well-formed is exactly what `parseSignedNote` accepts.
 */
export const readSignedNote = (message: string): NoteRead => {
  const notText = textRefusal(message);
  if (notText !== undefined) return notText;
  // A second newline at the end makes the last "signature line" empty: said as such, not as a bad signature.
  if (message.endsWith('\n\n')) return refused('blank_line_at_end', 'it ends in a blank line, where a note ends with its last signature line');
  const split = message.lastIndexOf('\n\n');
  if (split < 0) return refused('no_blank_line', 'it has no blank line between its text and its signature lines');
  const text = message.slice(0, split + 1);
  const lines = message.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) return refused('too_many_signatures', `it has ${lines.length} signature lines, more than ${MAX_SIGNATURES}`);
  // The first signature line's number: the text's lines, then the blank line.
  const first = text.split('\n').length + 1;
  const signatures: NoteSignature[] = [];
  for (const [i, line] of lines.entries()) {
    const match = SIGNATURE_LINE.exec(line);
    if (match === null) return refused('signature_line', `line ${first + i} is not a signature line (\u2014 <key name> <base64 key ID and signature>)`);
    if (!isValidKeyName(match[1]!)) return refused('signature_line', `line ${first + i}: its key name ${KEY_NAME_RULE}`);
    const raw = fromBase64(match[2]!);
    if (raw === undefined || raw.length < 5) return refused('signature_line', `line ${first + i}: its signature is not base64 of a 4-byte key ID and a signature`);
    signatures.push({
      keyName: match[1]!,
      keyId: new DataView(raw.buffer, raw.byteOffset).getUint32(0, false),
      signature: raw.slice(4),
    });
  }
  return { ok: true, note: { text, signatures } };
};

/** Splits a signed note into its text and signature lines; undefined when it is not a well-formed note (readSignedNote says why). */
export const parseSignedNote = (message: string): SignedNote | undefined => {
  const read = readSignedNote(message);
  return read.ok ? read.note : undefined;
};

const signatureLine = (signature: NoteSignature): string => {
  const raw = new Uint8Array(4 + signature.signature.length);
  new DataView(raw.buffer).setUint32(0, signature.keyId, false);
  raw.set(signature.signature, 4);
  return `${EM_DASH} ${signature.keyName} ${toBase64(raw)}\n`;
};

export const formatSignedNote = (note: SignedNote): string => {
  if (!isValidNoteText(note.text)) throw new Error('note.text: must end in a newline and hold no control character');
  if (note.signatures.length === 0) throw new Error('note.signatures: a signed note needs a signature');
  return `${note.text}\n${note.signatures.map(signatureLine).join('')}`;
};

export type NoteVerification =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly reason: 'malformed_note' | 'no_signature_by_key' | 'bad_signature' };

const ed25519Verify = (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean => {
  try {
    // RFC 8032 section 5.1.7 strict decoding, not ZIP-215's lenient one: one valid signature per message.
    return signature.length === 64 && ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
};

/** A verifier key as a person compares two: `<name>+<key ID hex>` (the key ID is the hash of name and public key). */
export const keyLabel = (key: { readonly keyName: string; readonly keyId: number }): string => `${key.keyName}+${hex8(key.keyId)}`;

/**
 * Why a note did not open under `key`, for a person: the key expected by name and key ID, and the keys of that name
 * the note is signed by. Review 46: a pinned key of another log with the same name read "not signed by
 * credence.local/log", as if the note had been tampered with; the key IDs show it is the pinned key that differs.
 */
export const noteRefusal = (message: string, key: NoteVerifierKey, reason: 'no_signature_by_key' | 'bad_signature'): string => {
  const expected = `the key ${keyLabel(key)}`;
  if (reason === 'bad_signature') return `its signature by ${expected} does not verify`;
  const sameName = (parseSignedNote(message)?.signatures ?? []).filter((s) => s.keyName === key.keyName).map(keyLabel);
  if (sameName.length === 0) return `no signature by ${expected}`;
  return `no signature by ${expected}; it is signed by ${anotherKeyOfThatName([...new Set(sameName)].join(', '))}`;
};

/**
 * `found` (key labels) as keys of the expected key's name that are not it: one wording for a note (noteRefusal) and a
 * bundle naming its key (bundle.ts, review 190), since both keys read alike but for the key ID.
 */
export const anotherKeyOfThatName = (found: string): string =>
  `${found}, another key of that name (the key given is not this log's, or the log's key was replaced)`;

/**
 * Opens a note with one trusted key. Signatures by other keys are ignored (they may be witnesses); a
 * signature that names this key but does not verify rejects the whole note, as the spec recommends.
 */
export const verifyNote = (message: string, key: NoteVerifierKey): NoteVerification => {
  const note = parseSignedNote(message);
  if (note === undefined) return { ok: false, reason: 'malformed_note' };
  const mine = note.signatures.filter((s) => s.keyName === key.keyName && s.keyId === key.keyId);
  if (mine.length === 0) return { ok: false, reason: 'no_signature_by_key' };
  const bytes = utf8(note.text);
  if (!mine.every((s) => ed25519Verify(s.signature, bytes, key.publicKey))) return { ok: false, reason: 'bad_signature' };
  return { ok: true, text: note.text };
};
