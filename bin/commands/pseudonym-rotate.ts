import type { Command } from 'commander';
import { z } from 'zod';
import { NodeId } from '../../domain/ids.ts';
import { json, type Io } from '../io.ts';
import { printable } from '../printable.ts';
import { EXIT, handler, parseOptions } from '../program.ts';
import { clientOf, serverTarget, ServerOptions, withJson, withServer } from './options.ts';
import { namingUnknownOutcome } from './submit.ts';

const Args = z.object({
  ...ServerOptions,
  json: z.boolean().default(false),
  nodeId: NodeId,
  commandId: z.uuid('must be a UUID').optional(),
});

/**
 * `credence pseudonym rotate <nodeId>`: the node's pseudonym rotated now (POST /v1/pseudonyms/rotations). The server
 * derives the pseudonym with its key (SER-011, SER-025), which no operator holds; the answer names the epoch.
 */
export const addPseudonymRotate = (parent: Command, io: Io): void => {
  const command: Command = withJson(withServer(parent.command('rotate')))
    .description("rotate a node's pseudonym now: the server derives the next one with its pseudonym key")
    .argument('<nodeId>', 'the node')
    .option('--command-id <uuid>', 'idempotency key: the same id again answers the first rotation and appends nothing (default: a new UUID)');
  command.action(
    handler(io, async (nodeId: string, opts: Record<string, unknown>) => {
      const args = parseOptions(command, Args, { ...opts, nodeId });
      const commandId = args.commandId ?? crypto.randomUUID();
      const answer = await namingUnknownOutcome(io, commandId, clientOf(serverTarget(args, io)).rotatePseudonym({ nodeId: args.nodeId, commandId }));
      io.out(
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
