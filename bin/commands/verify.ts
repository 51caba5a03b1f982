import type { Command } from 'commander';
import { z } from 'zod';
import {
  ConsistencyProofJson,
  BundledEventJson,
  InclusionProofJson,
  openCheckpoint,
  verifyConsistency,
  type Checkpoint,
  verifyEventInclusion,
  type NoteVerifierKey,
} from '../../domain/transparency/index.ts';
import { WholeNumber } from '../../domain/whole-number.ts';
import { BUNDLE_MIB, bundleBound, FILE_LIMITS, readJsonFile, type FileRead } from '../files.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';
import { handler, parseOptions, runCommands, type RegisterCommands } from '../program.ts';
import { ServerOptions, serverTarget, withJson, withServer, PathArg } from './options.ts';
import { verifyRemote } from './verify-remote.ts';
import { report, resolveLogKey, verifyBundle } from './verify-checks.ts';
import { auditDataDir } from './verify-data-folder.ts';
import { readBundleFile, readNoteFile, readSavedCheckpointFile, unparsedCheckpoint } from './verify-inputs.ts';
import { refuseOptionsOfOtherModes } from './verify-modes.ts';
import { SigningArg, signingPolicyOption } from './signing-option.ts';
import { warnOfUnknownVariables } from './unknown-variables.ts';

const EXAMPLES = `
Modes (exactly one):
  credence verify --data DIR [--key KEY] [--checkpoint C.txt]   audit events.db against the transparency log (and a
                 [--repair-nodes] [--save-checkpoint C.txt]     checkpoint kept from an earlier audit); --repair-nodes
                                                                rewrites stored subtree hashes found wrong (node_mismatch);
                                                                --save-checkpoint keeps the latest checkpoint of a passed
                                                                audit for the next one
  credence verify FILE.json --key KEY [--checkpoint C.txt]      verify an evidence bundle (credence export);
                 [--max-bundle-mib N] [--signing POLICY.json]   with --checkpoint, its tree must be C.txt's: a
                                                                larger one fails consistency_unproven (check it
                                                                with --from/--to; see README); one over 64 MiB
                                                                only with --max-bundle-mib (export names it);
                                                                with --signing, each event's request signature is
                                                                judged against the signing policy (1 if one is invalid)
  credence verify --event E.json --proof P.json --checkpoint C.txt --key KEY
  credence verify --from A.txt --to B.txt --proof P.json --key KEY    consistency of two checkpoints
Against a server (--server URL, given explicitly; --token-file FILE, --token T or CREDENCE_TOKEN), --key required:
  credence verify <stream> --key KEY                            fetch the stream's evidence bundle and verify it here
  credence verify --from A.txt --key KEY                        the server's latest checkpoint extends A.txt
  credence verify --key KEY                                     the server's latest checkpoint is signed by KEY
  (these two take --save-checkpoint C.txt: the server's latest checkpoint, once verified, kept for the next --from)
KEY is the log verifier key (<name>+<key ID>+<base64>) or a file holding it (<data>/transparency.pub), obtained
from the log's operator out of band: a server cannot vouch for its own log.
Exit 0 verified, 1 failed (a malformed answer of a server included), 2 usage or a malformed input file,
3 server unreachable.`;

const Options = z
  .object({
    target: z.string().min(1).max(4096).optional(),
    data: PathArg.optional(),
    key: PathArg.optional(),
    event: PathArg.optional(),
    proof: PathArg.optional(),
    checkpoint: PathArg.optional(),
    from: PathArg.optional(),
    to: PathArg.optional(),
    json: z.boolean().default(false),
    repairNodes: z.boolean().optional(),
    saveCheckpoint: PathArg.optional(),
    maxBundleMib: WholeNumber(1, BUNDLE_MIB.max).optional(),
    signing: SigningArg,
    ...ServerOptions,
  })
  .transform((a, ctx) => {
    const modes = [
      a.data !== undefined && ({ mode: 'data', dir: a.data } as const),
      a.target !== undefined && ({ mode: 'bundle', file: a.target } as const),
      a.event !== undefined && ({ mode: 'event', event: a.event } as const),
      a.from !== undefined && ({ mode: 'consistency', from: a.from } as const),
    ].filter((m) => m !== false);
    if (modes.length !== 1) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of --data DIR, FILE.json, --event or --from/--to, or --server URL to verify against a server (CREDENCE_URL alone does not; see --help)' });
      return z.NEVER;
    }
    const needs = (fields: (keyof typeof a)[]) => {
      for (const f of fields) if (a[f] === undefined) ctx.addIssue({ code: 'custom', path: [f], message: `--${f} is required here` });
    };
    // A bundle signed under the key it names proves nothing of which log issued it: anyone can make one of invented
    // events (found in review 30). The log's key is obtained out of band (RFC 9162 4.1), so it is required here.
    if (modes[0]!.mode === 'bundle' && a.key === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['key'],
        message: "required to verify a bundle: the log verifier key obtained from the log's operator (<data>/transparency.pub); the key inside a bundle is whoever made it",
      });
    }
    refuseOptionsOfOtherModes(a, modes[0]!.mode, ctx);
    if (modes[0]!.mode === 'event') needs(['proof', 'checkpoint', 'key']);
    if (modes[0]!.mode === 'consistency') needs(['to', 'proof', 'key']);
    return { ...a, ...modes[0]! };
  });
