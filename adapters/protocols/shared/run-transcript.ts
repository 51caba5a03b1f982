import { Transcript } from '../../../domain/crypto/transcript.ts';

/**
 * A responder's transcript of one run that can be taken back to an earlier message: a message whose proof does not
 * check is refused and its run goes on (failed-proofs.ts, review 238), so what it absorbed must not stay in the hash
 * the sender's genuine message is then checked against. `Transcript` keeps only its hash, so going back starts the
 * run's transcript again (`start`) and absorbs the kept messages once more: a few SHA-256 over messages of a
 * kilobyte or so, and only for a refused message.
 */
export class RunTranscript {
  readonly #start: () => Transcript;
  readonly #absorbed: (readonly [step: string, fields: Readonly<Record<string, unknown>>])[] = [];
  #transcript: Transcript;

  /** `start`: the run's transcript before its first message here is absorbed (transcriptFromHello, say). */
  constructor(start: () => Transcript) {
    this.#start = start;
    this.#transcript = start();
  }

  absorb(step: string, fields: Readonly<Record<string, unknown>>): Uint8Array {
    this.#absorbed.push([step, fields]);
    return this.#transcript.absorb(step, fields);
  }

  get hash(): Uint8Array {
    return this.#transcript.hash;
  }

  /** How many messages were absorbed since the start: `rewind` to it undoes those absorbed after. */
  get length(): number {
    return this.#absorbed.length;
  }

  /** The transcript as it was when `length` messages had been absorbed. */
  rewind(length: number): void {
    if (!(Number.isInteger(length) && length >= 0 && length <= this.#absorbed.length)) throw new RangeError('length must be a point this transcript passed');
    this.#absorbed.length = length;
    const transcript = this.#start();
    for (const [step, fields] of this.#absorbed) transcript.absorb(step, fields);
    this.#transcript = transcript;
  }
}
