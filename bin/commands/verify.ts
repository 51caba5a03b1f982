import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { PUBLIC_KEY_FILE, hasTransparencyLog, openTransparencyLogInDir } from '../../adapters/driven/transparency/index.ts';
import { readEventsDbInDir } from '../../adapters/driven/store/index.ts';
import { EVENTS_DB_FILE } from '../../adapters/driven/store/index.ts';
import {
  ConsistencyProofJson,
  InclusionProofJson,
  RecordedEventJson,
  verifyConsistency,
  verifyEventInclusion,
  verifyEvidenceBundle,
  formatRevisionRanges,
  parseVerifierKey,
  type NoteVerifierKey,
  type VerificationResult,
} from '../../domain/transparency/index.ts';
import { auditStoreAgainstLog } from '../../projections/transparency/index.ts';
import { FILE_LIMITS, readJsonFile, readTextFile, type FileRead } from '../files.ts';
import { json, parseCli, type Io } from '../io.ts';

/** `--key` is the log's verifier key (`<name>+<key ID>+<base64>`) or a file holding it, e.g. transparency.pub. */
export const resolveLogKey = (value: string, io: Io): NoteVerifierKey | undefined => {
  const inline = parseVerifierKey(value.trim());
  if (inline !== undefined) return inline;
  if (existsSync(value)) {
    const text = readTextFile(value, FILE_LIMITS.key);
    const fromFile = text.ok ? parseVerifierKey(text.value.trim()) : undefined;
    if (fromFile !== undefined) return fromFile;
    io.err(`error: --key: ${text.ok ? `${value} does not hold an Ed25519 note verifier key` : text.message}`);
    return undefined;
  }
  io.err('error: --key: neither a verifier key (<name>+<key ID>+<base64 key>) nor a readable file');
  return undefined;
};

const USAGE = [
  'usage: credence verify --data DIR [--key KEY]                       audit events.db against the transparency log',
  '       credence verify FILE.json [--key KEY]                        verify an evidence bundle (credence export)',
  '       credence verify --event E.json --proof P.json --checkpoint C.txt --key KEY',
  '       credence verify --from A.txt --to B.txt --proof P.json --key KEY   consistency of two checkpoints',
  'KEY is the log verifier key (<name>+<key ID>+<base64>) or a file holding it (<data>/transparency.pub).',
].join('\n');

const Args = z
  .object({
    data: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    event: z.string().min(1).optional(),
    proof: z.string().min(1).optional(),
    checkpoint: z.string().min(1).optional(),
    from: z.string().min(1).optional(),
    to: z.string().min(1).optional(),
    json: z.boolean().default(false),
    positionals: z.array(z.string()).max(1, 'verify takes at most one bundle file'),
  })
  .transform((a, ctx) => {
    const modes = [
      a.data !== undefined && ({ mode: 'data', dir: a.data } as const),
      a.positionals[0] !== undefined && ({ mode: 'bundle', file: a.positionals[0] } as const),
      a.event !== undefined && ({ mode: 'event', event: a.event } as const),
      a.from !== undefined && ({ mode: 'consistency', from: a.from } as const),
    ].filter((m) => m !== false);
    if (modes.length !== 1) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of --data DIR, FILE.json, --event or --from/--to' });
      return z.NEVER;
    }
    const needs = (fields: (keyof typeof a)[]) => {
      for (const f of fields) if (a[f] === undefined) ctx.addIssue({ code: 'custom', path: [f], message: `--${f} is required here` });
    };
    if (modes[0]!.mode === 'event') needs(['proof', 'checkpoint', 'key']);
    if (modes[0]!.mode === 'consistency') needs(['to', 'proof', 'key']);
    return { ...a, ...modes[0]! };
  });

