import { Transcript } from '../crypto/transcript.ts';

/**
 * A run's transcript as both ends start it: the hello absorbed whole (it carries no proof), so that every proof
 * after it covers the initiator's identity, nonce and ephemeral.
 */
export const transcriptFromHello = (protocol: string, hello: { readonly type: string } & Readonly<Record<string, unknown>>): Transcript => {
  const transcript = new Transcript(protocol);
  transcript.absorb(hello.type, hello);
  return transcript;
};
