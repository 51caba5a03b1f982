/** Randomness comes in through this port (`length` bytes per call) so that tests can be deterministic. */
export type RandomSource = (length: number) => Uint8Array;
