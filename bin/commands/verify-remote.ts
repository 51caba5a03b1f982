import type { Command } from 'commander';
import { z } from 'zod';
import { openCheckpoint, verifyConsistency } from '../../domain/transparency/index.ts';
import { json, type Io } from '../io.ts';
import { EXIT, parseOptions, UsageError } from '../program.ts';
import { clientOf, ServerOptions, StreamArg, type ServerTarget, PathArg } from './options.ts';
import { report, resolveLogKey, verifyBundle } from './verify-checks.ts';
import { proofFromKept } from './verify-kept-proof.ts';
import { readSavedCheckpointFile, unparsedCheckpoint } from './verify-inputs.ts';
import { refuseOptionsOfOtherModes } from './verify-modes.ts';
import { keptCheckpointRefusal, saveCheckpoint, sayKeptCheckpoint, type KeptCheckpointRefusal } from './verify-save-checkpoint.ts';

const Options = z
  .object({
    target: StreamArg.optional(),
    key: z.string({ error: "required with --server: the log verifier key you trust (a server cannot vouch for its own log)" }).min(1),
    from: PathArg.optional(),
    json: z.boolean().default(false),
    data: z.never({ error: 'verifies a server or a data folder, not both' }).optional(),
    event: z.never({ error: 'an inclusion proof file is verified offline, without --server' }).optional(),
    // Options of other modes: parsed here so that verify-modes.ts refuses them, as offline, rather than zod dropping them.
    proof: z.unknown().optional(),
    checkpoint: z.unknown().optional(),
    to: z.unknown().optional(),
    repairNodes: z.unknown().optional(),
    maxBundleMib: z.unknown().optional(),
    saveCheckpoint: PathArg.optional(),
    ...ServerOptions,
    server: z.string(),
  })
  // An option the command gained and this schema did not (review 93: --save-checkpoint and --repair-nodes were dropped
  // without a word, exit 0) is refused, not ignored.
  .catchall(z.never({ error: 'does not go with --server' }))
  .superRefine((a, ctx) => {
    refuseOptionsOfOtherModes(a, a.target !== undefined ? 'serverStream' : a.from !== undefined ? 'serverFrom' : 'serverLatest', ctx);
  });

/** A verified checkpoint not saved over the one kept (keptCheckpointRefusal): a failure (1), `--json` saying why. */
const keptCheckpointStays = (refusal: KeptCheckpointRefusal, io: Io, asJson: boolean): number => {
  if (asJson) io.out(json({ ok: false, reason: refusal.rule, message: refusal.message }));
  sayKeptCheckpoint(refusal, io);
  return 1;
};

/**
 * `credence verify --server`: the client checks what the server hands out against the log key it trusts (--key,
 * required: a server cannot vouch for itself, so the key inside its bundle is never enough). A stream: its
 * evidence bundle fetched and verified here. --from A.txt: the server's latest checkpoint extends A (the log was
 * not rewritten since). Neither: the latest checkpoint's signature. What the server hands out that is malformed
 * fails (exit 1): it is not the caller's input. `--save-checkpoint FILE`: the server's latest checkpoint, once verified,
 * kept for the next `--from` or `--checkpoint`, never over a kept one it was not shown to extend.
 */
export const verifyRemote = async (server: ServerTarget, command: Command, raw: Record<string, unknown>, io: Io): Promise<number> => {
  const args = parseOptions(command, Options, raw);
  if (args.target !== undefined && args.from !== undefined) throw new UsageError('--from: give a stream or --from, not both');
  const pinned = resolveLogKey(args.key, io);
  if (pinned === undefined) return EXIT.usage;
  const client = clientOf(server);
  if (args.target !== undefined) {
    return verifyBundle(await client.evidence(args.target.kind, args.target.id), pinned, io, args.json, true, args.target.streamId);
  }
  if (args.from === undefined) {
    const note = await client.checkpoint();
    const opened = openCheckpoint(note, pinned);
    if (opened.ok && args.saveCheckpoint !== undefined) {
      // Nothing was checked from: only the same tree replaces a kept one (review 134: a rolled-back server downgraded it).
      const unsaved = keptCheckpointRefusal(args.saveCheckpoint, note, pinned, undefined, '--from');
      if (unsaved !== undefined) return keptCheckpointStays(unsaved, io, args.json);
      saveCheckpoint(args.saveCheckpoint, note, io);
    }
    const success = opened.ok ? `ok: the server's latest checkpoint is signed by ${pinned.keyName}: tree size ${opened.checkpoint.treeSize} (${opened.checkpoint.time})` : '';
    return report(opened, success, io, args.json, true);
  }
  const earlier = readSavedCheckpointFile(args.from);
  if (!earlier.ok) throw new UsageError(`--from: ${earlier.message}`);
  // The earlier checkpoint is the caller's own file: one that does not parse is bad input (2); one that parses and is
  // not signed by the key pinned is a verification failure (1), before the server is asked.
  const unparsed = unparsedCheckpoint('--from', earlier.value, io);
  if (unparsed !== undefined) return unparsed;
  const first = openCheckpoint(earlier.value, pinned);
  if (!first.ok) return report(first, '', io, args.json);
  // The earlier checkpoint is the one kept here, never the server's copy of it: that is what makes this an audit.
  const proven = await proofFromKept(client, first.checkpoint, earlier.value, pinned);
  if ('failed' in proven) return report(proven.failed, '', io, args.json, true);
  const { answer } = proven;
  const result = verifyConsistency(earlier.value, answer.to, answer.proof, pinned);
  // Kept only once shown to extend the one kept before: the next audit then holds the server to it (one may pass
  // the same file as --from and --save-checkpoint, as with --data's --checkpoint).
  if (result.ok && args.saveCheckpoint !== undefined) {
    const unsaved = keptCheckpointRefusal(args.saveCheckpoint, answer.to, pinned, first.checkpoint, '--from');
    if (unsaved !== undefined) return keptCheckpointStays(unsaved, io, args.json);
    saveCheckpoint(args.saveCheckpoint, answer.to, io);
  }
  const success = !result.ok
    ? ''
    : result.second.treeSize === result.first.treeSize
      ? `ok: the server's latest checkpoint is the tree of size ${result.first.treeSize} itself (nothing appended since)`
      : `ok: the server's tree of size ${result.second.treeSize} extends the tree of size ${result.first.treeSize}`;
  return report(result, success, io, args.json, true);
};