const OPTIONS = {
  data: { type: 'string' },
  key: { type: 'string' },
  event: { type: 'string' },
  proof: { type: 'string' },
  checkpoint: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A file named by `flag`, bounded (bin/files.ts); undefined after saying why, which is malformed input (exit 2). */
const readInput = <T>(flag: string, read: FileRead<T>, io: Io): T | undefined => {
  if (read.ok) return read.value;
  io.err(`error: ${flag}${read.message}`);
  return undefined;
};

const report = (result: VerificationResult, success: string, io: Io, asJson: boolean): number => {
  if (asJson) io.out(json(result));
  if (result.ok) {
    if (!asJson) io.out(success);
    return 0;
  }
  io.err(`FAILED (${result.reason})${result.position !== undefined ? ` at position ${result.position}` : ''}: ${result.message}`);
  if (result.missing !== undefined) io.err(`not covered: revisions ${formatRevisionRanges(result.missing)}`);
  // Input that is not what it claims to be is malformed input, like a usage error; 1 means it did not verify.
  return result.reason === 'malformed' ? 2 : 1;
};

/**
 * `credence verify`: the offline verifier of issue 4 (items 5, 6 and 7). Exit 0 verified, 1 failed, 2 usage or
 * malformed input (a file over its byte limit or nested too deeply included: issue 10 item 2).
 */
export const run = async (argv: string[], io: Io): Promise<number> => {
  if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) {
    io.err(USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  const args = parseCli(argv, OPTIONS, Args, io);
  if (args === undefined) return 2;
  const pinned = args.key === undefined ? undefined : resolveLogKey(args.key, io);
  if (args.key !== undefined && pinned === undefined) return 2;

  switch (args.mode) {
    case 'data':
      return auditDataDir(args.dir, pinned, io, args.json);
    case 'bundle': {
      const input = readInput('', readJsonFile(args.file, FILE_LIMITS.bundle), io);
      if (input === undefined) return 2;
      const result = verifyEvidenceBundle(input, pinned === undefined ? {} : { trustedKey: pinned });
      if (result.ok && result.keyFromBundle) io.err('warning: verified with the key inside the bundle; pin the log key with --key');
      const success = result.ok
        ? `ok: ${result.events} events of ${result.streamId} are in the log and are the whole stream as of tree size ${result.checkpoint.treeSize} (${result.checkpoint.time})`
        : '';
      return report(result, success, io, args.json);
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
        io.err(`error: ${!event.success ? '--event' : '--proof'}: not a valid ${!event.success ? 'event' : 'inclusion proof'} file`);
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
      return report(result, `ok: the tree of size ${proof.data.second} extends the tree of size ${proof.data.first}`, io, args.json);
    }
  }
};

const auditDataDir = async (dir: string, pinned: NoteVerifierKey | undefined, io: Io, asJson: boolean): Promise<number> => {
  if (!existsSync(join(dir, EVENTS_DB_FILE)) || !hasTransparencyLog(dir)) {
    io.err(`error: --data: ${dir} holds no event store and transparency log`);
    return 2;
  }
  let key = pinned;
  if (key === undefined) {
    key = resolveLogKey(join(dir, PUBLIC_KEY_FILE), io);
    if (key === undefined) return 2;
    io.err(`warning: using the key stored in ${dir}; pin the log key with --key for an independent audit`);
  }
  const log = openTransparencyLogInDir(dir);
  try {
    const result = await auditStoreAgainstLog({ storedEvents: readEventsDbInDir(dir), log, logPublicKey: key });
    if (asJson) io.out(json(result));
    if (!result.ok) {
      io.err(`TAMPERED: ${result.kind}${result.position !== undefined ? ` at position ${result.position}` : ''}: ${result.message}`);
      return 1;
    }
    if (!asJson) {
      io.out(
        `ok: ${result.checkedEvents} stored events match the transparency log; ${result.signedThrough} are covered by the signed checkpoint` +
          (result.checkpoint ? ` of ${result.checkpoint.time}` : '') +
          (result.unlogged > 0 ? `; ${result.unlogged} not logged yet` : ''),
      );
    }
    return 0;
  } finally {
    log.close();
  }
};
