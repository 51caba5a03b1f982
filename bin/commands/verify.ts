import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { PUBLIC_KEY_FILE, hasTransparencyLog, openTransparencyLogForAudit, rebuildStoredSubtrees } from '../../adapters/driven/transparency/index.ts';
import { lockDataFolder } from '../../adapters/runtime/data-folder.ts';
import { sayRemovedStrays } from './folder-lock.ts';
import { readEventsDbInDir } from '../../adapters/driven/store/index.ts';
import { EVENTS_DB_FILE } from '../../adapters/driven/store/index.ts';
import {
  ConsistencyProofJson,
  InclusionProofJson,
  openCheckpoint,
  RecordedEventJson,
  verifyConsistency,
  verifyEventInclusion,
  type NoteVerifierKey,
} from '../../domain/transparency/index.ts';
import { auditStoreAgainstLog } from '../../projections/transparency/index.ts';
import { TransparencyLogAltered } from '../../domain/ports/index.ts';
import { isCredenceError, type CredenceError } from '../../domain/errors.ts';
import { FILE_LIMITS, readJsonFile, readTextFile, type FileRead } from '../files.ts';
import { json, type Io } from '../io.ts';
import { printable } from '../printable.ts';
import { handler, parseOptions, runCommands, UsageError, type RegisterCommands } from '../program.ts';
import { progressBar } from '../progress.ts';
import { progressStream, ServerOptions, serverTarget, withJson, withServer, PathArg } from './options.ts';
import { verifyRemote } from './verify-remote.ts';
import { report, resolveLogKey, verifyBundle } from './verify-checks.ts';
import { refusalJson, reportRefusal } from './verify-refusal.ts';