type Options = z.output<typeof Options>;

/** A file named by `flag`, bounded (bin/files.ts); undefined after saying why, which is malformed input (exit 2). */
const readInput = <T>(flag: string, read: FileRead<T>, io: Io): T | undefined => {
  if (read.ok) return read.value;
  io.err(printable(`error: ${flag}${read.message}`));
  return undefined;
};

/** A schema issue as `: path: message`; a member the format does not define is named with `unknown_member`. */
const issueText = (issue: z.core.$ZodIssue | undefined): string => {
  if (issue === undefined) return '';
  if (issue.code === 'unrecognized_keys') {
    return `: ${[...issue.path, issue.keys[0] ?? ''].join('.')}: unknown_member: a member the format does not define, which no proof covers`;
  }
  return `: ${issue.path.join('.') || '(root)'}: ${issue.message}`;
};

const verifyLocal = async (args: Options, pinned: NoteVerifierKey | undefined, io: Io): Promise<number> => {
  switch (args.mode) {
    case 'data': {
      await warnOfUnknownVariables(io);
      const saved = args.checkpoint === undefined ? undefined : readInput('--checkpoint: ', readSavedCheckpointFile(args.checkpoint), io);
      if (args.checkpoint !== undefined && saved === undefined) return 2;
      const unparsed = saved === undefined ? undefined : unparsedCheckpoint('--checkpoint', saved, io);
      if (unparsed !== undefined) return unparsed;
      return auditDataDir(args.dir, pinned, io, args.json, saved, args.repairNodes === true, args.saveCheckpoint);
    }
    case 'bundle': {
      const input = readInput('', readBundleFile(args.file, args.maxBundleMib ?? BUNDLE_MIB.default), io);
      if (input === undefined) return 2;
      let saved: Checkpoint | undefined;
      if (args.checkpoint !== undefined) {
        // The auditor's own file: malformed, or not under the key pinned, is bad input (2), as with --data.
        const note = readInput('--checkpoint: ', readSavedCheckpointFile(args.checkpoint), io);
        if (note === undefined) return 2;
        const opened = openCheckpoint(note, pinned!);
        if (!opened.ok) {
          io.err(printable(`error: --checkpoint: ${opened.message}`));
          return 2;
        }
        saved = opened.checkpoint;
      }
      // Read as the service reads it (a policy others may write is refused); unusable is bad usage, exit 2.
      const signing = signingPolicyOption(args.signing, io);
      // The file was read within --max-bundle-mib: its values are held to the bounds of that size too (review 217).
      return verifyBundle(input, pinned!, io, args.json, false, undefined, saved, bundleBound(args.maxBundleMib ?? BUNDLE_MIB.default).limits, signing);
    }
    case 'event': {
      // As a bundle's event (review 88): the leaf hash covers the event as parsed, so the file must hold no member the
      // parser would drop and write every number as JSON.stringify writes its value, or it says more than was proved.
      const eventInput = readInput('--event: ', readJsonFile(args.event, FILE_LIMITS.json, undefined, { canonicalNumbers: true }), io);
      if (eventInput === undefined) return 2;
      const proofInput = readInput('--proof: ', readJsonFile(args.proof!, FILE_LIMITS.json, undefined, { canonicalNumbers: true }), io);
      if (proofInput === undefined) return 2;
      const checkpointNote = readInput('--checkpoint: ', readNoteFile(args.checkpoint!, FILE_LIMITS.note), io);
      if (checkpointNote === undefined) return 2;
      const unparsed = unparsedCheckpoint('--checkpoint', checkpointNote, io);
      if (unparsed !== undefined) return unparsed;
      const event = BundledEventJson.safeParse(eventInput);
      const proof = InclusionProofJson.safeParse(proofInput);
      if (!event.success || !proof.success) {
        const issue = (!event.success ? event.error : proof.error!).issues[0];
        io.err(printable(`error: ${!event.success ? '--event' : '--proof'}: not a valid ${!event.success ? 'event' : 'inclusion proof'} file${issueText(issue)}`));
        return 2;
      }
      const result = verifyEventInclusion({ event: event.data, proof: proof.data, checkpointNote, logPublicKey: pinned! });
      return report(result, `ok: event ${event.data.id} is leaf ${proof.data.leafIndex} of the signed tree of size ${proof.data.treeSize}`, io, args.json);
    }
    case 'consistency': {
      // Read as the --event and --proof files of an inclusion proof are (review 134: a member or a number written
      // otherwise passed here, against what README says of every proof file).
      const proofInput = readInput('--proof: ', readJsonFile(args.proof!, FILE_LIMITS.json, undefined, { canonicalNumbers: true }), io);
      if (proofInput === undefined) return 2;
      const from = readInput('--from: ', readNoteFile(args.from, FILE_LIMITS.note), io);
      const to = from === undefined ? undefined : readInput('--to: ', readNoteFile(args.to!, FILE_LIMITS.note), io);
      if (from === undefined || to === undefined) return 2;
      // The caller's own files: one that does not parse is bad input (2); one under another key fails below (1).
      const unparsed = unparsedCheckpoint('--from', from, io) ?? unparsedCheckpoint('--to', to, io);
      if (unparsed !== undefined) return unparsed;
      const proof = ConsistencyProofJson.safeParse(proofInput);
      if (!proof.success) {
        io.err(printable(`error: --proof: not a valid consistency proof file${issueText(proof.error.issues[0])}`));
        return 2;
      }
      const result = verifyConsistency(from, to, proof.data, pinned!);
      // --from is the checkpoint kept from before, --to the later one: a smaller --to is a log rolled back.
      return report(result, `ok: the tree of size ${proof.data.second} extends the tree of size ${proof.data.first}`, io, args.json);
    }
  }
};

