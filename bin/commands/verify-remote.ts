import type { Command } from 'commander';
import { z } from 'zod';
import { operatorClient } from '../../adapters/client/operator.ts';
import { ConsistencyProofJson, openCheckpoint, verifyConsistency, type NoteVerifierKey } from '../../domain/transparency/index.ts';
import { FILE_LIMITS, readTextFile } from '../files.ts';
import { type Io } from '../io.ts';
import { parseOptions, UsageError } from '../program.ts';
import { StreamArg, type ServerTarget } from './options.ts';
import { report, resolveLogKey, verifyBundle } from './verify-checks.ts';

/** GET /v1/transparency/proofs/consistency: the proof and both signed notes. */
const ConsistencyAnswer = z.object({ proof: ConsistencyProofJson, to: z.string().min(1).max(65_536) });

const Options = z.object({
  target: StreamArg.optional(),
  key: z.string().min(1).optional(),
  from: z.string().min(1).optional(),
  json: z.boolean().default(false),
  data: z.never({ error: 'verifies a server or a data folder, not both' }).optional(),
  event: z.never({ error: 'an inclusion proof file is verified offline, without --server' }).optional(),
  proof: z.never({ error: 'the server gives the proof; leave --proof out with --server' }).optional(),
  checkpoint: z.never({ error: 'the server gives the checkpoint; leave --checkpoint out with --server' }).optional(),
  to: z.never({ error: "the server's latest checkpoint is the later one; leave --to out with --server" }).optional(),
  server: z.string(),
  token: z.string().optional(),
});

/**
 * `credence verify --server`: the client checks what the server hands out against the log key it trusts, so a
 * server cannot vouch for itself. A stream: its evidence bundle fetched and verified here. --from A.txt: the
 * server's latest checkpoint extends A (the log was not rewritten since). Neither: the latest checkpoint's signature.
 */
export const verifyRemote = async (server: ServerTarget, command: Command, raw: Record<string, unknown>, io: Io): Promise<number> => {
  const args = parseOptions(command, Options, raw);
  if (args.target !== undefined && args.from !== undefined) throw new UsageError('--from: give a stream or --from, not both');
  const pinned: NoteVerifierKey | undefined = args.key === undefined ? undefined : resolveLogKey(args.key, io);
  if (args.key !== undefined && pinned === undefined) return 2;
  const client = operatorClient(server.url, server.token);
  if (args.target !== undefined) return verifyBundle(await client.evidence(args.target.kind, args.target.id), pinned, io, args.json);
  if (pinned === undefined) throw new UsageError("--key: required to check the server's checkpoint (the log verifier key you trust)");
  if (args.from === undefined) {
    const opened = openCheckpoint(await client.checkpoint(), pinned);
    const success = opened.ok ? `ok: the server's latest checkpoint is signed by ${pinned.keyName}: tree size ${opened.checkpoint.treeSize} (${opened.checkpoint.time})` : '';
    return report(opened, success, io, args.json);
  }
  const earlier = readTextFile(args.from, FILE_LIMITS.note);
  if (!earlier.ok) throw new UsageError(`--from: ${earlier.message}`);
  const first = openCheckpoint(earlier.value, pinned);
  if (!first.ok) return report(first, '', io, args.json);
  // The earlier checkpoint is the one kept here, never the server's copy of it: that is what makes this an audit.
  const answer = ConsistencyAnswer.safeParse(await client.consistencyProof(String(first.checkpoint.treeSize)));
  if (!answer.success) {
    io.err(`error: the server's consistency proof is malformed: ${answer.error.issues[0]?.message ?? ''}`);
    return 1;
  }
  const result = verifyConsistency(earlier.value, answer.data.to, answer.data.proof, pinned);
  return report(result, `ok: the server's tree of size ${answer.data.proof.second} extends the tree of size ${answer.data.proof.first}`, io, args.json);
};