const EXAMPLES = `
Modes (exactly one):
  credence verify --data DIR [--key KEY] [--checkpoint C.txt]   audit events.db against the transparency log (and a
                 [--repair-nodes]                               checkpoint kept from an earlier audit); --repair-nodes
                                                                rewrites stored subtree hashes found wrong (node_mismatch)
  credence verify FILE.json --key KEY                           verify an evidence bundle (credence export)
  credence verify --event E.json --proof P.json --checkpoint C.txt --key KEY
  credence verify --from A.txt --to B.txt --proof P.json --key KEY    consistency of two checkpoints
Against a server (--server URL, given explicitly; --token-file FILE, --token T or CREDENCE_TOKEN), --key required:
  credence verify <stream> --key KEY                            fetch the stream's evidence bundle and verify it here
  credence verify --from A.txt --key KEY                        the server's latest checkpoint extends A.txt
  credence verify --key KEY                                     the server's latest checkpoint is signed by KEY
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
    if (a.repairNodes === true && modes[0]!.mode !== 'data') ctx.addIssue({ code: 'custom', path: ['repairNodes'], message: '--repair-nodes goes with --data' });
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

const verifyLocal = async (args: Options, pinned: NoteVerifierKey | undefined, io: Io): Promise<number> => {
  switch (args.mode) {
    case 'data': {
      const saved = args.checkpoint === undefined ? undefined : readInput('--checkpoint: ', readTextFile(args.checkpoint, FILE_LIMITS.note), io);
      if (args.checkpoint !== undefined && saved === undefined) return 2;
      return auditDataDir(args.dir, pinned, io, args.json, saved, args.repairNodes === true);
    }
    case 'bundle': {
      // Number tokens must be as JSON.stringify writes them: the leaf hashes cover the parsed values (json-duplicate-names.ts).
      const input = readInput('', readJsonFile(args.file, FILE_LIMITS.bundle, undefined, { canonicalNumbers: true }), io);
      return input === undefined ? 2 : verifyBundle(input, pinned!, io, args.json);
    }
    case 'event': {
      const eventInput = readInput('--event: ', readJsonFile(args.event, FILE_LIMITS.json), io);
      if (eventInput === undefined) return 2;
      const proofInput = readInput('--proof: ', readJsonFile(args.proof!, FILE_LIMITS.json), io);
      if (proofInput === undefined) return 2;
      const checkpointNote = readInput('--checkpoint: ', readTextFile(args.checkpoint!, FILE_LIMITS.note), io);
      if (checkpointNote === undefined) return 2;
      const event = RecordedEventJson.safeParse(eventInput);
      const proof = InclusionProofJson.safeParse(proofInput);
      if (!event.success || !proof.success) {
        const issue = (!event.success ? event.error : proof.error!).issues[0];
        const why = issue === undefined ? '' : `: ${issue.path.join('.') || '(root)'}: ${issue.message}`;
        io.err(printable(`error: ${!event.success ? '--event' : '--proof'}: not a valid ${!event.success ? 'event' : 'inclusion proof'} file${why}`));
        return 2;
      }
      const result = verifyEventInclusion({ event: event.data, proof: proof.data, checkpointNote, logPublicKey: pinned! });
      return report(result, `ok: event ${event.data.id} is leaf ${proof.data.leafIndex} of the signed tree of size ${proof.data.treeSize}`, io, args.json);
    }
    case 'consistency': {
      const proofInput = readInput('--proof: ', readJsonFile(args.proof!, FILE_LIMITS.json), io);
      if (proofInput === undefined) return 2;
      const from = readInput('--from: ', readTextFile(args.from, FILE_LIMITS.note), io);
      const to = from === undefined ? undefined : readInput('--to: ', readTextFile(args.to!, FILE_LIMITS.note), io);
      if (from === undefined || to === undefined) return 2;
      const proof = ConsistencyProofJson.safeParse(proofInput);
      if (!proof.success) {
        io.err('error: --proof: not a valid consistency proof file');
        return 2;
      }
      const result = verifyConsistency(from, to, proof.data, pinned!);
      // --from is the checkpoint kept from before, --to the later one: a smaller --to is a log rolled back.
      return report(result, `ok: the tree of size ${proof.data.second} extends the tree of size ${proof.data.first}`, io, args.json);
    }
  }
};

/** Counts the events read so a terminal shows how far a long audit is; every 1,000 events, not every event. */
function* counted<T>(rows: Iterable<T>, update: ((done: number) => void) | undefined): Generator<T> {
  let done = 0;
  for (const row of rows) {
    yield row;
    done += 1;
    if (update !== undefined && done % 1000 === 0) update(done);
  }
  update?.(done);
}

/** What `--repair-nodes` found and wrote, told in the JSON of the audit after it: stdout holds one document. */
interface Repaired {
  readonly subtreeHashes: number;
  readonly found: object;
}

/**
 * `saved`: a checkpoint kept from an earlier audit, which the log must still extend (else `rolled_back`). `repair`:
 * a `node_mismatch` is repaired (`--repair-nodes`) and the folder audited again, its JSON alone printed, with `repaired`.
 */
const auditDataDir = async (dir: string, pinned: NoteVerifierKey | undefined, io: Io, asJson: boolean, saved?: string, repair: boolean | Repaired = false): Promise<number> => {
  const printJson = (document: object): void => {
    if (asJson) io.out(json(typeof repair === 'object' ? { ...document, repaired: repair } : document));
  };
  if (!existsSync(join(dir, EVENTS_DB_FILE)) || !hasTransparencyLog(dir)) throw new UsageError(`--data: ${dir} holds no event store and transparency log`);
  let key = pinned;
  if (key === undefined) {
    key = resolveLogKey(join(dir, PUBLIC_KEY_FILE), io);
    if (key === undefined) return 2;
    io.err(printable(`warning: using the key stored in ${dir}; pin the log key with --key for an independent audit`));
  }
  if (saved !== undefined) {
    // The auditor's own file: malformed, or not under the key pinned, is bad input (2). Not under the folder's own
    // key may be the folder's doing (its key replaced): a failure (1).
    const opened = openCheckpoint(saved, key);
    if (!opened.ok) {
      if (opened.reason === 'malformed_checkpoint' || pinned !== undefined) {
        io.err(printable(`error: --checkpoint: ${opened.message}`));
        return 2;
      }
      io.err(printable(`FAILED (${opened.reason}): --checkpoint: ${opened.message}: the folder's key was replaced, or the file is another log's`));
      return 1;
    }
  }
  let log: ReturnType<typeof openTransparencyLogForAudit>;
  try {
    log = openTransparencyLogForAudit(dir);
  } catch (error) {
    if (error instanceof TransparencyLogAltered) {
      printJson({ ok: false, kind: 'log_mismatch', message: error.message });
      io.err(printable(`TAMPERED: log_mismatch: ${error.message}`));
      return 1;
    }
    if (isCredenceError(error, 'damaged_database')) return damaged(error, io, printJson);
    throw new UsageError(`--data: ${join(dir, 'transparency.db')}: ${(error as Error).message}`);
  }
  const stream = progressStream(io, asJson);
  const bar = stream === undefined ? undefined : progressBar(stream, 0, 'events checked against the log');
  try {
    // Kept by a service that stopped over a store that no longer held what it logged: told with the audit's outcome.
    const refusal = log.keptRefusal();
    const result = await auditStoreAgainstLog({
      storedEvents: counted(readEventsDbInDir(dir), bar?.update),
      log,
      logPublicKey: key,
      ...(saved !== undefined ? { saved } : {}),
    });
    bar?.finish();
    const repairing = !result.ok && result.kind === 'node_mismatch' && repair === true;
    if (!repairing) printJson(refusal === undefined ? result : { ...result, refusal: refusalJson(refusal) });
    reportRefusal(refusal, result.ok, io);
    if (!result.ok) {
      io.err(printable(`TAMPERED: ${result.kind}${result.position !== undefined ? ` at position ${result.position}` : ''}: ${result.message}`));
      if (!repairing) return 1;
      log.close();
      return await repairNodes(dir, pinned, io, asJson, saved, result);
    }
    if (!asJson) {
      io.out(
        printable(
          `ok: ${result.checkedEvents} stored events match the transparency log; ${result.signedThrough} are covered by the signed checkpoint` +
            (result.checkpoint ? ` of ${result.checkpoint.time}` : '') +
            (result.unlogged > 0 ? `; ${result.unlogged} not logged yet` : ''),
        ),
      );
    }
    return 0;
  } catch (error) {
    if (isCredenceError(error, 'damaged_database')) return damaged(error, io, printJson);
    throw error;
  } finally {
    log.close();
  }
};

/**
 * `--repair-nodes`: the audit found the events, the leaves and the signed checkpoints in agreement and only stored
 * subtree hashes wrong (node_mismatch is reported only then), so they are written again from the leaves, holding the
 * data folder (a running service is refused: it keeps the tree's edge in memory), and the folder audited again.
 */
const repairNodes = async (dir: string, pinned: NoteVerifierKey | undefined, io: Io, asJson: boolean, saved: string | undefined, found: object): Promise<number> => {
  // The command's env, not process.env: the KEK it names outside the folder is checked and swept beside with it.
  const lock = sayRemovedStrays(lockDataFolder(dir, io.env ?? process.env), dir, io, 'verify');
  let written: number;
  try {
    written = rebuildStoredSubtrees(dir);
    io.err(`repaired: ${written} stored subtree hashes of transparency.db written again from its leaves; auditing again`);
  } finally {
    lock.release();
  }
  return auditDataDir(dir, pinned, io, asJson, saved, { subtreeHashes: written, found });
};

/**
 * A log file SQLite cannot read is a finding of the audit (1), not bad usage (2): no proof can be served from it
 * either. Said with the file and what mends it (review 51).
 */
const damaged = (error: CredenceError, io: Io, printJson: (document: object) => void): number => {
  printJson({ ok: false, kind: 'damaged', ...error.problem });
  io.err(printable(`DAMAGED: ${error.message}`));
  return 1;
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
    .option('--checkpoint <file>', 'the signed checkpoint note the inclusion proof is against; with --data, one kept from an earlier audit')
    .option('--from <file>', 'an earlier signed checkpoint note')
    .option('--to <file>', 'a later signed checkpoint note')
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