/**
 * `credence verify`: the offline verifier of issue 4 (items 5, 6 and 7), and with --server the same checks on
 * what a server hands out, against the key pinned with --key. Exit 0 verified, 1 failed (what a server handed out
 * malformed included), 2 usage or a malformed input file (over its byte limit or nested too deeply included: issue
 * 10 item 2), 3 server unreachable.
 */
export const register: RegisterCommands = (program, io) => {
  const command: Command = withJson(withServer(program.command('verify')))
    .description('verify the transparency log, an evidence bundle or a proof offline (or what a server hands out)')
    .argument('[target]', 'an evidence bundle FILE.json; with --server, a stream <kind>-<id>')
    .option('--data <dir>', 'audit the event store of this data folder against its transparency log')
    .option('--key <key>', 'the log verifier key (<name>+<key ID>+<base64>) or a file holding it; required but with --data')
    .option('--event <file>', 'one logged event (JSON)')
    .option('--proof <file>', 'its inclusion proof, or a consistency proof with --from/--to (JSON)')
    .option('--checkpoint <file>', 'the signed checkpoint note the inclusion proof is against; with --data or a bundle, one kept from an earlier audit')
    .option('--from <file>', 'an earlier signed checkpoint note')
    .option('--to <file>', 'a later signed checkpoint note')
    .option(
      '--save-checkpoint <file>',
      "with --data, or --server without a stream: when the check passes, write the latest signed checkpoint note there, for the next --checkpoint or --from; a checkpoint it holds is replaced only by the same tree or one shown to extend it (the file given as --checkpoint or --from too)",
    )
    .option('--max-bundle-mib <n>', `with a bundle FILE.json: read one of up to N MiB (default ${BUNDLE_MIB.default}, at most ${BUNDLE_MIB.max}); verifying takes some seven times that in memory`)
    .option('--signing <file>', "with a bundle FILE.json: the deployment's request-signing policy (JSON); each event's request signature is judged against it, exit 1 if one is invalid")
    .option('--repair-nodes', "with --data: when the audit's only finding is node_mismatch, write transparency.db's stored subtree hashes again from its leaves (the service stopped)")
    .addHelpText('after', EXAMPLES)
    .action(
      handler(io, async (target: string | undefined, opts: Record<string, unknown>) => {
        const raw = { ...opts, target };
        // Verification is offline unless --server is asked for explicitly: CREDENCE_URL alone does not redirect it.
        if (opts['server'] !== undefined) return verifyRemote(serverTarget(opts, io), command, raw, io);
        const args = parseOptions(command, Options, raw);
        const pinned = args.key === undefined ? undefined : resolveLogKey(args.key, io);
        if (args.key !== undefined && pinned === undefined) return 2;
        return verifyLocal(args, pinned, io);
      }),
    );
};

/** The command on its own: `run([file, '--key', key], io)`. */
export const run = (argv: string[], io: Io): Promise<number> => runCommands([register], ['verify', ...argv], io);
