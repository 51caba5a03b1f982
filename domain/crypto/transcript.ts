import { canonicalJson } from './canonical-json.ts';
import { concatBytes, lengthPrefixed, utf8 } from './bytes.ts';
import { sha256 } from './hash.ts';

/** Transcripts and proofs hash RFC 8785 canonical JSON; callers that build proof inputs take it from here too. */
export { canonicalJson };

/**
 * A running transcript hash: th_0 = SHA-256(label), th_i = SHA-256(th_{i-1} || len||step || len||JCS(fields)).
 * Messages are hashed in their RFC 8785 canonical JSON form, so both ends hash the same bytes whatever their JSON
 * serialiser does. Proofs (signatures, MACs) are computed over a transcript hash and are not themselves absorbed.
 */
export class Transcript {
  #hash: Uint8Array;

  constructor(protocol: string) {
    this.#hash = sha256(utf8(`credence/${protocol}/v1/transcript`));
  }

  /**
   * A transcript going on from `hash`, one this class gave (`hash` after some messages): a responder keeps that
   * instead of the messages, to start again from it (RunTranscript), so a run need not hold a large first message.
   */
  static resumedAt(hash: Uint8Array): Transcript {
    if (!(hash instanceof Uint8Array) || hash.length !== 32) throw new TypeError('hash must be a 32-byte transcript hash');
    const transcript = new Transcript('resumed');
    transcript.#hash = hash.slice();
    return transcript;
  }

  absorb(step: string, fields: Readonly<Record<string, unknown>>): Uint8Array {
    const json = canonicalJson(fields);
    this.#hash = sha256(concatBytes(this.#hash, lengthPrefixed(utf8(step)), lengthPrefixed(utf8(json))));
    return this.hash;
  }

  get hash(): Uint8Array {
    return this.#hash.slice();
  }
}

/** Removes the listed fields (a message's own proofs) before it is absorbed. */
export const withoutFields = <T extends Record<string, unknown>>(message: T, ...fields: readonly string[]): Record<string, unknown> =>
  Object.fromEntries(Object.entries(message).filter(([key, value]) => !fields.includes(key) && value !== undefined));

/**
 * What a proof signs or MACs: a label naming protocol, role and purpose, then the transcript hash. The role in
 * the label stops a proof made by one side from being reflected back as the other side's.
 */
export const proofInput = (protocol: string, role: string, purpose: string, transcriptHash: Uint8Array): Uint8Array =>
  concatBytes(utf8(`credence/${protocol}/v1/${role}/${purpose}`), new Uint8Array([0]), transcriptHash);
