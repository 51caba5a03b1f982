import type { Command } from 'commander';
import { z } from 'zod';
import { NodeId } from '../../domain/ids.ts';
import { json, type Io } from '../io.ts';
import { printable } from '../printable.ts';
import { EXIT, handler, parseOptions } from '../program.ts';
import { clientOf, NewCommandIdArg, serverTarget, ServerOptions, withJson, withServer } from './options.ts';
import { namingUnknownOutcome, printRecordedOutcome, signedOnce, SigningOptions, signingOptionIssues, withSigningOptions } from './submit.ts';

const Args = z
  .object({
    ...ServerOptions,
    json: z.boolean().default(false),
    nodeId: NodeId,
    commandId: NewCommandIdArg.optional(),
    ...SigningOptions,
  })
  .superRefine(signingOptionIssues);

/**
 * `credence pseudonym rotate <nodeId>`: the node's pseudonym rotated now (POST /v1/pseudonyms/rotations). The server
 * derives the pseudonym with its key (SER-011, SER-025), which no operator holds; the answer names the epoch. With
 * --sign-key it is signed as the operator (SER-016), as a signing policy may require: over the node asked for, since
 * the pseudonym and epoch are the server's to derive (domain/signing/payload.ts; before, no rotation could be signed).
 */
export const addPseudonymRotate = (parent: Command, io: Io): void => {
  const command: Command = withSigningOptions(withJson(withServer(parent.command('rotate'))))
    .description("rotate a node's pseudonym now: the server derives the next one with its pseudonym key")
    .argument('<nodeId>', 'the node')
    .option('--command-id <uuid>', 'idempotency key: the same id again answers the first rotation and appends nothing (default: a new UUID)');
  command.action(
    handler(io, async (nodeId: string, opts: Record<string, unknown>) => {
      const args = parseOptions(command, Args, { ...opts, nodeId });
      const target = serverTarget(args, io);
      const commandId = args.commandId ?? crypto.randomUUID();
      const data = { nodeId: args.nodeId };
      // The server records the token's subject as an operator: the signature covers that command, less what it derives.
      const signature = signedOnce(args, target.token, 'operator', { type: 'rotatePseudonym', data, metadata: { commandId } });
      const answer = await namingUnknownOutcome(
        io,
        commandId,
        clientOf(target).rotatePseudonym({ ...data, commandId, ...(signature !== undefined ? { signature } : {}) }),
      );
      printRecordedOutcome(
        io,
        { type: 'rotatePseudonym', commandId, at: `epoch ${answer.epoch}` },
        args.json
          ? json(answer)
          : printable(
              answer.deduplicated
                ? `pseudonym of ${answer.nodeId}: epoch ${answer.epoch} (this command id was already done; nothing appended)`
                : `pseudonym of ${answer.nodeId} rotated: now epoch ${answer.epoch}`,
            ),
      );
      return EXIT.done;
    }),
  );
};
