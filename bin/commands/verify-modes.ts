import type { z } from 'zod';

/** The modes of `credence verify`: four offline, three against a server (`--server`). */
export type VerifyMode = 'data' | 'bundle' | 'event' | 'consistency' | 'serverStream' | 'serverFrom' | 'serverLatest';

/** The options only some modes take. */
export const MODE_OPTIONS = ['proof', 'checkpoint', 'to', 'repairNodes', 'saveCheckpoint', 'maxBundleMib', 'signing'] as const;
type ModeOption = (typeof MODE_OPTIONS)[number];

const OPTIONS_OF: Record<VerifyMode, readonly ModeOption[]> = {
  data: ['checkpoint', 'repairNodes', 'saveCheckpoint'],
  bundle: ['checkpoint', 'maxBundleMib', 'signing'],
  event: ['proof', 'checkpoint'],
  consistency: ['proof', 'to'],
  // The server gives the proofs and the checkpoints; its latest checkpoint is the later one of --from.
  serverStream: [],
  serverFrom: ['saveCheckpoint'],
  serverLatest: ['saveCheckpoint'],
};
const MODE_NAMES: Record<VerifyMode, string> = {
  data: '--data',
  bundle: 'a bundle FILE.json',
  event: '--event',
  consistency: '--from/--to',
  serverStream: '--server and a stream',
  serverFrom: '--server --from',
  serverLatest: '--server',
};
const OPTION_MODES: Record<ModeOption, string> = {
  proof: '--event or --from/--to, offline (a server gives its proofs)',
  checkpoint: '--data, a bundle FILE.json or --event, offline (a server gives its checkpoint)',
  to: "--from, offline (with --server the server's latest checkpoint is the later one)",
  repairNodes: '--data',
  saveCheckpoint: '--data, or --server without a stream',
  maxBundleMib: 'a bundle FILE.json, offline (the bound on a file it reads)',
  signing: 'a bundle FILE.json, offline (the policy its request signatures are judged by)',
};

/**
 * An option of another mode is refused (exit 2) naming it and the mode, never ignored: the check it asks for would not
 * be made (review 88: a bundle older than the --checkpoint given verified), or the file it asks for not written
 * (review 93: `verify --server --save-checkpoint F` wrote nothing and exited 0). One table for every mode, offline and
 * against a server, so that an option added to one is refused by the others.
 */
export const refuseOptionsOfOtherModes = (values: Partial<Record<ModeOption, unknown>>, mode: VerifyMode, ctx: z.RefinementCtx): void => {
  for (const option of MODE_OPTIONS) {
    if (values[option] !== undefined && !OPTIONS_OF[mode].includes(option)) {
      ctx.addIssue({ code: 'custom', path: [option], message: `does not go with ${MODE_NAMES[mode]}; it goes with ${OPTION_MODES[option]}` });
    }
  }
};
